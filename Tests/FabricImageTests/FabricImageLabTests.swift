import BoKSystem
import DockerEngine
import Foundation
import Lab
import XCTest

/// The chaincode images for real: built from Debian packages (cached under `BoKCache.root()`),
/// imported into a one-node lab's dockerd, then Fabric 2.5's Go chaincode path run by hand exactly
/// as the peer runs it — `simple` packaged as the peer packages it, built by Fabric's build script
/// in a ccenv container, the runtime image built FROM baseos by Fabric's Dockerfile, the chaincode
/// started in it with the peer's command line. Lab subnet 50, root /tmp/bok-test-lab-50.
final class FabricImageLabTests: XCTestCase {
    static let subnet = 50
    static let root = "/tmp/bok-test-lab-50"
    static let docker = ["docker", "-H", "unix:///run/docker.sock"]

    func testImagesBuildAndRunSimpleLikeThePeer() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root (lab namespaces, debootstrap)")
        try XCTSkipUnless(
            CommandRunner.which("debootstrap") != nil, "debootstrap missing: run scripts/install-deps.sh")
        try XCTSkipUnless(
            CommandRunner.which("dockerd") != nil, "docker.io missing: run scripts/install-deps.sh")
        let release = try Self.release()
        let simple = try XCTUnwrap(
            release.chaincode("simple"), "the release at \(release.root) carries no chaincode/simple")

        // 1. The images, built when the cache lacks them.
        let cacheRoot = BoKCache.root()
        let built = try FabricImages.ensureBuilt(cacheRoot: cacheRoot) { print("[images] \($0)") }
        for image in built.all {
            print(
                "FIGURE image \(image.name) tar \(image.tar) \(image.bytes) bytes, built \(image.builtSeconds.map { String(format: "%.1fs", $0) } ?? "cached")"
            )
            XCTAssertGreaterThan(image.bytes, 0)
        }
        XCTAssertLessThan(built.baseos.bytes, 5_000_000, "baseos stays tiny")
        XCTAssertLessThan(built.ccenv.bytes, 600_000_000, "ccenv stays trimmed")
        // Cached: a second call builds nothing.
        let again = try FabricImages.ensureBuilt(cacheRoot: cacheRoot)
        XCTAssertNil(again.ccenv.builtSeconds)
        XCTAssertNil(again.baseos.builtSeconds)

        // 2. A one-node lab; removed again whatever happens below.
        _ = LabEnvironment.down(root: Self.root, subnet: Self.subnet)
        let state = try LabEnvironment.up(
            LabSpec(name: "fabric-images", subnet: Self.subnet, nodeCount: 1, root: Self.root)
        ) {
            print("[lab] \($0)")
        }
        addTeardownBlock { _ = LabEnvironment.down(root: Self.root, subnet: Self.subnet) }
        let node = state.nodes[0]

