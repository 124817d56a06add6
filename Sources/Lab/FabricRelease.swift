import BoKSystem
import Crypto
import DockerEngine
import Foundation

/// BoK's caches: `$BOK_CACHE_DIR`, else `/var/cache/bok`. Fabric releases live in `<root>/fabric`,
/// the chaincode images built from Debian packages in `<root>/images`.
public enum BoKCache {
    public static let environmentVariable = "BOK_CACHE_DIR"
    public static let defaultRoot = "/var/cache/bok"

    public static func root(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let dir = environment[environmentVariable], !dir.isEmpty { return dir }
        return defaultRoot
    }

    /// Where unpacked Fabric releases are kept: `<root>/fabric`.
    public static func fabricDir(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        root(environment: environment) + "/fabric"
    }

    /// Where the chaincode images' tars are kept: `<root>/images`.
    public static func imagesDir(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        root(environment: environment) + "/images"
    }
}

/// A Hyperledger Fabric release in the layout of the tarballs Hyperledger publishes (`bin/`,
/// `config/`), validated: `peer`, `orderer`, `osnadmin`, `configtxgen` executable, `core.yaml` and
/// `orderer.yaml` present, and the version `bin/peer version` reports.
///
/// Resolved from, in order: an explicit `--fabric-release DIR|TARBALL`, `$BOK_FABRIC_RELEASE`, the
/// cache (`$BOK_CACHE_DIR/fabric`, default `/var/cache/bok/fabric`). A value may be
/// (a) a directory in the release layout (used in place),
/// (b) a release tarball (`hyperledger-fabric-linux-amd64-2.5.x.tar.gz`), unpacked into the cache in a
///     directory named by its sha256, or
/// (c) a directory holding release tarballs (Fabric, optionally Fabric CA, optionally `chaincode/`):
///     all unpacked into one cache directory named by the sha256 of their manifest, `chaincode/` copied
///     alongside.
/// Unpacking into the cache also points `<cache>/current` at the result, which is what a later
/// resolution without a value uses. Nothing is ever downloaded.
public struct FabricRelease: Sendable, Equatable, CustomStringConvertible {
    public static let environmentVariable = "BOK_FABRIC_RELEASE"
    /// The executables BoK runs from a release; each must be present and executable.
    public static let requiredBinaries = ["peer", "orderer", "osnadmin", "configtxgen"]
    /// The sample configuration the Fabric images carry at `FABRIC_CFG_PATH`.
    public static let requiredConfig = ["core.yaml", "orderer.yaml"]
    /// The name of the marker a complete cache entry carries (written last).
    static let marker = ".bok-release"
    static let fabricTarballPrefix = "hyperledger-fabric-linux-amd64-"
    static let caTarballPrefix = "hyperledger-fabric-ca-linux-amd64-"

    /// The directory holding `bin/` and `config/`.
    public let root: String
    /// `peer version`'s `Version:` (e.g. `2.5.0`).
    public let version: String
    /// `bin/fabric-ca-server` and `bin/fabric-ca-client` are both there.
    public let hasFabricCA: Bool
    /// `<root>/chaincode` when the release carries chaincode samples (case (c)), else nil.
    public let chaincodeDir: String?
    /// What the release was resolved from (the explicit value, the variable, or the cache).
    public let origin: String

