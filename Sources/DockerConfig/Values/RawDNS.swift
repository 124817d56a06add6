/// DNS settings as found in a file, an argv or resolv.conf, unvalidated: what IS there, possibly
/// garbage. Turn it into `DNSSettings` with `validated()` before using it as a target.
public struct RawDNS: Equatable, Sendable, Codable {
    public var nameservers: [String]
    public var search: [String]
    public var options: [String]

    public init(nameservers: [String] = [], search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    /// True when no DNS setting is present at all (Docker then copies the host's resolv.conf).
    public var isEmpty: Bool { nameservers.isEmpty && search.isEmpty && options.isEmpty }

    /// Validates these values (see `DNSSettings.init(nameservers:search:options:)`).
    public func validated() throws(DNSValueError) -> DNSSettings {
        try DNSSettings(nameservers: nameservers, search: search, options: options)
    }

    /// Whether these values are exactly the given settings, in the same order.
    public func matches(_ settings: DNSSettings) -> Bool {
        self == settings.raw
    }
}