        var start = Date()
        let imported = try FabricImages.importMissing(into: node, state: state, cacheRoot: cacheRoot) {
            print("[import] \($0)")
        }
        print(
            "FIGURE import both images into \(node.name): \(String(format: "%.1f", Date().timeIntervalSince(start)))s"
        )
        XCTAssertEqual(Set(imported), [FabricImages.ccenvName(), FabricImages.baseosName()])
        XCTAssertEqual(
            try FabricImages.importMissing(into: node, state: state, cacheRoot: cacheRoot), [],
            "present images are skipped")
        let images = try run(
            node, Self.docker + ["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
            "listing images"
        ).stdout
        print("FIGURE docker images on \(node.name):\n\(images)")
        XCTAssertEqual(
            try inspect(
                node, FabricImages.ccenvName(),
                "{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Env}}"),
            #"chaincode /go ["PATH=/go/bin:/usr/lib/go-1.19/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GOPATH=/go"]"#
        )
        XCTAssertEqual(try inspect(node, FabricImages.baseosName(), "{{.Config.User}}"), "chaincode")

        // 3. The code package as `peer lifecycle chaincode package --lang golang` makes it for a
        //    module: the module's files under src/ (gzipped tar), owned by 500.
        let work = Self.root + "/ccbuild"
        try FileManager.default.createDirectory(
            atPath: work + "/input", withIntermediateDirectories: true)
        try run(nil, ["cp", "-R", simple, work + "/input/src"], "staging the source of simple")
        let codeTar = work + "/code.tar.gz"
        try run(
            nil,
            [
                "tar", "-C", work + "/input", "--owner=500", "--group=500", "--numeric-owner",
                "--mode=u+rw,go+r,a-x+X",
                "-czf", codeTar, "src",
            ], "packing simple")

        // 4. Fabric's DockerBuild: a ccenv container running the build script, the package uploaded
        //    to /chaincode/input, started, its /chaincode/output/. downloaded as binpackage.tar.
        let build = "bok-ccbuild-simple"
        _ = node.run(Self.docker + ["rm", "-f", build])
        try run(
            node,
            Self.docker + ["create", "--name", build]
                + FabricImages.goBuildEnvironment.flatMap { ["-e", $0] }
                + [
                    FabricImages.ccenvName(), "/bin/sh", "-c",
                    FabricImages.goBuildScript(packagePath: "example.com/simple/cmd"),
                ],
            "creating the build container")
        start = Date()
        try run(
            node,
            [
                "sh", "-c",
                "\(Self.docker.joined(separator: " ")) cp - \(build):/chaincode/input < '\(codeTar)'",
            ], "uploading the code package")
        let upload = Date().timeIntervalSince(start)
        start = Date()
        let compile = node.run(Self.docker + ["start", "-a", build], timeout: 1200)
        let buildSeconds = Date().timeIntervalSince(start)
        XCTAssertTrue(
            compile.succeeded,
            "build failed (exit \(compile.exitCode)): \(compile.tail(30).joined(separator: "\n"))")
        XCTAssertTrue(compile.stdout.contains("Done!"), compile.stdout)
        XCTAssertTrue(
            (compile.stdout + compile.stderr).contains("example.com/simple/cmd"),
            "go build -v lists the package")
        print(
            "FIGURE upload \(String(format: "%.1f", upload))s, go build of simple in ccenv on \(node.name): \(String(format: "%.1f", buildSeconds))s"
        )
        let context = work + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        start = Date()
        try run(
            node,
            [
                "sh", "-c",
                "\(Self.docker.joined(separator: " ")) cp \(build):/chaincode/output/. - > '\(context)/binpackage.tar'",
            ],
            "downloading /chaincode/output")
        let download = Date().timeIntervalSince(start)
        _ = node.run(Self.docker + ["rm", "-f", build])
        let listing = try run(
            nil, ["tar", "-tvf", context + "/binpackage.tar"], "listing binpackage.tar"
        ).stdout
        XCTAssertTrue(listing.contains("chaincode"), listing)
        let binary = work + "/chaincode-binary"
        try FileManager.default.createDirectory(atPath: binary, withIntermediateDirectories: true)
        try run(
            nil, ["tar", "-xf", context + "/binpackage.tar", "-C", binary], "unpacking binpackage.tar")
        let file = try run(
            nil, ["file", "-b", binary + "/chaincode"], "inspecting the chaincode binary",
            allowMissing: true
        ).stdout
        if !file.isEmpty { XCTAssertTrue(file.contains("statically linked"), file) }

        // 5. dockercontroller's image build: FROM baseos, ADD binpackage.tar /usr/local/bin.
        try FabricImages.runtimeDockerfile(fabricVersion: release.version).write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let image = "dev-peer0.org1-f-1-simple_1.0-test"
        start = Date()
        try run(
            node, ["env", "DOCKER_BUILDKIT=0"] + Self.docker + ["build", "-t", image, context],
            "building the chaincode image", timeout: 600)
        let imageBuild = Date().timeIntervalSince(start)
        print(
            "FIGURE download \(String(format: "%.1f", download))s, runtime image build \(String(format: "%.1f", imageBuild))s"
        )
        XCTAssertEqual(
            try inspect(
                node, image, "{{.Config.User}} {{index .Config.Labels \"org.hyperledger.fabric.version\"}}"),
            "chaincode \(release.version)")

        // 6. The container as dockercontroller starts it: Cmd ["chaincode", "-peer.address=…"].
        //    Without CORE_CHAINCODE_ID_NAME the shim refuses to start …
        let noID = node.run(
            Self.docker + [
                "run", "--rm", "-e", "CORE_PEER_TLS_ENABLED=false", image, "chaincode",
                "-peer.address=peer0.org1-f-1:7052",
            ], timeout: 120)
        print("FIGURE run without id: exit \(noID.exitCode): \(noID.tail(3).joined(separator: " | "))")
        XCTAssertEqual(noID.exitCode, 2)
        XCTAssertTrue(
            noID.stderr.contains("Exiting Simple chaincode: 'CORE_CHAINCODE_ID_NAME' must be set"),
            noID.stderr + noID.stdout)
        // … with it, it runs as user chaincode and dials its peer.
        let dial = node.run(
            Self.docker + [
                "run", "--rm", "-e", "CORE_CHAINCODE_ID_NAME=simple_1.0:test", "-e",
                "CORE_PEER_TLS_ENABLED=false",
                image, "chaincode", "-peer.address=peer0.org1-f-1:7052",
            ], timeout: 120)
        print("FIGURE run with id: exit \(dial.exitCode): \(dial.tail(3).joined(separator: " | "))")
        XCTAssertEqual(dial.exitCode, 2)
        XCTAssertTrue(dial.stderr.contains("Exiting Simple chaincode:"), dial.stderr)
        XCTAssertFalse(dial.stderr.contains("must be set"), dial.stderr)
        // The node's Docker still hands containers the node's own resolver (no DNS fix here): the
        // chaincode's lookup of its peer fails, naming the name — the failure BoK's rollout fixes.
        XCTAssertTrue(dial.stderr.contains("lookup peer0.org1-f-1"), dial.stderr)
        let whoami = try run(
            node, Self.docker + ["run", "--rm", image, "sh", "-c", "id -u; command -v chaincode"],
            "checking the user and PATH"
        ).stdout
        XCTAssertEqual(
            whoami.split(separator: "\n").map(String.init), ["500", "/usr/local/bin/chaincode"])
    }

