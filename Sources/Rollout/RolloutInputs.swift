import AgentProtocol
import Crypto
import FabricTopology
import Foundation
import KubeClient
import PKI

#if canImport(Glibc)
    import Glibc
#endif

/// What a converged rollout needs to know to skip re-deriving the crypto material and
/// re-rendering every object: a digest of everything the rendered objects are made from, and a
/// digest of the tenant's live objects' identities and resourceVersions. Both are kept in the
/// state ConfigMap; when both still match, the cluster holds exactly what the last complete run
/// left there, built from the same inputs.
enum RolloutInputs {
    /// SHA-256 over BoK's version, this executable's identity (path, size, mtime: a rebuilt BoK
    /// may render differently under the same version), the parsed topology, the node addresses
    /// the NetworkPolicies name, the crypto directory's path and every file and directory under
    /// it (relative path, type, mode, size, inode, mtime and ctime in nanoseconds, a link's
    /// target). Any write to a file changes its ctime — `touch -d` cannot set it back — so an
    /// edited, replaced, added or removed certificate or key changes the digest without
    /// reading the files' contents. Nil when the directory cannot be read (no skipping then).
    static func digest(topology: FabricTopology, cryptoDirectory: String, nodeCIDRs: [String]) -> String? {
        var hasher = SHA256()
        func add(_ text: String) {
            hasher.update(data: Data(text.utf8))
            hasher.update(data: Data([0]))
        }
        add("bok \(BoKVersion.string)")
        add(executableIdentity())
        add(String(reflecting: topology))
        add(nodeCIDRs.joined(separator: ","))
        add(cryptoDirectory)
        guard walk(cryptoDirectory, relative: "", into: &hasher) else { return nil }
        return hex(hasher.finalize())
    }

    /// The running executable's path, size and mtime (nanoseconds).
    static func executableIdentity() -> String {
        var st = stat()
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), lstat(path, &st) == 0 else {
            return "exe ?"
        }
        return "exe \(path) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    /// Adds each entry under `path` (sorted by name, depth first) to the hash; false when a directory cannot be read.
    private static func walk(_ path: String, relative: String, into hasher: inout SHA256) -> Bool {
        guard let dir = opendir(path) else { return false }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted() {
            let full = path + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { return false }
            let type = st.st_mode & S_IFMT
            var line =
                "\(rel) \(st.st_mode) \(st.st_size) \(st.st_ino) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
            if type == S_IFLNK {
                line += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "?")
            }
            hasher.update(data: Data(line.utf8))
            hasher.update(data: Data([10]))
            if type == S_IFDIR, !walk(full, relative: rel, into: &hasher) { return false }
        }
        return true
    }

    /// The earliest `notAfter` of every certificate under `directory` (files ending in `.pem` or `.crt` that hold
    /// certificates; keys and other files are passed over), as seconds since 1970; nil when there is none. The MSP
    /// generator re-issues an expired certificate, so a converged run may skip it only before this moment.
    static func earliestCertificateExpiry(in directory: String) -> Double? {
        guard let files = FileManager.default.enumerator(atPath: directory) else { return nil }
        var earliest: Double?
        for case let file as String in files where file.hasSuffix(".pem") || file.hasSuffix(".crt") {
            guard let certificates = try? PEMFile.readCertificates(at: directory + "/" + file) else { continue }
            for certificate in certificates {
                let t = certificate.notValidAfter.timeIntervalSince1970
                if earliest == nil || t < earliest! { earliest = t }
            }
        }
        return earliest
    }

    /// SHA-256 over the identity (kind, namespace, name, uid) and resourceVersion of every listed
    /// object except the rollout's own state ConfigMap, sorted. Any write to an object — an edit,
    /// a scale, a status change, a delete and re-create — gives it a new resourceVersion.
    static func liveDigest(_ objects: [KubeObject]) -> String {
        var lines: [String] = []
        lines.reserveCapacity(objects.count)
        for object in objects where !(object.kind == "ConfigMap" && object.name == RolloutState.configMapName) {
            let uid = object["metadata", "uid"]?.stringValue ?? ""
            let rv = object["metadata", "resourceVersion"]?.stringValue ?? ""
            lines.append("\(object.kind) \(object.namespace ?? "") \(object.name) \(uid) \(rv)")
        }
        var hasher = SHA256()
        for line in lines.sorted() {
            hasher.update(data: Data(line.utf8))
            hasher.update(data: Data([10]))
        }
        return hex(hasher.finalize())
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
