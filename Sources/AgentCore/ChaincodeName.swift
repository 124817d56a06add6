#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Fabric's chaincode container names, parsed.
///
/// Fabric names a chaincode container `<networkId>-<peerId>-<ccid>` with every character outside
/// `[a-zA-Z0-9_.-]` turned into `-` (core/container/dockercontroller). Fabric 1.x ccids are
/// `name-version` (`dev-peer0.org1-mycc-1.0`); 2.x ccids are `label:sha256`, so the name ends in
/// `-<64 hex>` (`dev-peer0.org1-mycc_1-<hash>`).
public struct ChaincodeName: Sendable, Equatable {
    public var peer: String
    public var chaincode: String
    public var version: String
    public var fabricMajor: Int

    public init(peer: String, chaincode: String, version: String, fabricMajor: Int) {
        self.peer = peer
        self.chaincode = chaincode
        self.version = version
        self.fabricMajor = fabricMajor
    }

    /// Parses a container name for the network id `networkID` (`CORE_PEER_NETWORKID`, default `dev`).
    /// Peer ids may contain `-` (`peer0.org1-f-1`); the chaincode part is taken from the end.
    public static func parse(_ containerName: String, networkID: String = "dev") -> ChaincodeName? {
        let prefix = sanitize(networkID) + "-"
        guard containerName.hasPrefix(prefix) else { return nil }
        let rest = containerName.dropFirst(prefix.count)
        var parts = rest.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        let last = parts.removeLast()
        if last.count == 64, last.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            // 2.x: <peer>-<label>-<hash>; labels are conventionally name_version.
            let label = parts.removeLast()
            guard !parts.isEmpty else { return nil }
            let peer = parts.joined(separator: "-")
            if let us = label.lastIndex(of: "_"), us != label.startIndex, label.index(after: us) != label.endIndex {
                return ChaincodeName(peer: peer, chaincode: String(label[..<us]), version: String(label[label.index(after: us)...]), fabricMajor: 2)
            }
            return ChaincodeName(peer: peer, chaincode: label, version: String(last.prefix(12)), fabricMajor: 2)
        }
        // 1.x: <peer>-<name>-<version>
        let name = parts.removeLast()
        guard !parts.isEmpty else { return nil }
        let peer = parts.joined(separator: "-")
        // A peer id is a host-like name; one without a dot is most likely not a peer.
        guard peer.contains(".") || peer.hasPrefix("peer") else { return nil }
        return ChaincodeName(peer: peer, chaincode: name, version: last, fabricMajor: 1)
    }

    /// Fabric's own rule: characters outside `[a-zA-Z0-9_.-]` become `-`.
    public static func sanitize(_ s: String) -> String {
        String(
            s.map { c -> Character in
                (c.isASCII && (c.isLetter || c.isNumber)) || "_.-".contains(c) ? c : "-"
            })
    }

    /// The container name Fabric gives chaincode `ccid` on `peerID`.
    public static func containerName(networkID: String = "dev", peerID: String, ccid: String) -> String {
        sanitize("\(networkID)-\(peerID)-\(ccid)")
    }
}

/// RFC 3339 UTC times (`2026-12-07T17:31:10Z`), as the protocol writes them, without Foundation's formatters.
enum RFC3339 {
    static func string(_ date: Date) -> String {
        ChaincodeEventHub.rfc3339(seconds: Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    static func parse(_ text: String) -> Date? {
        try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// Numbers with a fixed count of decimals (`String(format: "%.2f")` without Foundation).
enum Decimals {
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        var text = (value < 0 && scaled > 0 ? "-" : "") + String(whole)
        if digits > 0 {
            let frac = String(Int(scaled) - whole * Int(scale))
            text += "." + String(repeating: "0", count: digits - frac.count) + frac
        }
        return text
    }
}
