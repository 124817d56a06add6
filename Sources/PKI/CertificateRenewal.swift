import Crypto
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension CertificateAuthority {
    /// Re-issues a certificate this CA issued: the same subject, public key and extensions (SubjectAlternativeNames,
    /// key usages, basic constraints, key identifiers, whatever else it carries) byte for byte; only the serial number
    /// and the validity are new. The signature is low-S, like everything BoK signs.
    /// - Throws: `PKIError.keyMismatch` when `certificate` was not issued by this CA (issuer name or signature differ).
    public func reissue(_ certificate: Certificate, validityDays: Int, notBefore: Date? = nil) throws -> Certificate {
        guard hasIssued(certificate) else {
            throw PKIError.keyMismatch(
                "certificate '\(certificate.subject)' was not issued by CA '\(self.certificate.subject)' (issuer or signature differ)")
        }
        let start = notBefore ?? Self.defaultNotBefore()
        return try Certificate(
            version: certificate.version, serialNumber: Certificate.SerialNumber(), publicKey: certificate.publicKey,
            notValidBefore: start, notValidAfter: start.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: self.certificate.subject, subject: certificate.subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: certificate.extensions, issuerPrivateKey: Certificate.PrivateKey(LowSSigningKey(privateKey)))
    }

    /// This CA with its own certificate renewed: the same key, subject and extensions, a new serial and validity.
    /// Certificates it issued before still chain to it (same name, same key).
    public func renewed(validityDays: Int, notBefore: Date? = nil) throws -> CertificateAuthority {
        let start = notBefore ?? Self.defaultNotBefore()
        let renewed = try Certificate(
            version: certificate.version, serialNumber: Certificate.SerialNumber(), publicKey: certificate.publicKey,
            notValidBefore: start, notValidAfter: start.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: certificate.subject, subject: certificate.subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: certificate.extensions, issuerPrivateKey: Certificate.PrivateKey(LowSSigningKey(privateKey)))
        return try CertificateAuthority(certificate: renewed, privateKey: privateKey)
    }

    /// Whether a certificate is self-signed by its own key (a root: issuer = subject, signature checks out).
    public static func isSelfSigned(_ certificate: Certificate) -> Bool {
        certificate.issuer == certificate.subject && certificate.publicKey.isValidSignature(certificate.signature, for: certificate)
    }
}
