import AgentInstaller
import Foundation
import XCTest

/// Which binary `coordinator agents install` ships by default, found from where the coordinator runs.
final class ShippedAgentTests: XCTestCase {
    var tree = ""

    override func setUp() {
        tree = FileManager.default.temporaryDirectory.appendingPathComponent("bok-shipped-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: tree + "/scripts", withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: tree + "/.build/debug", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: tree + "/Package.swift", contents: Data("// swift-tools-version: 6.1\n".utf8)))
        XCTAssertTrue(FileManager.default.createFile(atPath: tree + "/scripts/build-agent.sh", contents: Data("exit 1\n".utf8)))
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: tree)
    }

    func testACoordinatorInASourceTreeShipsTheScriptsBuild() throws {
        let coordinator = tree + "/.build/debug/coordinator"
        XCTAssertEqual(ShippedAgent.sourceTree(executable: coordinator), tree)
        XCTAssertThrowsError(try ShippedAgent.locate(executable: coordinator, build: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(tree)/.build-agent/release/agent has not been built yet"), text)
            XCTAssertTrue(text.contains("bash \(tree)/scripts/build-agent.sh"), text)
        }
        try FileManager.default.createDirectory(atPath: tree + "/.build-agent/release", withIntermediateDirectories: true)
        XCTAssertTrue(
            FileManager.default.createFile(atPath: tree + "/.build-agent/release/agent", contents: Data(), attributes: [.posixPermissions: 0o755]))
        XCTAssertEqual(try ShippedAgent.locate(executable: coordinator, build: false), tree + "/.build-agent/release/agent")
    }

    func testAFailingBuildNamesTheCommandAndItsOutput() throws {
        try "echo 'build-agent: swift not found' >&2\nexit 1\n".write(toFile: tree + "/scripts/build-agent.sh", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ShippedAgent.locate(executable: tree + "/.build/debug/coordinator")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("`bash \(tree)/scripts/build-agent.sh` failed (exited 1)"), text)
            XCTAssertTrue(text.contains("build-agent: swift not found"), text)
        }
    }

    func testAnInstalledCoordinatorShipsTheBokAgentBesideIt() throws {
        let bin = tree + "/usr/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ShippedAgent.locate(executable: "/nonexistent-bok/bin/coordinator", build: false)) { error in
            XCTAssertTrue("\(error)".contains("--agent-binary"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: bin + "/bok-agent", contents: Data(), attributes: [.posixPermissions: 0o755]))
        // A tree without Package.swift above it: the installed layout.
        try FileManager.default.removeItem(atPath: tree + "/Package.swift")
        XCTAssertEqual(try ShippedAgent.locate(executable: bin + "/coordinator", build: false), bin + "/bok-agent")
    }
}
