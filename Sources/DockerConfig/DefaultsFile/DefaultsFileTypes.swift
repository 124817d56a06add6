#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A planned change to a Docker defaults file: the bytes before and after, what was repaired on the
/// way, and what was noticed but deliberately left alone.
public struct DefaultsFileEdit: Sendable, Equatable {
    public let path: String
    public let original: Data
    public let updated: Data
    /// Hazards the edit fixed, one sentence each (line number first).
    public let repairs: [String]
    /// What the operator should know but the edit did not change (other lines' hazards, several
    /// `DOCKER_OPTS` lines, …).
    public let warnings: [String]

    public init(path: String, original: Data, updated: Data, repairs: [String], warnings: [String]) {
        self.path = path
        self.original = original
        self.updated = updated
        self.repairs = repairs
        self.warnings = warnings
    }

    /// False when applying would write exactly the bytes already there: nothing to write, nothing
    /// to restart.
    public var changed: Bool { original != updated }

    /// A unified diff from the file as it is to the file as it would be; "" when unchanged.
    public var diff: String {
        UnifiedDiff.make(
            old: String(decoding: original, as: UTF8.self), new: String(decoding: updated, as: UTF8.self),
            oldLabel: path, newLabel: "\(path) (planned)")
    }
}

/// A shape in a defaults file that `sh` and systemd read differently (or that one of them cannot
/// read at all), found when the file is parsed.
///
/// `repairable` findings are fixed by `applying(_:)`; `blocksApply` findings make it refuse;
/// findings that are neither concern lines BoK does not edit and are reported as warnings.
public struct DefaultsFileFinding: Sendable, Equatable, CustomStringConvertible {
    /// 1-based physical line number.
    public let line: Int
    /// A stable identifier: `bom`, `crlf`, `export`, `self-reference`, `expansion`,
    /// `inline-comment`, `comment-continuation`, `spaces-around-equals`, `unquoted-spaces`,
    /// `single-quotes`, `line-continuation`, `dangling-dns-flag`, `unsafe-token`,
    /// `several-assignments`, `unparseable`, `unterminated-quote`, `export-fails`.
    public let kind: String
    /// What is wrong, and why it matters, in one sentence.
    public let message: String
    /// `applying(_:)` fixes it (and says so in `DefaultsFileEdit.repairs`).
    public let repairable: Bool
    /// `applying(_:)` refuses while it is there.
    public let blocksApply: Bool

    public init(line: Int, kind: String, message: String, repairable: Bool, blocksApply: Bool = false) {
        self.line = line
        self.kind = kind
        self.message = message
        self.repairable = repairable
        self.blocksApply = blocksApply
    }

    public var description: String { "line \(line): \(message)" }
}

/// Why a defaults file could not be read or edited: which file, which line, what is wrong, and what
/// to do about it.
public struct DefaultsFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    /// 1-based line number, when the problem is on one line.
    public let line: Int?
    /// What is wrong.
    public let problem: String
    /// What the operator can do about it.
    public let remedy: String

    public init(path: String, line: Int?, problem: String, remedy: String) {
        self.path = path
        self.line = line
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String {
        let location = line.map { "\(path):\($0)" } ?? path
        return "\(location): \(problem). \(remedy)"
    }
}
