import Crypto
import FabricTopology
import Foundation
import PKI
import SwiftASN1
import X509

/// What a crypto tree in cryptogen's layout holds: every CA and identity certificate, the key beside it and the CA it
/// must chain to, read from disk (`coordinator crypto status` and `renew`).
///
/// Certificates are found by walking the tree, so a tree made by Fabric's `cryptogen` reads as well as BoK's:
/// `ca/*-cert.pem` (role `ca`, key `ca/priv_sk`), `tlsca/*-cert.pem` (`tlsca`), `msp/signcerts/*` (the NodeOU role of
/// its subject: `peer`, `orderer`, `admin`, `client`; key `msp/keystore/priv_sk` or the keystore's only key),
/// `tls/server.crt` (`tls-server`) and `tls/client.crt` (`tls-client`) with their `.key`. Copies of the CA certificates
/// (`msp/cacerts`, `msp/tlscacerts`, `tls/ca.crt`) are not identities; `renew` keeps them equal to their CA.
public struct CryptoTree: Sendable {
    /// One certificate of the tree and what was checked about it.
    public struct Item: Sendable {
        public var entry: CryptoStatusEntry
        public var certificate: Certificate
        /// Relative path of the key file beside it, when there is one.
        public var keyPath: String?
        public var key: P256.Signing.PrivateKey?
        /// Index (in `items`) of the CA it must chain to (itself for a CA).
        public var caIndex: Int?
        public var isCA: Bool { entry.role == "ca" || entry.role == "tlsca" }
    }

    public let root: String
    public var items: [Item]
    /// Files holding a copy of a CA certificate (relative path, DER of the certificate).
    public var copies: [(path: String, der: [UInt8])]
    /// What could not be read or is missing, each naming the file.
    public var problems: [String]

