import BoKSystem
import Crypto
import Foundation
import PKI
import SwiftASN1
import X509

/// Lowercase hex SHA-256, as `sha256sum` prints it.
func sha256Hex(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
func yamlString(_ text: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
}

/// Whether an agent certificate already on the node can stay: issued by this CA (signature
/// checked), valid now and for at least 30 more days, and naming the node and its addresses.
func isReusableAgentCertificate(_ pem: String, ca: CertificateAuthority, names: [String], now: Date = Date()) -> Bool {
    guard let cert = try? Certificate(pemEncoded: pem) else { return false }
    guard cert.issuer == ca.certificate.subject,
        ca.certificate.publicKey.isValidSignature(cert.signature, for: cert)
    else { return false }
    guard cert.notValidBefore <= now, cert.notValidAfter > now.addingTimeInterval(30 * 86_400) else { return false }
    guard let sans = try? cert.extensions.subjectAlternativeNames else { return false }
    var present = Set<String>()
    for name in sans {
        switch name {
        case .dnsName(let dns): present.insert(dns.lowercased())
        case .ipAddress(let octets): if let ip = IPAddressLiteral.format(Array(octets.bytes)) { present.insert(ip) }
        default: break
        }
    }
    return names.allSatisfy { present.contains(normalizedName($0)) }
}

/// IP literals in canonical form, DNS names lower-cased.
func normalizedName(_ name: String) -> String {
    IPAddressLiteral.canonical(name) ?? name.lowercased()
}
