/// A resolver option for dockerd's `--dns-opt`, from resolv.conf(5)'s `options` list only:
/// `ndots:N` (0…15), `timeout:N` (1…30), `attempts:N` (1…5) and the flags `rotate`, `edns0`,
/// `single-request`, `single-request-reopen`, `no-tld-query`, `use-vc`, `no-reload`, `trust-ad`,
/// `inet6`, `debug`, `no-aaaa`, `ip6-bytestring`, `ip6-dotint`, `no-ip6-dotint`.
public struct DNSOption: Hashable, Sendable, CustomStringConvertible {
    /// The option as written in resolv.conf, e.g. `ndots:2`.
    public let text: String

    /// The options that take a number, with the range glibc accepts.
    public static let numericOptions: [(name: String, range: ClosedRange<Int>)] = [
        ("ndots", 0...15), ("timeout", 1...30), ("attempts", 1...5),
    ]
    /// The options that stand alone.
    public static let flagOptions: [String] = [
        "rotate", "edns0", "single-request", "single-request-reopen", "no-tld-query", "use-vc",
        "no-reload", "trust-ad", "inet6", "debug", "no-aaaa", "ip6-bytestring", "ip6-dotint",
        "no-ip6-dotint",
    ]

    /// Validates `text` against the resolv.conf option list.
    public init(_ text: String) throws(DNSValueError) {
        func reject(_ reason: String) -> DNSValueError {
            DNSValueError(field: "dns option", value: text, reason: reason)
        }
        if let reason = ValueSafety.smugglingReason(text) { throw reject(reason) }
        if Self.flagOptions.contains(text) {
            self.text = text
            return
        }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2, let option = Self.numericOptions.first(where: { $0.name == parts[0] }) {
            let digits = parts[1]
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                digits.count == 1 || digits.first != "0", let value = Int(digits)
            else {
                throw reject("\(option.name) needs a whole number (\(option.name):N, N in \(option.range.lowerBound)…\(option.range.upperBound))")
            }
            guard option.range.contains(value) else {
                throw reject("\(option.name) must be in \(option.range.lowerBound)…\(option.range.upperBound)")
            }
            self.text = text
            return
        }
        if Self.numericOptions.contains(where: { $0.name == text }) {
            throw reject("\(text) needs a value, e.g. \(text):2")
        }
        let known = Self.numericOptions.map { "\($0.name):N" } + Self.flagOptions
        throw reject("is not a resolv.conf option; known options: \(known.joined(separator: ", "))")
    }

    /// The option's name without its value (`ndots` for `ndots:2`).
    public var name: String {
        text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? text
    }

    public var description: String { text }
}
