import Crypto
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The coordinator CA's list of revoked certificate serials, signed with the CA key so an agent can
/// trust it from any coordinator that delivers it (`agent.revocations`).
///
/// Wire and disk form: `{"list": base64(payload JSON), "signature": base64(DER ECDSA-SHA256 over payload)}`;
/// payload: `{"number": N, "issuedAt": "ISO-8601", "serials": ["hex", …]}`. A higher `number` replaces a lower one;
/// an agent never goes back to an older list.
public struct RevocationList: Sendable, Equatable, Codable {
    public var number: Int
    public var issuedAt: String
    public var serials: [String]

    public init(number: Int = 0, issuedAt: String = "", serials: [String] = []) {
        self.number = number
        self.issuedAt = issuedAt
        self.serials = serials
    }

    public func contains(serial: String) -> Bool { serials.contains(serial) }

    /// The list as it travels: payload and signature, both base64.
    public struct Signed: Sendable, Equatable, Codable {
        public var list: String
        public var signature: String
        public init(list: String, signature: String) {
            self.list = list
            self.signature = signature
        }
    }

    public func signed(by ca: CertificateAuthority) throws -> Signed {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = try encoder.encode(self)
        let signature = try ca.privateKey.signature(for: payload)
        return Signed(list: payload.base64EncodedString(), signature: signature.derRepresentation.base64EncodedString())
    }

    /// At most this many bytes of payload are accepted (a list of ~15,000 serials).
    public static let maxPayloadBytes = 1 << 20

    /// Checks the signature against the CA certificate and decodes; every failure says why.
    public static func verify(_ signed: Signed, caCertificate: Certificate) throws(PKIError) -> RevocationList {
        guard signed.list.utf8.count <= maxPayloadBytes * 4 / 3 + 4, let payload = Data(base64Encoded: signed.list) else {
            throw PKIError.invalidPEM("the revocation list is not base64 or larger than \(maxPayloadBytes) bytes")
        }
        guard let sigBytes = Data(base64Encoded: signed.signature), let signature = try? P256.Signing.ECDSASignature(derRepresentation: sigBytes)
        else {
            throw PKIError.invalidPEM("the revocation list's signature is not a base64 DER ECDSA signature")
        }
        guard let key = P256.Signing.PublicKey(caCertificate.publicKey), key.isValidSignature(signature, for: payload) else {
            throw PKIError.keyMismatch("the revocation list is not signed by the CA '\(caCertificate.subject)'; refusing it")
        }
        do {
            let list = try JSONDecoder().decode(RevocationList.self, from: payload)
            guard list.number >= 0, list.serials.allSatisfy({ CertificateFacts.normalizeSerial($0) == $0 }) else {
                throw PKIError.invalidPEM("the revocation list has a negative number or a serial that is not lower-case hex")
            }
            return list
        } catch let e as PKIError {
            throw e
        } catch {
            throw PKIError.invalidPEM("the revocation list's payload is not valid JSON: \(error)")
        }
    }

    public static func decodeSigned(_ data: Data) throws(PKIError) -> Signed {
        do { return try JSONDecoder().decode(Signed.self, from: data) } catch {
            throw PKIError.invalidPEM("not a signed revocation list ({\"list\":…,\"signature\":…}): \(error)")
        }
    }

    public static func encodeSigned(_ signed: Signed) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(signed)) ?? Data()
    }
}
