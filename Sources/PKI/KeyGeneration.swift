import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// P-256 private keys made fast: a uniformly random scalar in [1, n−1] (rejection sampling from the system's
/// cryptographically secure generator, `getrandom`), imported as the raw key.
///
/// swift-crypto's `P256.Signing.PrivateKey()` runs BoringSSL's FIPS pairwise test (a signature and its verification)
/// on every key and, by default, draws again until the public key is "compact representable" — half of all keys —,
/// which makes key generation about four times the cost of a signature. Fabric needs neither (cryptogen's Go keys are
/// plain random scalars), and importing the scalar still checks that it is a valid key (public point = d·G).
public enum KeyGeneration {
    public static func newP256Key() -> P256.Signing.PrivateKey {
        var generator = SystemRandomNumberGenerator()
        while true {
            var scalar = [UInt8](repeating: 0, count: 32)
            for index in stride(from: 0, to: 32, by: 8) {
                withUnsafeBytes(of: generator.next() as UInt64) { scalar.replaceSubrange(index..<index + 8, with: $0) }
            }
            // Reject 0 and anything ≥ n (probability about 2⁻³²), so the scalar is uniform in [1, n−1].
            guard scalar.contains(where: { $0 != 0 }), isBelowOrder(scalar),
                let key = try? P256.Signing.PrivateKey(rawRepresentation: scalar)
            else { continue }
            return key
        }
    }

    /// a < n, big-endian.
    static func isBelowOrder(_ a: [UInt8]) -> Bool {
        for (x, y) in zip(a, LowS.order) where x != y { return x < y }
        return false
    }
}

extension PEMFile {
    /// PEM text of DER bytes: 64-character base64 lines between BEGIN and END lines, each ending in a line feed —
    /// byte for byte what swift-asn1's `PEMDocument.pemString` writes (plus the final newline), without its per-line
    /// string indexing, which costs more than the signature on a large run.
    static func pem(der: [UInt8], discriminator: String) -> String {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(discriminator)-----\n\(base64)\n-----END \(discriminator)-----\n"
    }
}
