#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `/etc/default/docker` (or any file of the same shape): parsed, edited, never regenerated.
///
/// The file is read by two different parsers — `sh` (the sysvinit/upstart script, or BoK's lab,
/// sources it) and systemd (`EnvironmentFile=`) — and several common shapes break one of them
/// silently. Parsing records those shapes as `findings`; `applying(_:)` changes only the DNS flags
/// of the effective `DOCKER_OPTS` assignment, repairs the hazards on that line (saying so), refuses
/// where it cannot be sure, and leaves every other byte of the file as it was.
///
/// Where a line is one that `sh` cannot execute but systemd reads (spaces around `=`, an unquoted
/// value with spaces), its value is taken the way systemd reads it — that is what the admin meant,
/// and what `applying(_:)` keeps.
public struct DockerDefaultsFile: Sendable {
    /// The variable holding dockerd's options.
    public static let variableName = "DOCKER_OPTS"
    /// Larger files are refused: a defaults file is a few dozen lines.
    public static let maximumSize = 1 << 20

    public let path: String
    let original: Data
    let lines: [DefaultsFileLine]
    let hasBOM: Bool
    let source: ShellSource
    let effective: EffectiveAssignment?
    let hazards: [DefaultsFileHazard]
    /// For each physical line: old systemd joins the next line to it (a comment ending in `\`).
    let continuesIntoNext: [Bool]

    /// The tokens of the effective `DOCKER_OPTS`, as `sh` splits `$DOCKER_OPTS`; nil when no line
    /// sets `DOCKER_OPTS`.
    public let effectiveDockerOpts: [String]?

    /// The DNS flags in the effective `DOCKER_OPTS`, in order, unvalidated.
    public var currentDNS: RawDNS { DNSFlagScan(effectiveDockerOpts ?? []).values }

    /// The hazards found in the file (see `DefaultsFileFinding`), in line order.
    public var findings: [DefaultsFileFinding] { hazards.map(\.finding) }

    /// The 1-based line numbers the effective `DOCKER_OPTS` assignment spans; nil when there is none.
    public var effectiveLines: ClosedRange<Int>? {
        effective.map { ($0.assignment.firstLine + 1)...($0.assignment.lastLine + 1) }
    }

    /// Parses `data`; empty data stands for a missing or empty file. Throws only for data that is
    /// not a shell variables file at all (binary, or larger than `maximumSize`); everything else is
    /// reported through `findings`.
    public static func parse(_ data: Data, path: String) throws(DefaultsFileError) -> DockerDefaultsFile {
        if data.count > maximumSize {
            throw DefaultsFileError(
                path: path, line: nil, problem: "is \(data.count) bytes long, more than the \(maximumSize) a defaults file can sensibly be",
                remedy: "Check that the configured path really is Docker's defaults file")
        }
        if let nul = data.firstIndex(of: 0) {
            let line = data[data.startIndex..<nul].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            throw DefaultsFileError(
                path: path, line: line, problem: "contains a NUL byte, so it is not a text file",
                remedy: "Check that the configured path really is Docker's defaults file")
        }
        return DockerDefaultsFile(data: data, path: path)
    }

    private init(data: Data, path: String) {
        self.path = path
        self.original = data
        let bytes = [UInt8](data)
        let hasBOM = bytes.starts(with: [0xEF, 0xBB, 0xBF])
        self.hasBOM = hasBOM
        let lines = DefaultsFileLine.split(bytes)
        self.lines = lines

        var normalized: [UInt8] = []
        var lineStarts: [Int] = []
        normalized.reserveCapacity(bytes.count)
        for line in lines {
            lineStarts.append(normalized.count)
            normalized.append(contentsOf: bytes[max(line.start, hasBOM ? 3 : 0)..<line.contentEnd])
            if line.hasTerminator { normalized.append(0x0A) }
        }
        if lineStarts.isEmpty { lineStarts = [0] }
        let source = ShellSource(bytes: normalized, lineStarts: lineStarts)
        self.source = source

        var continues: [Bool] = []
        var inComment = false
        for index in lines.indices {
            let content = source.content(ofLine: index)
            let first = content.first(where: { $0 != 0x20 && $0 != 0x09 })
            let startsComment = first == UInt8(ascii: "#") || first == UInt8(ascii: ";")
            let continuesHere = (inComment || startsComment) && content.last == UInt8(ascii: "\\")
            continues.append(continuesHere)
            inComment = continuesHere
        }
        self.continuesIntoNext = continues

        let analysis = DefaultsFileAnalysis(
            commands: ShellSubsetLexer.lex(source), source: source, lines: lines, hasBOM: hasBOM,
            continuesIntoNext: continues)
        self.effective = analysis.effective
        self.hazards = analysis.hazards
        self.effectiveDockerOpts = analysis.effective.map { Self.splitFields($0.value) }
    }

