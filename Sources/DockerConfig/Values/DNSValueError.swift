/// Why a DNS value (a nameserver, a search domain, a resolver option or a whole set of them) was
/// rejected: which field, the value exactly as given, and what is wrong with it.
///
/// The value is shown escaped (`"1.1.1.1\n--debug"`), so a smuggled newline or quote is visible in
/// a log line or an error response.
public struct DNSValueError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The field that held the value, e.g. `nameservers[1]`, `search[0]` or `options`.
    public let field: String
    /// The rejected value exactly as it was given.
    public let value: String
    /// What is wrong with it and, where useful, what would be accepted.
    public let reason: String

    public init(field: String, value: String, reason: String) {
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String {
        "\(field) \(value.debugDescription) rejected: \(reason)"
    }

    /// The same error, attributed to another field (`nameserver` → `nameservers[2]`).
    func inField(_ field: String) -> DNSValueError {
        DNSValueError(field: field, value: value, reason: reason)
    }
}
