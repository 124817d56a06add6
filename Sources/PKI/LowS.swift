import Crypto
import SwiftASN1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// ECDSA P-256 signatures in the canonical low-S form (s ≤ n/2) that Fabric insists on.
///
/// For any ECDSA signature (r, s), (r, n − s) verifies as well. Fabric accepts only the smaller s, and its MSP
/// rejects a CA certificate signed with a high s (`x509: certificate signed by unknown authority`). swift-crypto does
/// not normalise, so about half its signatures are high-S; everything BoK signs goes through `sign(_:with:)`.
public enum LowS {
    /// The order n of the P-256 group, big-endian.
    static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]
    /// ⌊n/2⌋, big-endian.
    static let halfOrder: [UInt8] = [
        0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8,
    ]

    /// Signs `data` (SHA-256) and returns a low-S signature.
    public static func sign<D: DataProtocol>(_ data: D, with key: P256.Signing.PrivateKey) throws -> P256.Signing.ECDSASignature {
        let signature = try key.signature(for: SHA256.hash(data: data))
        return try normalize(signature)
    }

    /// Returns the low-S twin of a signature (the signature itself when it is already low-S).
    public static func normalize(_ signature: P256.Signing.ECDSASignature) throws -> P256.Signing.ECDSASignature {
        var raw = Array(signature.rawRepresentation)
        let s = Array(raw[32..<64])
        guard isHigh(s) else { return signature }
        raw.replaceSubrange(32..<64, with: subtract(order, s))
        return try P256.Signing.ECDSASignature(rawRepresentation: raw)
    }

    /// Whether a DER-encoded ECDSA signature (`SEQUENCE { r INTEGER, s INTEGER }`) has s ≤ n/2.
    public static func isLowS(derSignature: [UInt8]) throws -> Bool {
        let signature = try P256.Signing.ECDSASignature(derRepresentation: derSignature)
        return !isHigh(Array(signature.rawRepresentation[32..<64]))
    }

    /// s > n/2, comparing 32-byte big-endian numbers.
    static func isHigh(_ s: [UInt8]) -> Bool {
        for (a, b) in zip(s, halfOrder) where a != b { return a > b }
        return false
    }

    /// a − b for 32-byte big-endian numbers with a ≥ b.
    static func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for index in stride(from: 31, through: 0, by: -1) {
            var difference = Int(a[index]) - Int(b[index]) - borrow
            borrow = difference < 0 ? 1 : 0
            if difference < 0 { difference += 256 }
            result[index] = UInt8(difference)
        }
        return result
    }
}
