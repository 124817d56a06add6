import BoKSystem
import FabricTopology
import Foundation
import PKI
import X509

/// `coordinator crypto renew`: re-issues certificates of a crypto tree with the same keys — same subject, SANs, key
/// usages and every other extension; a new serial and a new validity — signed by the same CA (its key in the tree).
///
/// CAs are renewed only when asked (`all`) or when they themselves expire within the window; a renewed CA keeps its
/// key and subject, so certificates it issued before still chain to it, and every copy of it in the tree
/// (`msp/cacerts`, `msp/tlscacerts`, `tls/ca.crt`) is replaced with the new one. All of it happens at once: the new
/// files go into a staging copy of the tree that is exchanged with the tree in one step (``StagedDirectory``), so a
/// failure leaves the tree exactly as it was.
public struct CryptoRenewal: Sendable {
    /// Which certificates to renew.
    public enum Selection: Sendable, Equatable {
        /// Those whose notAfter is within this many days (or past).
        case within(days: Int)
        /// Every certificate, the CAs included.
        case all
    }

    public var selection: Selection
    /// Validity of the renewed certificates (cryptogen's 10 years by default).
    public var validityDays: Int
    public var topology: FabricTopology?

    public init(selection: Selection, validityDays: Int = 3650, topology: FabricTopology? = nil) {
        self.selection = selection
        self.validityDays = validityDays
        self.topology = topology
    }

    /// One renewed certificate.
    public struct Renewed: Sendable, Codable, Equatable {
        public var path: String
        public var role: String
        public var subject: String
        public var oldNotAfter: String
        public var newNotAfter: String
        public var serial: String
    }

    /// What a renewal did.
    public struct Report: Sendable, Codable, Equatable {
        public var directory: String
        public var renewed: [Renewed]
        /// Files that hold a copy of a renewed CA certificate, replaced with the new one.
        public var copiesUpdated: Int
        /// Something left behind that does not affect the renewed tree (e.g. the old tree could not be removed).
        public var note: String?
    }

    /// Renews in the tree at `directory`. Nothing is written when nothing is due.
    /// - Throws: `CryptoTreeError` when the tree has problems (a key that does not match, a broken chain, a CA key
    ///   missing for a certificate that is due) — nothing is written then —, or `AtomicFile.WriteError` when the
    ///   staged tree cannot be written or put in place (the tree is untouched).
    public func renew(directory: String, now: Date = Date()) throws -> Report {
        let tree = try CryptoTree.scan(root: directory, topology: topology, now: now)
        let blocking = tree.problems.filter { !$0.contains(": missing (the topology has it") }
        guard blocking.isEmpty else {
            throw CryptoTreeError(
                "\(directory) has problems, nothing was renewed: \(blocking.prefix(5).joined(separator: "; "))"
                    + (blocking.count > 5 ? "; … \(blocking.count - 5) more" : "")
                    + " — see `coordinator crypto status`; regenerate broken identities with `coordinator crypto`")
        }
        let due: (CryptoTree.Item) -> Bool
        switch selection {
        case .all: due = { _ in true }
        case .within(let days):
            let limit = now.addingTimeInterval(Double(days) * 86_400)
            due = { $0.certificate.notValidAfter <= limit }
        }
        var authorities: [Int: CertificateAuthority] = [:]
        func authority(_ index: Int) throws -> CertificateAuthority {
            if let known = authorities[index] { return known }
            let item = tree.items[index]
            guard let key = item.key else {
                throw CryptoTreeError("\(item.keyPath ?? item.entry.path): the CA's private key is needed to renew and cannot be read")
            }
            let ca = try CertificateAuthority(certificate: item.certificate, privateKey: key)
            authorities[index] = ca
            return ca
        }
        var files: [String: (Data, mode_t)] = [:]
        var renewed: [Renewed] = []
        var replacedCopies: [[UInt8]: String] = [:]  // old CA DER → new CA PEM
        // CAs first: their leaves are signed with the same key either way, but copies must follow.
        for index in tree.items.indices where tree.items[index].isCA && due(tree.items[index]) {
            let item = tree.items[index]
            let ca = try authority(index).renewed(validityDays: validityDays)
            authorities[index] = ca
            let pem = try PEMFile.pem(for: ca.certificate)
            files[item.entry.path] = (Data(pem.utf8), 0o644)
            replacedCopies[DERBytes.of(item.certificate)] = pem
            renewed.append(Self.renewed(item, ca.certificate))
        }
        for index in tree.items.indices where !tree.items[index].isCA && due(tree.items[index]) {
            let item = tree.items[index]
            guard let caIndex = item.caIndex else {
                throw CryptoTreeError("\(item.entry.path): no CA in the tree to renew it with")
            }
            let certificate = try authority(caIndex).reissue(item.certificate, validityDays: validityDays)
            files[item.entry.path] = (Data(try PEMFile.pem(for: certificate).utf8), 0o644)
            renewed.append(Self.renewed(item, certificate))
        }
        var copies = 0
        for copy in tree.copies {
            guard let pem = replacedCopies[copy.der] else { continue }
            files[copy.path] = (Data(pem.utf8), 0o644)
            copies += 1
        }
        guard !files.isEmpty else { return Report(directory: directory, renewed: [], copiesUpdated: 0, note: nil) }
        let staged = try StagedDirectory(replacing: directory, cloneExisting: true)
        do {
            for (path, file) in files.sorted(by: { $0.key < $1.key }) {
                try staged.write(file.0, to: path, mode: file.1)
            }
            let note = try staged.commit()
            return Report(directory: directory, renewed: renewed, copiesUpdated: copies, note: note)
        } catch {
            staged.discard()
            throw error
        }
    }

    static func renewed(_ item: CryptoTree.Item, _ certificate: Certificate) -> Renewed {
        Renewed(
            path: item.entry.path, role: item.entry.role, subject: item.entry.subject, oldNotAfter: item.entry.notAfter,
            newNotAfter: CryptoStatusEntry.timestamp(certificate.notValidAfter), serial: certificate.serialNumber.description)
    }
}