    /// Splits a value on sh's default IFS (space, tab, newline).
    static func splitFields(_ value: String) -> [String] {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    // MARK: - Editing

    /// The file with its effective `DOCKER_OPTS` carrying exactly `settings` as DNS flags.
    ///
    /// Other flags keep their values and order; the DNS flags go where the first old DNS flag was
    /// (or at the end); with no `DOCKER_OPTS` line, one is appended. Applying settings the file
    /// already has returns an unchanged edit (`changed == false`).
    public func applying(_ settings: DNSSettings) throws(DefaultsFileError) -> DefaultsFileEdit {
        do {
            try settings.checkLimits()
        } catch {
            throw DefaultsFileError(
                path: path, line: nil, problem: "the DNS settings are not valid: \(error)",
                remedy: "Fix the settings; nothing was written")
        }
        try refuseIfBlocked()
        guard let effective else { return appending(settings) }
        let scan = DNSFlagScan(effectiveDockerOpts ?? [])
        let (kept, firstDNS) = scan.withoutDNS
        var tokens = kept
        tokens.insert(contentsOf: settings.dockerFlags, at: firstDNS ?? kept.count)
        let dnsDiffers = scan.values != settings.raw || scan.hasDanglingFlag
        return rewriting(effective, tokens: tokens, needed: dnsDiffers)
    }

    /// The file with every DNS flag removed from the effective `DOCKER_OPTS` (for when the DNS
    /// settings move to `daemon.json`, where a flag and a key for the same directive would stop
    /// dockerd from starting). Unchanged when there is none.
    public func removingDNS() throws(DefaultsFileError) -> DefaultsFileEdit {
        try refuseIfBlocked()
        guard let effective else {
            return DefaultsFileEdit(path: path, original: original, updated: original, repairs: [], warnings: warnings)
        }
        let scan = DNSFlagScan(effectiveDockerOpts ?? [])
        return rewriting(effective, tokens: scan.withoutDNS.tokens, needed: !scan.occurrences.isEmpty)
    }

    private func refuseIfBlocked() throws(DefaultsFileError) {
        if let blocking = hazards.first(where: { $0.finding.blocksApply }) {
            throw DefaultsFileError(
                path: path, line: blocking.finding.line, problem: blocking.finding.message,
                remedy: blocking.remedy ?? "Fix this line by hand; nothing was written")
        }
    }

    /// The findings apply neither repairs nor refuses over, as sentences.
    private var warnings: [String] {
        hazards.filter { !$0.finding.repairable && !$0.finding.blocksApply }.map { $0.finding.description }
    }

    private var bodyStart: Int { hasBOM ? 3 : 0 }

    private var bomRepair: [String] {
        hasBOM ? ["line 1: removed the UTF-8 byte-order mark (sh would read it as part of the first line's command)"] : []
    }

    private func rewriting(_ effective: EffectiveAssignment, tokens: [String], needed: Bool) -> DefaultsFileEdit {
        let repairableHazards = hazards.filter { $0.finding.repairable }
        guard needed || !repairableHazards.isEmpty else {
            return DefaultsFileEdit(path: path, original: original, updated: original, repairs: [], warnings: warnings)
        }
        let bytes = [UInt8](original)
        let assignment = effective.assignment
        let firstLine = lines[assignment.firstLine]
        let lastLine = lines[assignment.lastLine]
        let indent = source.content(ofLine: assignment.firstLine).prefix(while: { $0 == 0x20 || $0 == 0x09 })

        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 256)
        if firstLine.start > bodyStart { out.append(contentsOf: bytes[bodyStart..<firstLine.start]) }
        var precedingContinues = assignment.firstLine > 0 && continuesIntoNext[assignment.firstLine - 1]
        if let comment = assignment.inlineComment {
            out.append(contentsOf: indent)
            out.append(contentsOf: comment)
            out.append(0x0A)
            precedingContinues = comment.last == UInt8(ascii: "\\")
        }
        if precedingContinues { out.append(0x0A) }
        out.append(contentsOf: indent)
        out.append(contentsOf: Array(Self.renderAssignment(tokens).utf8))
        if lastLine.hasTerminator { out.append(0x0A) }
        out.append(contentsOf: bytes[lastLine.end...])

        return DefaultsFileEdit(
            path: path, original: original, updated: Data(out),
            repairs: bomRepair + repairableHazards.filter { $0.finding.kind != "bom" }.compactMap(\.repair),
            warnings: warnings)
    }

