import BoKSystem
import Crypto
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

/// A self-signed ECDSA P-256 certificate authority that issues low-S-signed certificates.
///
/// Used for Fabric's per-org CA and TLS CA (cryptogen's profile: 10 years, C/ST/L/O/CN subject, KeyUsage
/// digitalSignature+keyEncipherment+keyCertSign+cRLSign, EKU clientAuth+serverAuth, SKI = SHA-256 of the public
/// point) and for the coordinator↔agent mutual-TLS CA.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    public let privateKey: P256.Signing.PrivateKey

    /// Wraps an existing CA (e.g. read back from disk). Throws when the key does not belong to the certificate.
    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws {
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw PKIError.keyMismatch("the private key does not belong to CA certificate '\(certificate.subject)'")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// Creates a root CA with subject `O=organization, CN=commonName`.
    public static func createRoot(commonName: String, organization: String?, validityDays: Int) throws -> CertificateAuthority {
        let subject = try DistinguishedName {
            if let organization { OrganizationName(organization) }
            CommonName(commonName)
        }
        return try createRoot(subject: subject, privateKey: KeyGeneration.newP256Key(), validityDays: validityDays)
    }

    /// Creates a root CA with any subject and a given key (to keep a key across re-runs).
    public static func createRoot(
        subject: DistinguishedName, privateKey: P256.Signing.PrivateKey, validityDays: Int, notBefore: Date? = nil
    ) throws -> CertificateAuthority {
        let start = notBefore ?? defaultNotBefore()
        let ski = subjectKeyIdentifier(privateKey.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true, keyCertSign: true, cRLSign: true))
            try ExtendedKeyUsage([.clientAuth, .serverAuth])
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            SubjectKeyIdentifier(keyIdentifier: ArraySlice(ski))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(privateKey.publicKey),
            notValidBefore: start, notValidAfter: start.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(LowSSigningKey(privateKey)))
        return try CertificateAuthority(certificate: certificate, privateKey: privateKey)
    }

    /// Issues a certificate with subject `CN=commonName[, OU=organizationalUnit]`.
    /// - Parameter sans: DNS names, IP literals (IPv4 or IPv6) or `bok:` URIs (roles, see ``AgentLinkRole``) for the
    ///   SubjectAlternativeName extension.
    public func issue(
        commonName: String, organizationalUnit: String?, sans: [String], usage: CertificateUsage,
        publicKey: P256.Signing.PublicKey, validityDays: Int, notBefore: Date?
    ) throws -> Certificate {
        let subject = try DistinguishedName {
            if let organizationalUnit { OrganizationalUnitName(organizationalUnit) }
            CommonName(commonName)
        }
        return try issue(
            subject: subject, sans: sans, usage: usage, publicKey: publicKey, validityDays: validityDays,
            notBefore: notBefore)
    }

    /// Issues a certificate with any subject.
    public func issue(
        subject: DistinguishedName, sans: [String], usage: CertificateUsage, publicKey: P256.Signing.PublicKey,
        validityDays: Int, notBefore: Date?
    ) throws -> Certificate {
        let start = notBefore ?? Self.defaultNotBefore()
        let names = try sans.map(Self.generalName)
        let authorityKey = Self.subjectKeyIdentifier(privateKey.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(usage.keyUsage)
            if !usage.extendedKeyUsage.isEmpty { try ExtendedKeyUsage(usage.extendedKeyUsage) }
            Critical(BasicConstraints.notCertificateAuthority)
            SubjectKeyIdentifier(keyIdentifier: ArraySlice(Self.subjectKeyIdentifier(publicKey)))
            AuthorityKeyIdentifier(keyIdentifier: ArraySlice(authorityKey))
            if !names.isEmpty { SubjectAlternativeNames(names) }
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(publicKey),
            notValidBefore: start, notValidAfter: start.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(LowSSigningKey(privateKey)))
    }

    /// Whether `certificate` was issued by this CA (issuer name and signature both check out).
    public func hasIssued(_ certificate: Certificate) -> Bool {
        certificate.issuer == self.certificate.subject
            && self.certificate.publicKey.isValidSignature(certificate.signature, for: certificate)
    }

    /// cryptogen's notBefore: now, rounded to the minute, minus five minutes (tolerates clock skew).
    public static func defaultNotBefore(now: Date = Date()) -> Date {
        let rounded = (now.timeIntervalSince1970 / 60).rounded() * 60
        return Date(timeIntervalSince1970: rounded - 300)
    }

    /// SHA-256 of the uncompressed public point (RFC 7093 §2 method 4), as cryptogen computes it.
    public static func subjectKeyIdentifier(_ key: P256.Signing.PublicKey) -> [UInt8] {
        Array(SHA256.hash(data: key.x963Representation))
    }

    /// A SAN entry: an IP address when the text parses as one, a DNS name otherwise.
    static func generalName(_ san: String) throws -> GeneralName {
        if let bytes = IPAddressLiteral.parse(san) {
            return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes)))
        }
        if san.hasPrefix(AgentLinkRole.uriScheme + ":") {
            return .uniformResourceIdentifier(san)
        }
        guard !san.isEmpty, san.utf8.count <= 253, san.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw PKIError.invalidName("'\(san)' is neither an IP address nor a DNS name")
        }
        return .dnsName(san)
    }
}

/// Errors of the PKI module, each saying what was wrong.
public enum PKIError: Error, Sendable, Equatable, CustomStringConvertible {
    case keyMismatch(String)
    case invalidName(String)
    case invalidPEM(String)

    public var description: String {
        switch self {
        case .keyMismatch(let detail), .invalidName(let detail), .invalidPEM(let detail): return detail
        }
    }
}