    // MARK: helpers

    /// The release: `$BOK_FABRIC_RELEASE` or the cache, else `../shared/fabric` beside this checkout.
    static func release() throws -> FabricRelease {
        if let r = try? FabricRelease.resolve() { return r }
        guard let shared = FabricReleaseTests.sharedFabric else {
            throw XCTSkip(
                "no Fabric release: set BOK_FABRIC_RELEASE, or run scripts/install-deps.sh with ../shared/fabric beside the checkout"
            )
        }
        return try FabricRelease.resolve(explicit: shared)
    }

    @discardableResult
    func run(
        _ node: LabNode?, _ argv: [String], _ what: String, timeout: Double = 300,
        allowMissing: Bool = false
    ) throws -> CommandResult {
        let r = node.map { $0.run(argv, timeout: timeout) } ?? CommandRunner.run(argv, timeout: timeout)
        if allowMissing, r.exitCode == 127 { return r }
        guard r.succeeded else {
            throw NSError(
                domain: "FabricImageTests", code: 1,
                userInfo: [
                    NSLocalizedDescriptionKey:
                        "\(what) on \(node?.name ?? "the host"): `\(argv.joined(separator: " "))` exited \(r.exitCode): \(r.tail(15).joined(separator: "\n"))"
                ])
        }
        return r
    }

    func inspect(_ node: LabNode, _ image: String, _ format: String) throws -> String {
        try run(
            node, Self.docker + ["image", "inspect", "--format", format, image], "inspecting \(image)"
        ).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
