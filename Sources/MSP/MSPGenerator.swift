import BoKSystem
import Crypto
import FabricTopology
import Foundation
import PKI
import X509

/// Generates Fabric MSP and TLS material for a topology, file for file as `cryptogen generate` lays it out (NodeOUs
/// enabled, ECDSA P-256), with every signature low-S and TLS certificates that carry the Kubernetes service names.
///
/// Re-running keeps every private key already on disk (and every certificate that still fits); `force` starts over.
/// On disk, the material is written as it is made into a staging copy of the directory (``StagedDirectory``: hard
/// links of the old files, new files for what changes) that takes the directory's place in one step at the end, so a
/// failure leaves the old tree untouched and only the orgs being worked on are held in memory. Orgs are generated on
/// every core (one worker per core, each taking the next org).
public struct MSPGenerator: Sendable {
    public let topology: FabricTopology
    public var validityDays: Int
    /// Orgs generated at once (default: the cores available).
    public var concurrency: Int

    public init(topology: FabricTopology, validityDays: Int = 3650, concurrency: Int? = nil) {
        self.topology = topology
        self.validityDays = validityDays
        self.concurrency = max(1, concurrency ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Generates into a directory on disk, all at once (see above). When nothing changes, nothing is staged.
    public func generate(into directory: String, force: Bool = false) throws -> CryptoReport {
        let parent = URL(fileURLWithPath: directory).standardizedFileURL.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let existing = FileManager.default.fileExists(atPath: directory)
        let output = StagedCryptoStore(directory: directory, cloneExisting: existing)
        do {
            if force {
                for org in topology.organizations { try output.remove(CryptoLayout.organizationDirectory(org)) }
            }
            let existingMaterial: CryptoStore = existing && !force ? DirectoryCryptoStore(root: directory) : EmptyCryptoStore()
            let report = try generate(reading: existingMaterial, writing: output)
            try output.commit()
            return report
        } catch {
            output.discard()
            throw error
        }
    }

    /// Generates into any store (reading what is there from the same store).
    public func generate(store: CryptoStore, force: Bool = false) throws -> CryptoReport {
        if force {
            for org in topology.organizations { try store.remove(CryptoLayout.organizationDirectory(org)) }
        }
        return try generate(reading: store, writing: store)
    }

    /// Each worker takes the next org, generates it (reading kept keys from `existing`) and writes it to `output`
    /// before taking another: at most `concurrency` orgs' material is in memory.
    private func generate(reading existing: CryptoStore, writing output: CryptoStore) throws -> CryptoReport {
        let orgs = topology.organizations
        let validityDays = self.validityDays
        let reports = try ConcurrentWork.tryMap(count: orgs.count, concurrency: concurrency) { index in
            let material = try OrgGenerator(org: orgs[index], store: existing, validityDays: validityDays).generate()
            return try material.write(to: output, existing: existing)
        }
        var report = CryptoReport()
        for r in reports { report.add(r) }
        return report
    }
}

/// One org's material, computed but not yet written.
struct OrgMaterial: Sendable {
    var files: [CryptoFile] = []
    var directories: [String] = []
    var report = CryptoReport()
    /// Nothing of the org was on disk: skip comparing with existing files.
    var fresh = false

    /// Writes what differs from `existing` to `output` (the same store, or a staging copy of it).
    func write(to output: CryptoStore, existing: CryptoStore) throws -> CryptoReport {
        var report = self.report
        for directory in directories where fresh || !existing.exists(directory) { try output.makeDirectory(directory) }
        for file in files {
            if !fresh, existing.read(file.path) == file.contents {
                report.filesUnchanged += 1
            } else {
                try output.write(file)
                report.filesWritten += 1
            }
        }
        return report
    }
}

/// Generates one organisation: its two CAs, verifying MSP and every identity.
struct OrgGenerator {
    let org: Organization
    let store: CryptoStore
    let validityDays: Int
    private var material = OrgMaterial()  // accumulates while building

    init(org: Organization, store: CryptoStore, validityDays: Int) {
        self.org = org
        self.store = store
        self.validityDays = validityDays
    }

    func generate() throws -> OrgMaterial {
        var generator = self
        return try generator.build()
    }

    private mutating func build() throws -> OrgMaterial {
        let base = CryptoLayout.organizationDirectory(org)
        material.fresh = !store.exists(base)
        let signCA = try authority(
            certificatePath: CryptoLayout.caCertificate(org), keyPath: CryptoLayout.caPrivateKey(org),
            commonName: org.caName)
        let tlsCA = try authority(
            certificatePath: CryptoLayout.tlsCACertificate(org),
            keyPath: CryptoLayout.tlsCAPrivateKey(org), commonName: org.tlsCAName)
        let caPEM = try PEMFile.pem(for: signCA.certificate)
        let tlsCAPEM = try PEMFile.pem(for: tlsCA.certificate)
        let nodeOUConfig = CryptoLayout.nodeOUConfig(caCertificate: "cacerts/\(org.caName)-cert.pem")

        // The verifying MSP.
        let msp = CryptoLayout.mspDirectory(org)
        let mspFiles = CryptoLayout.mspFiles(org)
        material.directories.append("\(msp)/admincerts")
        material.files.append(CryptoFile(path: "\(msp)/\(mspFiles[0])", contents: caPEM))
        material.files.append(CryptoFile(path: "\(msp)/\(mspFiles[1])", contents: tlsCAPEM))
        material.files.append(CryptoFile(path: "\(msp)/\(mspFiles[2])", contents: nodeOUConfig))
        material.directories.append("\(base)/\(org.kind == .peer ? "peers" : "orderers")")
        material.directories.append("\(base)/users")

        for identity in CryptoLayout.identities(org) {
            let dir = identity.directory
            let signingKey = try key(at: "\(dir)/\(identity.privateKey)")
            let signCert = try certificate(
                at: "\(dir)/\(identity.signCertificate)", ca: signCA, key: signingKey.publicKey,
                subject: try subject(commonName: identity.name, role: identity.role), sans: [], usage: .signing)
            let tlsKey = try key(at: "\(dir)/\(identity.tlsPrivateKey)")
            let tlsCert = try certificate(
                at: "\(dir)/\(identity.tlsCertificate)", ca: tlsCA, key: tlsKey.publicKey,
                subject: try subject(commonName: identity.name, role: nil), sans: identity.tlsSANs, usage: .serverAndClient)

            material.directories.append(contentsOf: identity.emptyDirectories.map { "\(dir)/\($0)" })
            material.files.append(CryptoFile(path: "\(dir)/\(identity.caCertificate)", contents: caPEM))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.privateKey)", contents: PEMFile.pem(for: signingKey), mode: 0o600))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.signCertificate)", contents: signCert))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.tlsCACertificate)", contents: tlsCAPEM))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.mspConfig)", contents: nodeOUConfig))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.tlsRootCertificate)", contents: tlsCAPEM))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.tlsCertificate)", contents: tlsCert))
            material.files.append(CryptoFile(path: "\(dir)/\(identity.tlsPrivateKey)", contents: PEMFile.pem(for: tlsKey), mode: 0o600))
        }
        return material
    }

    /// The CA at these paths: reused when key and certificate are there and fit, otherwise (re)created, keeping a
    /// key that exists.
    private mutating func authority(certificatePath: String, keyPath: String, commonName: String) throws -> CertificateAuthority {
        let privateKey = try key(at: keyPath)
        let subject = try caSubject(commonName: commonName)
        if !material.fresh, let text = store.read(certificatePath), let existing = try? PEMFile.certificate(fromPEM: text),
            existing.subject == subject, let ca = try? CertificateAuthority(certificate: existing, privateKey: privateKey),
            ca.hasIssued(existing), existing.notValidAfter > Date()
        {
            material.files.append(CryptoFile(path: certificatePath, contents: text))
            material.files.append(CryptoFile(path: keyPath, contents: PEMFile.pem(for: privateKey), mode: 0o600))
            return ca
        }
        let ca = try CertificateAuthority.createRoot(subject: subject, privateKey: privateKey, validityDays: validityDays)
        material.report.certificatesIssued += 1
        material.files.append(CryptoFile(path: certificatePath, contents: try PEMFile.pem(for: ca.certificate)))
        material.files.append(CryptoFile(path: keyPath, contents: PEMFile.pem(for: privateKey), mode: 0o600))
        return ca
    }

    /// The key at `path`, or a new one.
    private mutating func key(at path: String) throws -> P256.Signing.PrivateKey {
        if !material.fresh, let text = store.read(path), let existing = try? PEMFile.privateKey(fromPEM: text) {
            material.report.keysKept += 1
            return existing
        }
        material.report.keysGenerated += 1
        return KeyGeneration.newP256Key()
    }

    /// The PEM of the certificate at `path` if it still fits, else a newly issued one.
    private mutating func certificate(
        at path: String, ca: CertificateAuthority, key: P256.Signing.PublicKey, subject: DistinguishedName, sans: [String],
        usage: CertificateUsage
    ) throws -> String {
        if !material.fresh, let text = store.read(path), let existing = try? PEMFile.certificate(fromPEM: text),
            existing.publicKey == Certificate.PublicKey(key), existing.subject == subject, ca.hasIssued(existing),
            existing.notValidAfter > Date(), Self.dnsNames(existing) == sans
        {
            return text
        }
        material.report.certificatesIssued += 1
        let certificate = try ca.issue(
            subject: subject, sans: sans, usage: usage, publicKey: key, validityDays: validityDays,
            notBefore: nil)
        return try PEMFile.pem(for: certificate)
    }

    /// The SAN entries of a certificate as text, in order.
    static func dnsNames(_ certificate: Certificate) -> [String] {
        guard let sans = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return sans.map { name in
            switch name {
            case .dnsName(let dns): return dns
            case .ipAddress(let bytes): return IPAddressText.format(Array(bytes.bytes))
            default: return "\(name)"
            }
        }
    }

    /// cryptogen's CA subject: C, ST, L, O (the domain), [OU], CN.
    private func caSubject(commonName: String) throws -> DistinguishedName {
        let fields = org.subject
        return try DistinguishedName {
            CountryName(fields.country)
            StateOrProvinceName(fields.province)
            LocalityName(fields.locality)
            OrganizationName(org.domain)
            if let unit = fields.organizationalUnit { OrganizationalUnitName(unit) }
            CommonName(commonName)
        }
    }

    /// cryptogen's leaf subject: C, ST, L, [CA OU], [NodeOU role], CN — no O.
    private func subject(commonName: String, role: CryptoLayout.Role?) throws -> DistinguishedName {
        let fields = org.subject
        return try DistinguishedName {
            CountryName(fields.country)
            StateOrProvinceName(fields.province)
            LocalityName(fields.locality)
            if let unit = fields.organizationalUnit { OrganizationalUnitName(unit) }
            if let role { OrganizationalUnitName(role.rawValue) }
            CommonName(commonName)
        }
    }
}

/// Formats IP address bytes the way they are written in configuration (dotted quad or RFC 5952 IPv6).
enum IPAddressText {
    static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        guard ok else { return bytes.map(String.init).joined(separator: ".") }
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: text, as: UTF8.self)
    }
}
