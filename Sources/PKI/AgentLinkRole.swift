import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Roles on the coordinator↔agent link, carried in certificates from the coordinator's CA.
///
/// Encoding (one, documented in docs/security.md): a URI SubjectAlternativeName.
/// * Coordinator certificate: EKU clientAuth only, URI SAN `bok:role:coordinator`. Agents serve only these.
/// * Agent certificate: EKU serverAuth only, URI SAN `bok:role:agent`, DNS SAN = node name, IP SANs = its
///   addresses. It opens nothing as a client: no agent accepts it, because it lacks clientAuth and the role.
public enum AgentLinkRole: String, Sendable, CaseIterable, Codable {
    case coordinator
    case agent

    public static let uriScheme = "bok"
    public var uri: String { "\(Self.uriScheme):role:\(rawValue)" }

    /// The role a certificate carries (nil: none, or more than one — both are refused).
    public static func of(_ certificate: Certificate) -> AgentLinkRole? {
        let roles = Set(CertificateFacts(certificate).uris.compactMap { uri in allCases.first { $0.uri == uri } })
        return roles.count == 1 ? roles.first : nil
    }
}

/// What BoK reads out of a certificate on the agent link (pure; no verification of the chain).
public struct CertificateFacts: Sendable, Equatable {
    public let serial: String
    public let subject: String
    public let commonName: String?
    public let dnsNames: [String]
    public let ipAddresses: [String]
    public let uris: [String]
    public let serverAuth: Bool
    public let clientAuth: Bool
    public let hasExtendedKeyUsage: Bool
    public let isCA: Bool
    public let notAfter: Date
    public let notBefore: Date

    public init(_ certificate: Certificate) {
        serial = Self.hex(certificate.serialNumber.bytes)
        subject = certificate.subject.description
        commonName = certificate.subject.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }.flatMap { String($0.value) }
        var dns: [String] = []
        var ips: [String] = []
        var uris: [String] = []
        if let sans = try? certificate.extensions.subjectAlternativeNames {
            for name in sans {
                switch name {
                case .dnsName(let n): dns.append(n)
                case .uniformResourceIdentifier(let u): uris.append(u)
                case .ipAddress(let octets): ips.append(Self.ipText(Array(octets.bytes)))
                default: break
                }
            }
        }
        dnsNames = dns
        ipAddresses = ips
        self.uris = uris
        let eku = try? certificate.extensions.extendedKeyUsage
        hasExtendedKeyUsage = eku != nil
        serverAuth = eku?.contains(.serverAuth) ?? false
        clientAuth = eku?.contains(.clientAuth) ?? false
        if case .isCertificateAuthority(_)? = try? certificate.extensions.basicConstraints { isCA = true } else { isCA = false }
        notAfter = certificate.notValidAfter
        notBefore = certificate.notValidBefore
    }

    /// Parses DER (e.g. the peer certificate of a TLS connection).
    public init(der: [UInt8]) throws {
        self.init(try Certificate(derEncoded: der))
    }

    /// Lower-case hex without separators: how BoK prints and compares serial numbers.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        var start = 0
        while out.count - start > 2 && out[start] == UInt8(ascii: "0") && out[start + 1] == UInt8(ascii: "0") { start += 2 }
        return String(decoding: out[start...], as: UTF8.self)
    }

    /// Normalises a serial typed by a person (`0A:1b…`, `0x0a1b`) to ``hex(_:)``'s form; nil when not hex.
    public static func normalizeSerial(_ text: String) -> String? {
        var t = String(text.lowercased().filter { $0 != ":" })
        if t.hasPrefix("0x") { t.removeFirst(2) }
        guard !t.isEmpty, t.count <= 64, t.allSatisfy(\.isHexDigit) else { return nil }
        if t.count % 2 == 1 { t = "0" + t }
        while t.hasPrefix("00") && t.count > 2 { t.removeFirst(2) }
        return t
    }

    static func ipText(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        var addr = in6_addr()
        withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: bytes) }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
