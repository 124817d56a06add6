#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Reads the DNS flags out of a dockerd command line (`/proc/<pid>/cmdline` of the running daemon,
/// or the tokens of `DOCKER_OPTS`), accepting every form dockerd accepts: `--dns x`, `--dns=x`,
/// `--dns-search x`, `--dns-search=x`, `--dns-opt x`, `--dns-opt=x`.
public enum DockerdArguments {
    /// The DNS values in `argv`, in order. Flags after a `--` are not flags and are not read; a DNS
    /// flag followed by another flag (`--dns --mtu=1472`) has no value and is skipped.
    public static func dns(fromArgv argv: [String]) -> RawDNS {
        DNSFlagScan(argv).values
    }

    /// `/proc/<pid>/cmdline` is NUL-separated with a trailing NUL.
    public static func argv(fromProcCmdline data: Data) -> [String] {
        var parts = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }
}

/// The DNS flags found in a token list, where they are, and what is left without them.
struct DNSFlagScan {
    enum Kind: CaseIterable {
        case nameserver, search, option

        var flag: String {
            switch self {
            case .nameserver: return "--dns"
            case .search: return "--dns-search"
            case .option: return "--dns-opt"
            }
        }
    }

    struct Occurrence {
        let kind: Kind
        /// nil for a flag with no value after it (`--dns` last, or followed by another flag).
        let value: String?
        /// The token indices the flag occupies (one for `--dns=x`, two for `--dns x`).
        let tokens: Range<Int>
    }

    let tokens: [String]
    private(set) var occurrences: [Occurrence] = []

    init(_ tokens: [String]) {
        self.tokens = tokens
        var index = 0
        scan: while index < tokens.count {
            let token = tokens[index]
            if token == "--" { break scan }
            for kind in Kind.allCases {
                if token == kind.flag {
                    // `--dns --mtu=1472`: the value was forgotten; the next token is another flag,
                    // which must survive an edit (dockerd itself would refuse to start).
                    var value = index + 1 < tokens.count ? tokens[index + 1] : nil
                    if let next = value, next.count > 1, next.hasPrefix("-") { value = nil }
                    let width = value == nil ? 1 : 2
                    occurrences.append(Occurrence(kind: kind, value: value, tokens: index..<(index + width)))
                    index += width
                    continue scan
                }
                if token.hasPrefix(kind.flag + "=") {
                    occurrences.append(
                        Occurrence(
                            kind: kind, value: String(token.dropFirst(kind.flag.count + 1)),
                            tokens: index..<(index + 1)))
                    index += 1
                    continue scan
                }
            }
            index += 1
        }
    }

    var values: RawDNS {
        var raw = RawDNS()
        for occurrence in occurrences {
            guard let value = occurrence.value else { continue }
            switch occurrence.kind {
            case .nameserver: raw.nameservers.append(value)
            case .search: raw.search.append(value)
            case .option: raw.options.append(value)
            }
        }
        return raw
    }

    var hasDanglingFlag: Bool { occurrences.contains { $0.value == nil } }

    /// The tokens with every DNS flag removed, and where the first DNS flag was among them.
    var withoutDNS: (tokens: [String], firstDNSPosition: Int?) {
        var dnsIndices = Set<Int>()
        for occurrence in occurrences { dnsIndices.formUnion(occurrence.tokens) }
        var kept: [String] = []
        var first: Int?
        for (index, token) in tokens.enumerated() {
            if dnsIndices.contains(index) {
                if first == nil { first = kept.count }
            } else {
                kept.append(token)
            }
        }
        return (kept, first)
    }
}