    public var binDir: String { root + "/bin" }
    public var configDir: String { root + "/config" }
    /// `2.5` for `2.5.0`: the tag of `hyperledger/fabric-ccenv` and `fabric-baseos` this peer uses.
    public var twoDigitVersion: String {
        let parts = version.split(separator: ".")
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : version
    }
    /// The path of one of the release's executables (`peer`, `orderer`, …).
    public func binary(_ name: String) -> String { binDir + "/" + name }
    /// A chaincode sample of the release (`simple`), when present.
    public func chaincode(_ name: String) -> String? {
        guard let dir = chaincodeDir else { return nil }
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir)
            && isDir.boolValue ? dir + "/" + name : nil
    }

    public var description: String {
        "Fabric \(version) at \(root)\(hasFabricCA ? " (with fabric-ca)" : "")\(chaincodeDir.map { ", chaincode in \($0)" } ?? "")"
    }

    // MARK: resolution

    /// Resolves the release: `explicit` (from `--fabric-release`), else `$BOK_FABRIC_RELEASE`, else
    /// the cache. `cacheDir` defaults to `BoKCache.fabricDir(environment:)`.
    public static func resolve(
        explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        cacheDir: String? = nil, progress: (String) -> Void = { _ in }
    ) throws(LabError) -> FabricRelease {
        let cache = cacheDir ?? BoKCache.fabricDir(environment: environment)
        if let value = explicit, !value.isEmpty {
            return try open(
                value, cacheDir: cache, origin: "--fabric-release \(value)", progress: progress)
        }
        if let value = environment[environmentVariable], !value.isEmpty {
            return try open(
                value, cacheDir: cache, origin: "\(environmentVariable)=\(value)", progress: progress)
        }
        return try cached(cacheDir: cache)
    }

    /// Opens one value: a release directory, a release tarball, or a directory of release tarballs.
    public static func open(
        _ path: String, cacheDir: String, origin: String? = nil, progress: (String) -> Void = { _ in }
    )
        throws(LabError) -> FabricRelease
    {
        let origin = origin ?? path
        let absolute =
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir) else {
            throw LabError(
                step: "finding the Fabric release (\(origin))",
                detail: "\(absolute) does not exist; \(howToPoint)")
        }
        if !isDir.boolValue {
            guard absolute.hasSuffix(".tar.gz") || absolute.hasSuffix(".tgz") else {
                throw LabError(
                    step: "opening the Fabric release (\(origin))",
                    detail: "\(absolute) is a file but not a .tar.gz release tarball; \(howToPoint)")
            }
            return try unpackTarball(absolute, cacheDir: cacheDir, origin: origin, progress: progress)
        }
        if isReleaseLayout(absolute) {
            return try validate(root: absolute, origin: origin)
        }
        if try !tarballs(in: absolute).fabric.isEmpty {
            return try unpackDirectory(absolute, cacheDir: cacheDir, origin: origin, progress: progress)
        }
        throw LabError(
            step: "opening the Fabric release (\(origin))",
            detail:
                "\(absolute) holds neither a release (bin/ and config/) nor a \(fabricTarballPrefix)*.tar.gz; \(howToPoint)"
        )
    }

    /// The release the cache holds: `<cache>/current`, else the most recently unpacked entry.
    public static func cached(cacheDir: String) throws(LabError) -> FabricRelease {
        let current = cacheDir + "/current"
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: current) {
            let dir = target.hasPrefix("/") ? target : cacheDir + "/" + target
            if FileManager.default.fileExists(atPath: dir + "/" + marker) {
                return try validate(root: dir, origin: "the cache (\(current))")
            }
        }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: cacheDir)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != "current" }
            .map { cacheDir + "/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0 + "/" + marker) }
        let newest = entries.max {
            modificationDate($0 + "/" + marker) < modificationDate($1 + "/" + marker)
        }
        guard let newest else {
            throw LabError(
                step: "finding the Fabric release",
                detail:
                    "no --fabric-release given, \(environmentVariable) is not set and the cache \(cacheDir) holds no release; \(howToPoint), or run scripts/install-deps.sh with ../shared/fabric beside the checkout"
            )
        }
        return try validate(root: newest, origin: "the cache (\(newest))")
    }

    static let howToPoint =
        "point --fabric-release (or \(environmentVariable)) at the \(fabricTarballPrefix)2.5.x.tar.gz you downloaded, at the directory you unpacked it in (bin/, config/), or at a directory holding the release tarballs"

    // MARK: validation

    static func isReleaseLayout(_ dir: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: dir + "/bin", isDirectory: &isDir)
            && isDir.boolValue
    }

    /// Checks the layout, the executables and the configuration, and reads the version.
    public static func validate(root: String, origin: String? = nil) throws(LabError) -> FabricRelease {
        let origin = origin ?? root
        let fm = FileManager.default
        var problems: [String] = []
        for name in requiredBinaries {
            let path = "\(root)/bin/\(name)"
            if !fm.fileExists(atPath: path) {
                problems.append("bin/\(name) is missing")
            } else if !fm.isExecutableFile(atPath: path) {
                problems.append("bin/\(name) is not executable (chmod +x \(path))")
            }
        }
        for name in requiredConfig where !fm.fileExists(atPath: "\(root)/config/\(name)") {
            problems.append("config/\(name) is missing")
        }
        guard problems.isEmpty else {
            throw LabError(
                step: "validating the Fabric release in \(root) (from \(origin))",
                detail:
                    "\(problems.joined(separator: "; ")); a release has bin/ (peer, orderer, osnadmin, configtxgen, …) and config/ (core.yaml, orderer.yaml, configtx.yaml): \(howToPoint)"
            )
        }
        let peer = "\(root)/bin/peer"
        let r = CommandRunner.run(
            [peer, "version"], timeout: 30,
            environment: ["PATH": "/usr/bin:/bin", "FABRIC_CFG_PATH": root + "/config"])
        guard r.succeeded else {
            throw LabError(
                step: "reading the version of the Fabric release in \(root) (from \(origin))",
                detail:
                    "`\(peer) version` \(r.timedOut ? "timed out" : "exited \(r.exitCode)"): \(r.tail(3).joined(separator: " | ")); is it the linux-amd64 release? \(howToPoint)"
            )
        }
        guard let version = parseVersion(r.stdout) else {
            throw LabError(
                step: "reading the version of the Fabric release in \(root) (from \(origin))",
                detail:
                    "`\(peer) version` printed no `Version:` line (\(r.tail(3).joined(separator: " | "))); \(howToPoint)"
            )
        }
        guard version.hasPrefix("2.") else {
            throw LabError(
                step: "checking the version of the Fabric release in \(root) (from \(origin))",
                detail:
                    "it is Fabric \(version); BoK renders Fabric 2.x configuration and runs Go chaincode on fabric-ccenv/baseos 2.5: \(howToPoint)"
            )
        }
        let hasCA = ["fabric-ca-server", "fabric-ca-client"].allSatisfy {
            fm.isExecutableFile(atPath: "\(root)/bin/\($0)")
        }
        var isDir: ObjCBool = false
        let chaincode =
            fm.fileExists(atPath: root + "/chaincode", isDirectory: &isDir) && isDir.boolValue
            ? root + "/chaincode" : nil
        return FabricRelease(
            root: root, version: version, hasFabricCA: hasCA, chaincodeDir: chaincode, origin: origin)
    }

    /// `Version: 2.5.0` from `peer version`'s output.
    public static func parseVersion(_ output: String) -> String? {
        for line in output.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("Version:") {
                let v = t.dropFirst("Version:".count).trimmingCharacters(in: .whitespaces)
                return v.isEmpty ? nil : (v.hasPrefix("v") ? String(v.dropFirst()) : v)
            }
        }
        return nil
    }

    // MARK: unpacking into the cache

    /// The release tarballs in a directory: Fabric's and Fabric CA's (highest version first).
    static func tarballs(in dir: String) throws(LabError) -> (fabric: [String], ca: [String]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        func pick(_ prefix: String) -> [String] {
            names.filter { $0.hasPrefix(prefix) && ($0.hasSuffix(".tar.gz") || $0.hasSuffix(".tgz")) }
                .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        }
        return (pick(fabricTarballPrefix), pick(caTarballPrefix))
    }

    /// (b): one tarball → `<cache>/<sha256 of the tarball>`.
    static func unpackTarball(
        _ tarball: String, cacheDir: String, origin: String, progress: (String) -> Void
    ) throws(LabError)
        -> FabricRelease
    {
        let key = try sha256(ofFile: tarball)
        let dest = cacheDir + "/" + key
        if FileManager.default.fileExists(atPath: dest + "/" + marker) {
            let release = try validate(root: dest, origin: origin)
            try pointCurrent(cacheDir: cacheDir, at: key)
            return release
        }
        progress("fabric release: unpacking \(tarball) into \(dest)")
        let partial = try makePartial(cacheDir: cacheDir)
        do {
            try untar(tarball, into: partial)
            try hoistSingleTopDirectory(partial)
            try Host.write("source: \(tarball)\nsha256: \(key)\n", to: partial + "/" + marker)
            _ = try validate(root: partial, origin: origin)
            try commit(partial: partial, to: dest)
        } catch {
            _ = CommandRunner.run(["rm", "-rf", partial], timeout: 120)
            throw error
        }
        try pointCurrent(cacheDir: cacheDir, at: key)
        return try validate(root: dest, origin: origin)
    }

    /// (c): a directory of tarballs → `<cache>/<sha256 of the manifest>` holding Fabric, Fabric CA
    /// and `chaincode/`.
    static func unpackDirectory(
        _ dir: String, cacheDir: String, origin: String, progress: (String) -> Void
    ) throws(LabError)
        -> FabricRelease
    {
        let found = try tarballs(in: dir)
        guard let fabric = found.fabric.first else {
            throw LabError(
                step: "opening the Fabric release (\(origin))",
                detail: "\(dir) holds no \(fabricTarballPrefix)*.tar.gz; \(howToPoint)")
        }
        let ca = found.ca.first
        let key = try manifestKey(dir: dir, tarballs: [fabric] + (ca.map { [$0] } ?? []))
        let dest = cacheDir + "/" + key
        if FileManager.default.fileExists(atPath: dest + "/" + marker) {
            let release = try validate(root: dest, origin: origin)
            try pointCurrent(cacheDir: cacheDir, at: key)
            return release
        }
        progress(
            "fabric release: unpacking \(fabric)\(ca.map { " and \($0)" } ?? "") from \(dir) into \(dest)"
        )
        let partial = try makePartial(cacheDir: cacheDir)
        do {
            try untar(dir + "/" + fabric, into: partial)
            if let ca { try untar(dir + "/" + ca, into: partial) }
            if FileManager.default.fileExists(atPath: dir + "/chaincode") {
                try Host.run(
                    ["cp", "-R", dir + "/chaincode", partial + "/chaincode"],
                    step: "copying \(dir)/chaincode into the cache", timeout: 120)
                // The source may be read-only (a shared mount); the cache copy is ours.
                try Host.run(
                    ["chmod", "-R", "u+w", partial + "/chaincode"],
                    step: "making \(partial)/chaincode writable")
            }
            try Host.write(
                "source: \(dir)\nfabric: \(fabric)\n\(ca.map { "fabric-ca: \($0)\n" } ?? "")manifest-sha256: \(key)\n",
                to: partial + "/" + marker)
            _ = try validate(root: partial, origin: origin)
            try commit(partial: partial, to: dest)
        } catch {
            _ = CommandRunner.run(["rm", "-rf", partial], timeout: 120)
            throw error
        }
        try pointCurrent(cacheDir: cacheDir, at: key)
        return try validate(root: dest, origin: origin)
    }

    /// The key of a directory of tarballs: the sha256 of `sha256sum`'s output over the tarballs and
    /// every regular file under `chaincode/`, in byte order of their relative paths (the same as
    /// `LC_ALL=C sort | xargs sha256sum | sha256sum` in scripts/install-deps.sh).
    public static func manifestKey(dir: String, tarballs: [String]) throws(LabError) -> String {
        var files = tarballs
        let fm = FileManager.default
        if let walker = fm.enumerator(atPath: dir + "/chaincode") {
            for case let rel as String in walker {
                let path = dir + "/chaincode/" + rel
                if let type = try? fm.attributesOfItem(atPath: path)[.type] as? FileAttributeType,
                    type == .typeRegular
                {
                    files.append("chaincode/" + rel)
                }
            }
        }
        files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var manifest = ""
        for f in files { manifest += "\(try sha256(ofFile: dir + "/" + f))  \(f)\n" }
        return SHA256.hash(data: Data(manifest.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public static func sha256(ofFile path: String) throws(LabError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LabError(
                step: "reading \(path)",
                detail: "cannot open it for reading; check that it exists and is readable")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw LabError(step: "reading \(path)", detail: "\(error)")
            }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func makePartial(cacheDir: String) throws(LabError) -> String {
        try Host.mkdir(cacheDir)
        let partial = "\(cacheDir)/.partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Host.mkdir(partial)
        return partial
    }

    static func untar(_ tarball: String, into dir: String) throws(LabError) {
        let r = CommandRunner.run(
            ["tar", "-xzf", tarball, "-C", dir, "--no-same-owner", "-m"], timeout: 300)
        guard r.succeeded else {
            throw LabError(
                step: "unpacking \(tarball) into \(dir)",
                detail:
                    "`tar -xzf` \(r.timedOut ? "timed out" : "exited \(r.exitCode)"): \(r.tail(3).joined(separator: " | ")); is it a complete, uncorrupted release tarball? Download it again, then \(howToPoint)"
            )
        }
    }

    /// A tarball with everything under one top directory (`fabric-2.5.0/bin/…`): move it up.
    static func hoistSingleTopDirectory(_ dir: String) throws(LabError) {
        guard !isReleaseLayout(dir) else { return }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            !$0.hasPrefix(".")
        }
        guard entries.count == 1, isReleaseLayout(dir + "/" + entries[0]) else { return }
        let top = dir + "/" + entries[0]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: top)) ?? [] {
            do {
                try FileManager.default.moveItem(atPath: top + "/" + name, toPath: dir + "/" + name)
            } catch {
                throw LabError(step: "arranging the unpacked release in \(dir)", detail: "\(error)")
            }
        }
        try? FileManager.default.removeItem(atPath: top)
    }

    /// Moves a finished partial directory to its final name; another process may have won the race.
    static func commit(partial: String, to dest: String) throws(LabError) {
        if rename(partial, dest) == 0 { return }
        let err = errno
        if FileManager.default.fileExists(atPath: dest + "/" + marker) {
            _ = CommandRunner.run(["rm", "-rf", partial], timeout: 120)
            return
        }
        throw LabError(
            step: "moving \(partial) to \(dest)",
            detail: "\(String(cString: strerror(err))); remove \(dest) and try again")
    }

    static func pointCurrent(cacheDir: String, at key: String) throws(LabError) {
        let tmp = "\(cacheDir)/.current-\(getpid())"
        unlink(tmp)
        guard symlink(key, tmp) == 0, rename(tmp, cacheDir + "/current") == 0 else {
            let err = String(cString: strerror(errno))
            unlink(tmp)
            throw LabError(
                step: "pointing \(cacheDir)/current at \(key)",
                detail: "\(err); check that \(cacheDir) is writable")
        }
    }

    static func modificationDate(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date)
            ?? .distantPast
    }
}
