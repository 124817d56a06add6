import JSONScanning

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Docker's `daemon.json`, read for the settings BoK cares about (`dns`, `dns-search`, `dns-opts`,
/// `live-restore`) and edited without losing any other key.
///
/// dockerd refuses to start when a directive is set both as a flag and in this file — even with
/// equal values — so the DNS settings live in exactly one of the two places (see
/// `DockerConfigConflict`). Note the plural key `dns-opts`: a `dns-opt` key is accepted by dockerd
/// and silently ignored.
public struct DaemonJSON: Sendable {
    /// The keys holding DNS settings, in the order `dnsDirectives` reports them.
    public static let dnsKeys = ["dns", "dns-search", "dns-opts"]

    public let path: String
    /// False when there was no file (or an empty one).
    public let exists: Bool
    let original: Data
    let root: [(key: String, value: JSONValue)]

    /// The DNS settings the file holds.
    public let dns: RawDNS
    /// Which of `dns`, `dns-search`, `dns-opts` the file sets.
    public let dnsDirectives: [String]
    /// The `live-restore` setting; nil when the file does not set it (dockerd's default: off).
    public let liveRestore: Bool?
    /// Every top-level key, in file order.
    public let keys: [String]
    /// Things the file does that probably are not what was meant.
    public let warnings: [String]

    /// The 1-based line and column of a byte offset, for messages.
    static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    /// Parses the file's contents; nil or empty (or only whitespace) data stands for no file.
    public static func parse(_ data: Data?, path: String) throws(DaemonJSONError) -> DaemonJSON {
        let data = data ?? Data()
        let bytes = [UInt8](data)
        if bytes.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            return DaemonJSON(path: path, exists: false, original: data, root: [])
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw DaemonJSONError(
                path: path, line: 1, column: 1,
                problem: "is not valid JSON: starts with a UTF-8 byte-order mark, which JSON does not allow",
                remedy: "Fix the file (dockerd cannot start with it either)")
        }
        let value: JSONValue
        do {
            value = try JSONScanner.parse(bytes, as: JSONValue.self)
        } catch {
            let (line, column) = Self.lineAndColumn(of: error.offset, in: bytes)
            throw DaemonJSONError(
                path: path, line: line, column: column, problem: "is not valid JSON: \(error.reason)",
                remedy: "Fix the file (dockerd cannot start with it either)")
        }
        guard case .object(let members) = value else {
            throw DaemonJSONError(
                path: path, line: 1, column: 1, problem: "must hold a JSON object ({ … }) at the top level",
                remedy: "Fix the file (dockerd cannot start with it either)")
        }
        for key in dnsKeys {
            if let found = value[key], found.stringArray == nil {
                throw DaemonJSONError(
                    path: path, line: nil, column: nil, problem: "\"\(key)\" must be a list of strings",
                    remedy: "Write it as \"\(key)\": [\"…\", …] (dockerd cannot start with it as it is)")
            }
        }
        if let found = value["live-restore"] {
            guard case .bool = found else {
                throw DaemonJSONError(
                    path: path, line: nil, column: nil, problem: "\"live-restore\" must be true or false",
                    remedy: "Write it as \"live-restore\": true (dockerd cannot start with it as it is)")
            }
        }
        return DaemonJSON(path: path, exists: true, original: data, root: members)
    }

    private init(path: String, exists: Bool, original: Data, root: [(key: String, value: JSONValue)]) {
        self.path = path
        self.exists = exists
        self.original = original
        self.root = root
        let object = JSONValue.object(root)
        dns = RawDNS(
            nameservers: object["dns"]?.stringArray ?? [], search: object["dns-search"]?.stringArray ?? [],
            options: object["dns-opts"]?.stringArray ?? [])
        dnsDirectives = Self.dnsKeys.filter { object[$0] != nil }
        if case .bool(let on)? = object["live-restore"] { liveRestore = on } else { liveRestore = nil }
        var keys: [String] = []
        for member in root where !keys.contains(member.key) { keys.append(member.key) }
        self.keys = keys

        var warnings: [String] = []
        if object["dns-opt"] != nil {
            warnings.append("\(path) sets \"dns-opt\", which dockerd silently ignores: the key for resolver options is \"dns-opts\"")
        }
        for key in keys {
            let count = root.filter { $0.key == key }.count
            if count > 1 { warnings.append("\(path) sets \"\(key)\" \(count) times; dockerd uses the last one") }
        }
        if dns.nameservers.count > DNSSettings.maximumNameservers {
            warnings.append(
                "\(path) lists \(dns.nameservers.count) nameservers under \"dns\"; glibc uses only the first \(DNSSettings.maximumNameservers)")
        }
        self.warnings = warnings
    }

    /// The file with `dns`, `dns-search` and `dns-opts` set to `settings` (an empty list removes
    /// its key), every other key kept. Unchanged when the file already holds these settings;
    /// otherwise written normalised (two-space indent, sorted keys, trailing newline).
    public func applying(_ settings: DNSSettings) throws -> DaemonJSONEdit {
        try settings.checkLimits()
        if dns == settings.raw { return unchanged }
        var members = root.filter { !Self.dnsKeys.contains($0.key) }
        members.append(("dns", .array(settings.nameservers.map { .string($0.address) })))
        if !settings.search.isEmpty { members.append(("dns-search", .array(settings.search.map { .string($0.name) }))) }
        if !settings.options.isEmpty { members.append(("dns-opts", .array(settings.options.map { .string($0.text) }))) }
        return edit(members)
    }

    /// The file without `dns`, `dns-search` and `dns-opts` (for when the DNS settings move to
    /// dockerd's flags). Unchanged when it sets none of them.
    public func removingDNS() -> DaemonJSONEdit {
        if dnsDirectives.isEmpty { return unchanged }
        return edit(root.filter { !Self.dnsKeys.contains($0.key) })
    }

    /// The file with `live-restore` set (dockerd applies it on SIGHUP, without a restart, and with
    /// it running containers survive a dockerd restart). Unchanged when it is already so.
    public func settingLiveRestore(_ on: Bool) throws -> DaemonJSONEdit {
        if liveRestore == on { return unchanged }
        var members = root.filter { $0.key != "live-restore" }
        members.append(("live-restore", .bool(on)))
        return edit(members)
    }

    private var unchanged: DaemonJSONEdit {
        DaemonJSONEdit(path: path, original: original, updated: original)
    }

    private func edit(_ members: [(key: String, value: JSONValue)]) -> DaemonJSONEdit {
        DaemonJSONEdit(path: path, original: original, updated: Data(JSONValue.object(members).serialized().utf8))
    }
}

