import Crypto
import FabricTopology
import Foundation
import PKI

/// Passwords for the services BoK runs (CouchDB, fabric-ca's bootstrap admin, the explorer's database), derived
/// from each org's CA private key with HKDF-SHA256.
///
/// Why derived and not random: `render` must be repeatable (same input, same bytes) for review and GitOps, and the
/// passwords must never be guessable from the manifests' inputs. The CA key is already the org's most secret file,
/// so anyone able to derive a password could issue identities anyway; whoever regenerates the crypto material
/// (`crypto --force`) rotates every password with it.
public struct ServiceCredentials: Sendable {
    private let keys: [String: SymmetricKey]
    private let tenant: String

    /// Reads every org's CA key from a crypto directory.
    /// - Throws: when a CA key is missing (run `coordinator crypto` first) or unreadable.
    public init(topology: FabricTopology, cryptoDirectory: String) throws {
        var keys: [String: SymmetricKey] = [:]
        for org in topology.organizations {
            let path = "\(cryptoDirectory)/\(CryptoLayout.caPrivateKey(org))"
            let key = try PEMFile.readPrivateKey(at: path)
            keys[org.namespace] = SymmetricKey(data: key.rawRepresentation)
        }
        self.keys = keys
        self.tenant = topology.tenant
    }

    /// The password for `purpose` in an org's namespace: 32 URL-safe characters.
    public func password(namespace: String, purpose: String) -> String {
        guard let key = keys[namespace] else { return "" }
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Data("bok-service-credentials-v1".utf8),
            info: Data("\(tenant)/\(namespace)/\(purpose)".utf8), outputByteCount: 24)
        let base64 = derived.withUnsafeBytes { Data($0).base64EncodedString() }
        return base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}
