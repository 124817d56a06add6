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

/// A P-256 key that swift-certificates signs with, producing only low-S signatures (see `LowS`).
struct LowSSigningKey: CustomPrivateKey {
    let key: P256.Signing.PrivateKey

    init(_ key: P256.Signing.PrivateKey) {
        self.key = key
    }

    var publicKey: Certificate.PublicKey { Certificate.PublicKey(key.publicKey) }
    var defaultSignatureAlgorithm: Certificate.SignatureAlgorithm { .ecdsaWithSHA256 }
    var supportedSignatureAlgorithms: [Certificate.SignatureAlgorithm] { [.ecdsaWithSHA256] }

    func signSynchronously(bytes: some DataProtocol, signatureAlgorithm: Certificate.SignatureAlgorithm) throws -> Certificate.Signature {
        guard signatureAlgorithm == .ecdsaWithSHA256 else {
            throw CertificateError.unsupportedSignatureAlgorithm(reason: "BoK signs with ECDSA P-256 and SHA-256 only")
        }
        let signature = try LowS.sign(bytes, with: key)
        return try Certificate.Signature(
            signatureAlgorithm: .ecdsaWithSHA256,
            signatureBytes: ASN1BitString(bytes: ArraySlice(signature.derRepresentation)))
    }

    static var defaultPEMDiscriminator: String { "PRIVATE KEY" }

    func serialize(into coder: inout DER.Serializer) throws {
        coder.serializeRawBytes(key.derRepresentation)
    }

    static func == (lhs: LowSSigningKey, rhs: LowSSigningKey) -> Bool {
        lhs.key.rawRepresentation == rhs.key.rawRepresentation
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(key.publicKey.rawRepresentation)
    }
}