/// A planned change to daemon.json.
public struct DaemonJSONEdit: Sendable, Equatable {
    public let path: String
    public let original: Data
    public let updated: Data

    public init(path: String, original: Data, updated: Data) {
        self.path = path
        self.original = original
        self.updated = updated
    }

    /// False when applying would write exactly the bytes already there.
    public var changed: Bool { original != updated }

    /// A unified diff from the file as it is to the file as it would be; "" when unchanged.
    public var diff: String {
        UnifiedDiff.make(
            old: String(decoding: original, as: UTF8.self), new: String(decoding: updated, as: UTF8.self),
            oldLabel: path, newLabel: "\(path) (planned)")
    }
}

/// Why daemon.json could not be read: which file, where, what is wrong and what to do.
public struct DaemonJSONError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let line: Int?
    public let column: Int?
    public let problem: String
    public let remedy: String

    public init(path: String, line: Int?, column: Int?, problem: String, remedy: String) {
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String {
        var location = path
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return "\(location): \(problem). \(remedy)"
    }
}

/// Finds the DNS directives dockerd would see twice — as a flag and in daemon.json — which makes
/// it refuse to start ("the following directives are specified both as a flag and in the
/// configuration file"), even when both say the same.
public enum DockerConfigConflict {
    /// One sentence per conflicting directive; empty when there is none. `flags` is a dockerd
    /// argv or the tokens of `DOCKER_OPTS`.
    public static func conflicts(flags: [String], daemonJSON: DaemonJSON) -> [String] {
        let scan = DNSFlagScan(flags)
        // dockerd matches a flag against both its own name and its option name: --dns-opt
        // collides with "dns-opts" and with the (otherwise ignored) "dns-opt".
        let pairs: [(kind: DNSFlagScan.Kind, key: String)] = [
            (.nameserver, "dns"), (.search, "dns-search"), (.option, "dns-opts"), (.option, "dns-opt"),
        ]
        var sentences: [String] = []
        for (kind, key) in pairs where daemonJSON.keys.contains(key) {
            guard let occurrence = scan.occurrences.first(where: { $0.kind == kind }) else { continue }
            let flag = occurrence.value.map { "\(kind.flag)=\($0)" } ?? kind.flag
            sentences.append(
                "\"\(key)\" is set both by the flag \(flag) and in \(daemonJSON.path); dockerd refuses to start when a directive is given in both places, even with equal values — keep it in one of them"
            )
        }
        return sentences
    }
}
