import BoKTesting
import Foundation
import XCTest

/// The shipped agent links FoundationEssentials, never full Foundation: `import Foundation` brings ICU back (about
/// 45 MB of binary and 5 MiB of resident memory, see BENCHMARKS.md). Every module linked into the agent may import
/// Foundation only as the `#else` branch of `#if canImport(FoundationEssentials)`.
final class AgentFoundationFreeTests: XCTestCase {
    static let agentModules = [
        "Agent", "AgentCore", "AgentMetrics", "Protocol", "DockerEngine", "DockerConfig", "DNSQuery", "PKI", "BoKSystem",
        "JSONScanning",
    ]

    func testNoAgentModuleImportsFullFoundation() throws {
        let root = BuildProducts.repositoryRoot + "/Sources"
        var offenders: [String] = []
        for module in Self.agentModules {
            guard let files = FileManager.default.enumerator(atPath: "\(root)/\(module)") else {
                XCTFail("no module \(module) under \(root)")
                continue
            }
            for case let file as String in files where file.hasSuffix(".swift") {
                let lines = try String(contentsOfFile: "\(root)/\(module)/\(file)", encoding: .utf8).split(
                    separator: "\n", omittingEmptySubsequences: false)
                for (i, line) in lines.enumerated() {
                    let text = line.trimmingCharacters(in: .whitespaces)
                    guard
                        text == "import Foundation" || text == "@_exported import Foundation" || text.hasPrefix("import struct Foundation.")
                            || text.hasPrefix("import class Foundation.")
                    else { continue }
                    let previous = i > 0 ? lines[i - 1].trimmingCharacters(in: .whitespaces) : ""
                    if previous != "#else" { offenders.append("Sources/\(module)/\(file):\(i + 1)") }
                }
            }
        }
        XCTAssertEqual(offenders, [], "import FoundationEssentials under #if canImport(FoundationEssentials), Foundation only in #else")
    }
}
