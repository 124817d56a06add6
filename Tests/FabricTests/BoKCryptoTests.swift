import BoKSystem
import Foundation
import XCTest

/// The standalone `bok-crypto` (the crypto commands on their own, BoK's counterpart of `cryptogen`) and the
/// coordinator handing `coordinator crypto …` over to it: real executables, real files.
final class BoKCryptoTests: XCTestCase {
    private var products: String!
    private var dir: URL!

    override func setUpWithError() throws {
        let bundle = Bundle.main.bundleURL
        guard
            let found = [bundle.path, bundle.deletingLastPathComponent().path].first(where: {
                FileManager.default.isExecutableFile(atPath: $0 + "/bok-crypto")
                    && FileManager.default.isExecutableFile(atPath: $0 + "/coordinator")
            })
        else { throw XCTSkip("bok-crypto and coordinator are not built next to the tests (run `swift build` first)") }
        products = found
        dir = try TestSupport.temporaryDirectory("bok-crypto-tool")
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Every file of a tree, relative to it, sorted.
    private func files(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(root)/\($0)", isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    func testStandaloneToolMakesTheTreeTheCoordinatorMakesAndReadsItBack() throws {
        let config = TestSupport.exampleConfigPath
        let tool = products + "/bok-crypto"
        let ours = dir.appendingPathComponent("bok-crypto").path
        let generated = try TestSupport.run(tool, ["-c", config, "-o", ours])
        XCTAssertEqual(generated.status, 0, generated.output)
        XCTAssertTrue(generated.output.contains("101 files written"), generated.output)

        let inProcess = dir.appendingPathComponent("coordinator").path
        let coordinator = try TestSupport.run(
            "/usr/bin/env", ["BOK_CRYPTO_IN_PROCESS=1", products + "/coordinator", "crypto", "generate", "-c", config, "-o", inProcess])
        XCTAssertEqual(coordinator.status, 0, coordinator.output)
        XCTAssertEqual(files(ours), files(inProcess))
        XCTAssertEqual(files(ours).count, 101)

        // The tree made by one is read by the other: status checks every chain and key; a re-run keeps every key.
        let status = try TestSupport.run(products + "/coordinator", ["crypto", "status", "-c", config, "--crypto", ours])
        XCTAssertEqual(status.status, 0, status.output)
        XCTAssertTrue(status.output.contains("26 certificate(s) in \(ours)"), status.output)
        let again = try TestSupport.run(tool, ["generate", "-c", config, "-o", inProcess])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("0 keys generated"), again.output)

        // Bad input exits 2, as the coordinator's does; usage names bok-crypto.
        let unknown = try TestSupport.run(tool, ["generate", "--bogus"])
        XCTAssertEqual(unknown.status, 2, unknown.output)
        XCTAssertTrue(unknown.output.contains("Usage: bok-crypto generate"), unknown.output)
        let missing = try TestSupport.run(tool, ["-c", dir.appendingPathComponent("nope.yaml").path, "-o", ours])
        XCTAssertEqual(missing.status, 2, missing.output)
    }

    /// `coordinator crypto …` execs the `bok-crypto` beside it with the rest of its arguments and its name for usage
    /// text; `BOK_CRYPTO_IN_PROCESS=1`, another command, or no `bok-crypto` there: the coordinator runs it itself.
    func testCoordinatorHandsCryptoOverToTheToolBesideIt() throws {
        // A directory beside the build products (same file system): the coordinator hard-linked into it, and a
        // stand-in bok-crypto that records how it was called.
        let beside = products + "/handover-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: beside, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: beside) }
        try FileManager.default.linkItem(atPath: products + "/coordinator", toPath: beside + "/coordinator")
        let record = dir.appendingPathComponent("called").path
        let fake = """
            #!/bin/sh
            printf '%s|%s\\n' "$BOK_CRYPTO_COMMAND_NAME" "$*" > '\(record)'
            exit 7

            """
        FileManager.default.createFile(atPath: beside + "/bok-crypto", contents: Data(fake.utf8), attributes: [.posixPermissions: 0o755])

        let handed = try TestSupport.run(beside + "/coordinator", ["crypto", "status", "-c", "x.yaml", "--json"])
        XCTAssertEqual(handed.status, 7, handed.output)
        XCTAssertEqual(try String(contentsOfFile: record, encoding: .utf8), "coordinator crypto|status -c x.yaml --json\n")

        try FileManager.default.removeItem(atPath: record)
        let inProcess = try TestSupport.run("/usr/bin/env", ["BOK_CRYPTO_IN_PROCESS=1", beside + "/coordinator", "crypto", "--help"])
        XCTAssertEqual(inProcess.status, 0, inProcess.output)
        XCTAssertTrue(inProcess.output.contains("USAGE: coordinator crypto <subcommand>"), inProcess.output)
        XCTAssertEqual(try TestSupport.run(beside + "/coordinator", ["version"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: record), "only `crypto` is handed over")

        try FileManager.default.removeItem(atPath: beside + "/bok-crypto")
        let alone = try TestSupport.run(beside + "/coordinator", ["crypto", "--help"])
        XCTAssertEqual(alone.status, 0, alone.output)
        XCTAssertTrue(alone.output.contains("USAGE: coordinator crypto <subcommand>"), alone.output)
    }

    /// Unmapping the executable's read-only pages leaves the process running: the code faults back in.
    func testReleasingExecutablePagesKeepsTheProcessWorking() throws {
        let released = ExecutablePages.release()
        XCTAssertGreaterThan(released, 0, "the test executable's code is mapped and resident")
        XCTAssertEqual(TextTable.render(["A", "B"], [["xx", "y"]]), "A   B\nxx  y")
        XCTAssertGreaterThanOrEqual(ExecutablePages.release(), 0)
    }
}