    private func appending(_ settings: DNSSettings) -> DefaultsFileEdit {
        let bytes = [UInt8](original)
        var out = Array(bytes[min(bodyStart, bytes.count)...])
        var lineEnd: [UInt8] = [0x0A]
        var repairs = bomRepair
        if let last = out.last, last != 0x0A {
            // Keep the file's convention of no newline after its last line.
            out.append(0x0A)
            lineEnd = []
        }
        if let last = lines.indices.last, continuesIntoNext[last] {
            out.append(0x0A)
            repairs.append(
                "line \(last + 1): the comment ends with '\\', so a blank line separates it from the new DOCKER_OPTS line (old systemd would join them)"
            )
        }
        out.append(contentsOf: Array(Self.renderAssignment(settings.dockerFlags).utf8))
        out.append(contentsOf: lineEnd)
        var warnings = self.warnings
        warnings.append(
            bytes.isEmpty
                ? "\(path) was empty or missing: it now holds a single DOCKER_OPTS line"
                : "no line set DOCKER_OPTS: a DOCKER_OPTS line was appended at the end")
        return DefaultsFileEdit(path: path, original: original, updated: Data(out), repairs: repairs, warnings: warnings)
    }

    /// `DOCKER_OPTS="tok1 tok2 …"`: safe for sh and systemd alike because no token holds a quote,
    /// `$`, a backtick, a backslash or a blank (checked at parse time).
    static func renderAssignment(_ tokens: [String]) -> String {
        "\(variableName)=\"\(tokens.joined(separator: " "))\""
    }

    /// Why `token` cannot be written inside `DOCKER_OPTS="…"`, or nil.
    static func unsafeCharacter(in token: String) -> String? {
        for scalar in token.unicodeScalars {
            switch scalar {
            case "\"": return "a double quote"
            case "'": return "a single quote"
            case "$": return "'$'"
            case "`": return "a backtick"
            case "\\": return "a backslash"
            case "\u{FFFD}": return "bytes that are not valid UTF-8"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    return "a control character (U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)))"
                }
            }
        }
        return nil
    }
}

/// One physical line of the file, as byte offsets into the original data.
struct DefaultsFileLine: Sendable {
    let start: Int
    /// End of the content, before `\r\n` or `\n`.
    let contentEnd: Int
    /// End including the line terminator.
    let end: Int
    let hasCR: Bool

    var hasTerminator: Bool { end > contentEnd }

    static func split(_ bytes: [UInt8]) -> [DefaultsFileLine] {
        var lines: [DefaultsFileLine] = []
        var start = 0
        for index in bytes.indices where bytes[index] == 0x0A {
            let hasCR = index > start && bytes[index - 1] == 0x0D
            lines.append(DefaultsFileLine(start: start, contentEnd: hasCR ? index - 1 : index, end: index + 1, hasCR: hasCR))
            start = index + 1
        }
        if start < bytes.count {
            lines.append(DefaultsFileLine(start: start, contentEnd: bytes.count, end: bytes.count, hasCR: false))
        }
        return lines
    }
}

extension ShellSource {
    /// The bytes of a physical line without its terminator (and without a leading BOM).
    func content(ofLine index: Int) -> ArraySlice<UInt8> {
        let start = lineStarts[index]
        var end = index + 1 < lineStarts.count ? lineStarts[index + 1] : bytes.count
        if end > start, bytes[end - 1] == 0x0A { end -= 1 }
        return bytes[start..<end]
    }
}
