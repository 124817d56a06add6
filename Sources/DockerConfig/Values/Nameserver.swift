import BoKSystem

/// A DNS server address for dockerd's `--dns`: an IPv4 or IPv6 literal and nothing else (no zone
/// id, no port, no brackets, no host name). IPv6 addresses are kept in their canonical RFC 5952
/// form, so two spellings of the same address compare equal.
public struct Nameserver: Hashable, Sendable, CustomStringConvertible {
    /// The address in canonical text form, e.g. `10.0.0.10` or `fd00::a`.
    public let address: String

    /// Validates `text` as an IP literal.
    public init(_ text: String) throws(DNSValueError) {
        func reject(_ reason: String) -> DNSValueError {
            DNSValueError(field: "nameserver", value: text, reason: reason)
        }
        if text.hasPrefix("[") {
            throw reject("brackets and ports are not allowed: give the bare address (e.g. ::1)")
        }
        if let reason = ValueSafety.smugglingReason(text) { throw reject(reason) }
        if text.contains("%") {
            throw reject("zone ids (%…) are not allowed: resolv.conf needs a plain IPv4 or IPv6 address")
        }
        if IPAddressLiteral.parseIPv4(text) != nil {
            address = text
            return
        }
        if text.contains(":"), let bytes = IPAddressLiteral.parseIPv6(text) {
            address = IPAddressLiteral.formatIPv6(bytes)
            return
        }
        if let colon = text.lastIndex(of: ":"), IPAddressLiteral.parseIPv4(text[..<colon]) != nil {
            throw reject("ports are not allowed: resolv.conf always uses port 53; give the bare address")
        }
        if text.contains(where: \.isLetter) && !text.contains(":") {
            throw reject("is not an IP address: a nameserver must be an IPv4 or IPv6 literal, not a host name")
        }
        throw reject("is not a valid IPv4 or IPv6 address")
    }

    /// Whether the address is IPv6.
    public var isIPv6: Bool { address.contains(":") }

    public var description: String { address }
}
