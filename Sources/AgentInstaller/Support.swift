import Crypto
import Foundation
import PKI
import SwiftASN1
import X509

/// Runs blocking work (libssh2) on a thread of its own, never on the cooperative pool or a NIO
/// event loop, and resumes the caller when it is done.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Lowercase hex SHA-256, as `sha256sum` prints it.
func sha256Hex(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// `'text'` for a POSIX shell.
func shq(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
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
          ca.certificate.publicKey.isValidSignature(cert.signature, for: cert) else { return false }
    guard cert.notValidBefore <= now, cert.notValidAfter > now.addingTimeInterval(30 * 86_400) else { return false }
    guard let sans = try? cert.extensions.subjectAlternativeNames else { return false }
    var present = Set<String>()
    for name in sans {
        switch name {
        case .dnsName(let dns): present.insert(dns.lowercased())
        case .ipAddress(let octets): if let ip = ipString(Array(octets.bytes)) { present.insert(ip) }
        default: break
        }
    }
    return names.allSatisfy { present.contains(normalizedName($0)) }
}

/// IP literals in canonical form, DNS names lower-cased.
func normalizedName(_ name: String) -> String {
    var v4 = in_addr(), v6 = in6_addr()
    if inet_pton(AF_INET, name, &v4) == 1 { return withUnsafeBytes(of: &v4) { ipString(Array($0)) } ?? name }
    if inet_pton(AF_INET6, name, &v6) == 1 { return withUnsafeBytes(of: &v6) { ipString(Array($0)) } ?? name }
    return name.lowercased()
}

func ipString(_ bytes: [UInt8]) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    let family = bytes.count == 4 ? AF_INET : bytes.count == 16 ? AF_INET6 : -1
    guard family != -1 else { return nil }
    let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
    guard ok else { return nil }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
