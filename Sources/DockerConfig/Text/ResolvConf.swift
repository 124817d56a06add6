/// The DNS settings in a resolv.conf (a container's, or the host's), read the way glibc does:
/// `nameserver` lines in order, `search`/`domain` with the last one winning, `options` added up.
public struct ResolvConf: Sendable, Equatable {
    /// Every nameserver listed, in order (glibc uses only the first three).
    public var nameservers: [String]
    /// The search list from the last `search` or `domain` line.
    public var search: [String]
    /// All options from all `options` lines, in order.
    public var options: [String]

    public init(nameservers: [String] = [], search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    public static func parse(_ text: String) -> ResolvConf {
        var result = ResolvConf()
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let keyword = words.first else { continue }
            let arguments = Array(words.dropFirst())
            switch keyword {
            case "nameserver":
                if let address = arguments.first { result.nameservers.append(address) }
            case "search":
                result.search = arguments
            case "domain":
                result.search = arguments.first.map { [$0] } ?? []
            case "options":
                result.options += arguments
            default:
                continue
            }
        }
        return result
    }

    /// The same values as `RawDNS`, for comparison with dockerd's flags.
    public var raw: RawDNS { RawDNS(nameservers: nameservers, search: search, options: options) }
}