    /// Reads the tree at `root`. With a topology, every CA and identity it expects must be there (else a problem).
    public static func scan(root: String, topology: FabricTopology? = nil, now: Date = Date()) throws -> CryptoTree {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CryptoTreeError("\(root) is not a directory: pass the crypto directory with --crypto DIR (made by `coordinator crypto`)")
        }
        let files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
        var tree = CryptoTree(root: root, items: [], copies: [], problems: [])
        var caByOrgAndKind: [String: Int] = [:]
        var leaves: [(path: String, org: String, kind: String)] = []
        for path in files {
            let parts = path.split(separator: "/").map(String.init)
            guard parts.count >= 3, parts[0] == "peerOrganizations" || parts[0] == "ordererOrganizations" else { continue }
            let org = "\(parts[0])/\(parts[1])"
            let rest = Array(parts[2...])
            let name = parts.last!
            if rest.count == 2, rest[0] == "ca" || rest[0] == "tlsca", name.hasSuffix("-cert.pem") {
                if let index = tree.add(path: path, role: rest[0], keyPath: "\(org)/\(rest[0])/priv_sk", now: now) {
                    caByOrgAndKind["\(org)|\(rest[0])"] = index
                }
            } else if rest.count >= 3, rest[rest.count - 3] == "msp", rest[rest.count - 2] == "signcerts" {
                leaves.append((path, org, "ca"))
            } else if rest.count >= 2, rest[rest.count - 2] == "tls", name == "server.crt" || name == "client.crt" {
                leaves.append((path, org, "tlsca"))
            } else if (rest.count >= 3 && ["cacerts", "tlscacerts"].contains(rest[rest.count - 2]) && rest[rest.count - 3] == "msp")
                || (rest.count >= 2 && rest[rest.count - 2] == "tls" && name == "ca.crt")
            {
                if let certificate = try? PEMFile.readCertificate(at: "\(root)/\(path)") {
                    tree.copies.append((path, Array(DERBytes.of(certificate))))
                } else {
                    tree.problems.append("\(path): not a PEM certificate")
                }
            }
        }
        for leaf in leaves {
            let directory = (leaf.path as NSString).deletingLastPathComponent
            let keyPath: String?
            let role: String
            if leaf.kind == "tlsca" {
                let base = ((leaf.path as NSString).lastPathComponent as NSString).deletingPathExtension
                keyPath = "\(directory)/\(base).key"
                role = base == "server" ? "tls-server" : "tls-client"
            } else {
                let keystore = "\((directory as NSString).deletingLastPathComponent)/keystore"
                if FileManager.default.fileExists(atPath: "\(root)/\(keystore)/priv_sk") {
                    keyPath = "\(keystore)/priv_sk"
                } else {
                    let keys = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(keystore)"))?.filter { $0.hasSuffix("_sk") } ?? []
                    keyPath = keys.count == 1 ? "\(keystore)/\(keys[0])" : nil
                }
                role = "signing"
            }
            guard let index = tree.add(path: leaf.path, role: role, keyPath: keyPath, now: now) else { continue }
            if role == "signing" { tree.items[index].entry.role = Self.nodeOURole(tree.items[index].certificate) }
            tree.items[index].caIndex = caByOrgAndKind["\(leaf.org)|\(leaf.kind)"]
        }
        for (key, index) in caByOrgAndKind {
            _ = key
            tree.items[index].caIndex = index
        }
        tree.checkChains()
        if let topology { tree.checkExpected(topology) }
        return tree
    }

    /// Reads a certificate and the key beside it; returns its index, or nil (and a problem) when unreadable.
    private mutating func add(path: String, role: String, keyPath: String?, now: Date) -> Int? {
        let certificate: Certificate
        do {
            certificate = try PEMFile.readCertificate(at: "\(root)/\(path)")
        } catch {
            problems.append("\(path): cannot read the certificate: \(error)")
            return nil
        }
        var key: P256.Signing.PrivateKey?
        var keyMatches: Bool?
        var keyProblem: String?
        if let keyPath {
            if FileManager.default.fileExists(atPath: "\(root)/\(keyPath)") {
                do {
                    let read = try PEMFile.readPrivateKey(at: "\(root)/\(keyPath)")
                    key = read
                    keyMatches = Certificate.PublicKey(read.publicKey) == certificate.publicKey
                } catch {
                    keyMatches = false
                    keyProblem = "\(keyPath): \(error)"
                }
            } else {
                keyProblem = "\(keyPath): missing (the private key beside \(path))"
            }
        }
        let days = certificate.notValidAfter.timeIntervalSince(now) / 86_400
        let entry = CryptoStatusEntry(
            path: path, subject: certificate.subject.description, role: role, serial: certificate.serialNumber.description,
            notBefore: CryptoStatusEntry.timestamp(certificate.notValidBefore), notAfter: CryptoStatusEntry.timestamp(certificate.notValidAfter),
            daysLeft: Int(days.rounded(.down)), chainsToCA: false, issuerPath: nil, keyPath: keyPath, keyMatches: keyMatches)
        items.append(Item(entry: entry, certificate: certificate, keyPath: keyPath, key: key, caIndex: nil))
        if let keyProblem { problems.append(keyProblem) }
        if keyMatches == false, keyProblem == nil { problems.append("\(keyPath!): does not match the public key of \(path)") }
        return items.count - 1
    }

    /// Verifies every certificate's signature with its CA's public key (a CA's with its own).
    private mutating func checkChains() {
        for index in items.indices {
            guard let caIndex = items[index].caIndex else {
                problems.append("\(items[index].entry.path): no CA certificate of its org to chain to (ca/ or tlsca/ is missing)")
                continue
            }
            let ca = items[caIndex].certificate
            let certificate = items[index].certificate
            let ok = certificate.issuer == ca.subject && ca.publicKey.isValidSignature(certificate.signature, for: certificate)
            items[index].entry.chainsToCA = ok
            items[index].entry.issuerPath = items[caIndex].entry.path
            if !ok {
                problems.append(
                    index == caIndex
                        ? "\(items[index].entry.path): the CA certificate is not validly self-signed"
                        : "\(items[index].entry.path): does not chain to its CA \(items[caIndex].entry.path) (issuer or signature differ)")
            }
        }
    }

    /// Every CA and identity certificate the topology expects is present.
    private mutating func checkExpected(_ topology: FabricTopology) {
        let present = Set(items.map(\.entry.path))
        for org in topology.organizations {
            var expected = [CryptoLayout.caCertificate(org), CryptoLayout.tlsCACertificate(org)]
            for identity in CryptoLayout.identities(org) {
                expected.append("\(identity.directory)/\(identity.signCertificate)")
                expected.append("\(identity.directory)/\(identity.tlsCertificate)")
            }
            for path in expected where !present.contains(path) {
                problems.append("\(path): missing (the topology has it; run `coordinator crypto -c FILE -o \(root)` to complete the tree)")
            }
        }
    }

    /// The NodeOU role of an enrollment certificate (`OU=peer` …), or `signing` when it carries none.
    static func nodeOURole(_ certificate: Certificate) -> String {
        let units = certificate.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.organizationalUnitName }
        let roles = Set(CryptoLayout.Role.allCases.map(\.rawValue))
        for unit in units {
            if let text = String(unit.value), roles.contains(text) { return text }
        }
        return "signing"
    }

    /// The status report: every certificate, the ones expiring within `warnDays`, the problems.
    public func report(warnDays: Int, now: Date = Date()) -> CryptoStatusReport {
        let limit = now.addingTimeInterval(Double(warnDays) * 86_400)
        let expiring = items.filter { $0.certificate.notValidAfter <= limit }.map(\.entry.path)
        let nearest = items.min { $0.certificate.notValidAfter < $1.certificate.notValidAfter }?.entry
        return CryptoStatusReport(
            directory: root, checkedAt: CryptoStatusEntry.timestamp(now), warnDays: warnDays, entries: items.map(\.entry),
            expiring: expiring, nearest: nearest, problems: problems)
    }
}

/// One certificate of `coordinator crypto status`.
public struct CryptoStatusEntry: Sendable, Codable, Equatable {
    /// Relative to the crypto directory.
    public var path: String
    public var subject: String
    /// `ca`, `tlsca`, `peer`, `orderer`, `admin`, `client`, `tls-server`, `tls-client` (`signing` without a NodeOU).
    public var role: String
    public var serial: String
    public var notBefore: String
    public var notAfter: String
    /// Whole days until notAfter (negative once expired).
    public var daysLeft: Int
    /// The signature verifies with the CA's public key (a CA's with its own) and the issuer is the CA's subject.
    public var chainsToCA: Bool
    /// The CA certificate it was checked against.
    public var issuerPath: String?
    public var keyPath: String?
    /// The private key beside it belongs to the certificate; nil when no key was looked for.
    public var keyMatches: Bool?

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// `coordinator crypto status --json`.
public struct CryptoStatusReport: Sendable, Codable, Equatable {
    public var directory: String
    public var checkedAt: String
    public var warnDays: Int
    public var entries: [CryptoStatusEntry]
    /// Paths of the certificates that expire within `warnDays` (or have expired).
    public var expiring: [String]
    /// The certificate that expires first.
    public var nearest: CryptoStatusEntry?
    /// Missing or unreadable files, broken chains, keys that do not match.
    public var problems: [String]
}

/// A crypto tree that cannot be read or renewed, saying which file and what to do.
public struct CryptoTreeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The DER encoding of a certificate.
enum DERBytes {
    static func of(_ certificate: Certificate) -> [UInt8] {
        var serializer = DER.Serializer()
        try? serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
