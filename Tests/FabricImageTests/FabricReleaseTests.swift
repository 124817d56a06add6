import BoKSystem
import DockerEngine
import Foundation
import Lab
import XCTest

/// `FabricRelease` over fake releases in a temporary directory (every layout, every error), and
/// over the real `../shared/fabric` when it is there.
final class FabricReleaseTests: XCTestCase {
    var tmp = ""

    override func setUp() {
        tmp =
            NSTemporaryDirectory() + "bok-fabric-release-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDown() {
        _ = CommandRunner.run(["rm", "-rf", tmp])
    }

    /// The repository's `../shared/fabric`, when this checkout has one beside it.
    static var sharedFabric: String? {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let dir = repo.deletingLastPathComponent().appendingPathComponent("shared/fabric").path
        return FileManager.default.fileExists(atPath: dir) ? dir : nil
    }

    /// A release directory whose `peer version` prints `version`.
    @discardableResult
    func makeRelease(
        _ dir: String, version: String = "2.5.0",
        binaries: [String] = FabricRelease.requiredBinaries + ["configtxlator", "cryptogen"],
        config: [String] = ["core.yaml", "orderer.yaml", "configtx.yaml"], ca: Bool = false
    ) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/config", withIntermediateDirectories: true)
        for b in binaries + (ca ? ["fabric-ca-server", "fabric-ca-client"] : []) {
            let body =
                b == "peer"
                ? "#!/bin/sh\nprintf 'peer:\\n Version: \(version)\\n Commit SHA: test\\n'\n"
                : "#!/bin/sh\nexit 0\n"
            try body.write(toFile: "\(dir)/bin/\(b)", atomically: true, encoding: .utf8)
            chmod("\(dir)/bin/\(b)", 0o755)
        }
        for c in config {
            try "# \(c)\n".write(toFile: "\(dir)/config/\(c)", atomically: true, encoding: .utf8)
        }
        return dir
    }

    func tarball(of dir: String, to path: String, entries: [String] = ["bin", "config"]) throws {
        let r = CommandRunner.run(["tar", "-C", dir, "-czf", path] + entries)
        XCTAssertTrue(r.succeeded, r.stderr)
    }

    func error(_ body: () throws -> Void) -> String {
        do {
            try body()
            XCTFail("expected an error")
            return ""
        } catch {
            return "\(error)"
        }
    }

    // MARK: (a) a release directory

    func testReleaseDirectoryIsUsedInPlace() throws {
        let dir = try makeRelease(tmp + "/fabric-2.5.0")
        let r = try FabricRelease.resolve(explicit: dir, environment: [:], cacheDir: tmp + "/cache")
        XCTAssertEqual(r.root, dir)
        XCTAssertEqual(r.binDir, dir + "/bin")
        XCTAssertEqual(r.configDir, dir + "/config")
        XCTAssertEqual(r.version, "2.5.0")
        XCTAssertEqual(r.twoDigitVersion, "2.5")
        XCTAssertFalse(r.hasFabricCA)
        XCTAssertNil(r.chaincodeDir)
        XCTAssertEqual(r.binary("peer"), dir + "/bin/peer")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: tmp + "/cache"), "a release directory is not copied")
    }

    func testMissingPiecesAreNamedWithWhereAndWhatToDo() throws {
        let dir = try makeRelease(
            tmp + "/broken", binaries: ["peer", "osnadmin", "configtxgen"], config: ["orderer.yaml"])
        let message = error {
            _ = try FabricRelease.resolve(explicit: dir, environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(message.contains("bin/orderer is missing"), message)
        XCTAssertTrue(message.contains("config/core.yaml is missing"), message)
        XCTAssertTrue(message.contains(dir), message)
        XCTAssertTrue(
            message.contains("hyperledger-fabric-linux-amd64-2.5.x.tar.gz you downloaded"), message)
    }

    func testNonExecutableBinaryIsNamed() throws {
        let dir = try makeRelease(tmp + "/noexec")
        chmod(dir + "/bin/configtxgen", 0o644)
        let message = error { _ = try FabricRelease.validate(root: dir) }
        XCTAssertTrue(
            message.contains("bin/configtxgen is not executable (chmod +x \(dir)/bin/configtxgen)"),
            message)
    }

    func testOtherMajorVersionIsRefused() throws {
        let dir = try makeRelease(tmp + "/old", version: "1.4.12")
        let message = error { _ = try FabricRelease.validate(root: dir) }
        XCTAssertTrue(message.contains("Fabric 1.4.12"), message)
        XCTAssertTrue(message.contains("--fabric-release"), message)
    }

    func testPeerThatDoesNotRunIsReported() throws {
        let dir = try makeRelease(tmp + "/badpeer")
        try "#!/bin/sh\necho 'exec format error' >&2\nexit 126\n".write(
            toFile: dir + "/bin/peer", atomically: true, encoding: .utf8)
        chmod(dir + "/bin/peer", 0o755)
        let message = error { _ = try FabricRelease.validate(root: dir) }
        XCTAssertTrue(message.contains("`\(dir)/bin/peer version` exited 126"), message)
        XCTAssertTrue(message.contains("linux-amd64"), message)
    }

    func testParseVersion() {
        XCTAssertEqual(
            FabricRelease.parseVersion("peer:\n Version: 2.5.0\n Commit SHA: v2.5.0\n"), "2.5.0")
        XCTAssertEqual(FabricRelease.parseVersion("peer:\n Version: v2.5.4\n"), "2.5.4")
        XCTAssertNil(FabricRelease.parseVersion("peer:\n Commit SHA: x\n"))
    }

    // MARK: (b) a tarball

    func testTarballIsUnpackedOnceIntoTheCacheByItsSHA256() throws {
        let src = try makeRelease(tmp + "/src")
        let tar = tmp + "/hyperledger-fabric-linux-amd64-2.5.0.tar.gz"
        try tarball(of: src, to: tar)
        let cache = tmp + "/cache"
        let sha = try FabricRelease.sha256(ofFile: tar)
        XCTAssertEqual(
            sha,
            CommandRunner.run(["sha256sum", tar]).stdout.split(separator: " ").first.map(String.init))
        var messages: [String] = []
        let r = try FabricRelease.resolve(explicit: tar, environment: [:], cacheDir: cache) {
            messages.append($0)
        }
        XCTAssertEqual(r.root, cache + "/" + sha)
        XCTAssertEqual(r.version, "2.5.0")
        XCTAssertEqual(messages.count, 1, "unpacked once: \(messages)")
        XCTAssertEqual(
            try FileManager.default.destinationOfSymbolicLink(atPath: cache + "/current"), sha)
        let marker = cache + "/" + sha + "/.bok-release"
        let before =
            try FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date

        messages = []
        let again = try FabricRelease.resolve(explicit: tar, environment: [:], cacheDir: cache) {
            messages.append($0)
        }
        XCTAssertEqual(again.root, r.root)
        XCTAssertEqual(messages, [], "a cached tarball is not unpacked again")
        XCTAssertEqual(
            try FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date, before)

        // Nothing given: the cache's `current`.
        let cached = try FabricRelease.resolve(explicit: nil, environment: [:], cacheDir: cache)
        XCTAssertEqual(cached.root, r.root)
        XCTAssertTrue(cached.origin.contains("cache"), cached.origin)
        // No partial directories are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache).filter {
            $0.hasPrefix(".")
        }
        XCTAssertEqual(leftovers, [])
    }

    func testTarballWithOneTopDirectory() throws {
        try makeRelease(tmp + "/top/fabric-2.5.0")
        let tar = tmp + "/release.tgz"
        try tarball(of: tmp + "/top", to: tar, entries: ["fabric-2.5.0"])
        let r = try FabricRelease.resolve(explicit: tar, environment: [:], cacheDir: tmp + "/cache")
        XCTAssertEqual(r.version, "2.5.0")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: r.binary("orderer")))
    }

    func testBrokenTarballsAreReported() throws {
        let garbage = tmp + "/hyperledger-fabric-linux-amd64-2.5.0.tar.gz"
        try "not a tarball".write(toFile: garbage, atomically: true, encoding: .utf8)
        var message = error {
            _ = try FabricRelease.resolve(explicit: garbage, environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(message.contains("unpacking \(garbage)"), message)
        XCTAssertTrue(message.contains("Download it again"), message)
        XCTAssertEqual(
            (try? FileManager.default.contentsOfDirectory(atPath: tmp + "/cache")) ?? [], [],
            "the partial unpack is removed")

        // A Fabric CA tarball alone is not a Fabric release.
        let caOnly = try makeRelease(
            tmp + "/ca", binaries: ["fabric-ca-server", "fabric-ca-client"], config: [])
        let caTar = tmp + "/hyperledger-fabric-ca-linux-amd64-1.5.5.tar.gz"
        try tarball(of: caOnly, to: caTar)
        message = error {
            _ = try FabricRelease.resolve(explicit: caTar, environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(message.contains("bin/peer is missing"), message)

        let notTar = tmp + "/notes.txt"
        try "x".write(toFile: notTar, atomically: true, encoding: .utf8)
        message = error {
            _ = try FabricRelease.resolve(explicit: notTar, environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(message.contains("not a .tar.gz release tarball"), message)
    }

    // MARK: (c) a directory of tarballs

    func testDirectoryOfTarballsWithCAAndChaincode() throws {
        let shared = tmp + "/shared"
        let fabric = try makeRelease(tmp + "/f")
        let ca = try makeRelease(
            tmp + "/c", binaries: ["fabric-ca-server", "fabric-ca-client"], config: [])
        try FileManager.default.createDirectory(
            atPath: shared + "/chaincode/simple/cmd", withIntermediateDirectories: true)
        try tarball(of: fabric, to: shared + "/hyperledger-fabric-linux-amd64-2.5.0.tar.gz")
        try tarball(
            of: ca, to: shared + "/hyperledger-fabric-ca-linux-amd64-1.5.5.tar.gz", entries: ["bin"])
        try "module example.com/simple\n".write(
            toFile: shared + "/chaincode/simple/go.mod", atomically: true, encoding: .utf8)
        try "package main\n".write(
            toFile: shared + "/chaincode/simple/cmd/main.go", atomically: true, encoding: .utf8)
        let cache = tmp + "/cache"
        let r = try FabricRelease.resolve(
            explicit: nil, environment: [FabricRelease.environmentVariable: shared], cacheDir: cache)
        XCTAssertTrue(r.hasFabricCA)
        XCTAssertEqual(r.version, "2.5.0")
        XCTAssertEqual(r.chaincodeDir, r.root + "/chaincode")
        XCTAssertEqual(r.chaincode("simple"), r.root + "/chaincode/simple")
        XCTAssertNil(r.chaincode("absent"))
        XCTAssertTrue(r.origin.contains(FabricRelease.environmentVariable), r.origin)
        // The key is the one scripts/install-deps.sh computes.
        XCTAssertEqual((r.root as NSString).lastPathComponent, try scriptKey(shared))
        // An explicit value beats the variable.
        let other = try makeRelease(tmp + "/explicit", version: "2.5.4")
        let explicit = try FabricRelease.resolve(
            explicit: other, environment: [FabricRelease.environmentVariable: shared], cacheDir: cache)
        XCTAssertEqual(explicit.version, "2.5.4")
        // A changed chaincode file is a new cache entry.
        try "package main // changed\n".write(
            toFile: shared + "/chaincode/simple/cmd/main.go", atomically: true, encoding: .utf8)
        let changed = try FabricRelease.resolve(explicit: shared, environment: [:], cacheDir: cache)
        XCTAssertNotEqual(changed.root, r.root)
        XCTAssertEqual(
            try String(contentsOfFile: changed.root + "/chaincode/simple/cmd/main.go", encoding: .utf8),
            "package main // changed\n")
    }

    /// The cache key exactly as scripts/install-deps.sh computes it.
    func scriptKey(_ dir: String) throws -> String {
        let script = """
            cd "$1" && f=$(ls -1 hyperledger-fabric-linux-amd64-*.tar.gz | sort -V -r | head -n 1) && \
            c=$(ls -1 hyperledger-fabric-ca-linux-amd64-*.tar.gz 2>/dev/null | sort -V -r | head -n 1 || true) && \
            { printf '%s\\n' "$f" ${c:+"$c"}; if [ -d chaincode ]; then find chaincode -type f; fi; } \
            | LC_ALL=C sort | tr '\\n' '\\0' | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
            """
        let r = CommandRunner.run(["bash", "-c", script, "bash", dir])
        XCTAssertTrue(r.succeeded, r.stderr)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testScriptKeyMatchesTheInstallScript() throws {
        // The pipeline above is the one in scripts/install-deps.sh (kept in step by this check).
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let script = try String(
            contentsOfFile: repo.appendingPathComponent("scripts/install-deps.sh").path, encoding: .utf8)
        XCTAssertTrue(
            script.contains(
                "| LC_ALL=C sort | tr '\\n' '\\0' | xargs -0 sha256sum | sha256sum | cut -d' ' -f1"))
        XCTAssertTrue(script.contains("find chaincode -type f"))
    }

    func testDirectoryWithNothingUsable() throws {
        try FileManager.default.createDirectory(
            atPath: tmp + "/empty", withIntermediateDirectories: true)
        var message = error {
            _ = try FabricRelease.resolve(
                explicit: tmp + "/empty", environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(
            message.contains(
                "holds neither a release (bin/ and config/) nor a hyperledger-fabric-linux-amd64-*.tar.gz"),
            message)
        message = error {
            _ = try FabricRelease.resolve(
                explicit: tmp + "/nowhere", environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(message.contains("\(tmp)/nowhere does not exist"), message)
        message = error {
            _ = try FabricRelease.resolve(explicit: nil, environment: [:], cacheDir: tmp + "/cache")
        }
        XCTAssertTrue(
            message.contains(
                "no --fabric-release given, BOK_FABRIC_RELEASE is not set and the cache \(tmp)/cache holds no release"
            ), message)
        XCTAssertTrue(message.contains("scripts/install-deps.sh"), message)
    }

    func testCacheLocations() {
        XCTAssertEqual(BoKCache.root(environment: [:]), "/var/cache/bok")
        XCTAssertEqual(BoKCache.fabricDir(environment: [:]), "/var/cache/bok/fabric")
        XCTAssertEqual(BoKCache.fabricDir(environment: ["BOK_CACHE_DIR": "/srv/c"]), "/srv/c/fabric")
        XCTAssertEqual(BoKCache.imagesDir(environment: ["BOK_CACHE_DIR": "/srv/c"]), "/srv/c/images")
    }

    // MARK: the real release

    func testRealSharedRelease() throws {
        guard let shared = Self.sharedFabric else {
            throw XCTSkip("no ../shared/fabric beside this checkout")
        }
        let r = try FabricRelease.resolve(explicit: shared, environment: [:], cacheDir: tmp + "/cache")
        XCTAssertEqual(r.version, "2.5.0")
        XCTAssertEqual(r.twoDigitVersion, "2.5")
        XCTAssertTrue(r.hasFabricCA)
        for b in FabricRelease.requiredBinaries + [
            "configtxlator", "cryptogen", "fabric-ca-server", "fabric-ca-client",
        ] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: r.binary(b)), b)
        }
        for c in ["core.yaml", "orderer.yaml", "configtx.yaml"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: r.configDir + "/" + c), c)
        }
        let simple = try XCTUnwrap(r.chaincode("simple"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: simple + "/go.mod"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: simple + "/vendor/modules.txt"))
        XCTAssertEqual(
            (r.root as NSString).lastPathComponent, try scriptKey(shared),
            "install-deps.sh and FabricRelease share the cache entry")
    }
}
