import FabricTopology
import Foundation
import XCTest

@testable import KubeManifests

/// Every shell script BoK renders into a Job is accepted by every shell a Fabric image may have (dash as Debian's
/// `/bin/sh`, bash, busybox ash as in the Alpine-based fabric-tools image). The golden files froze a script that no
/// shell accepted once; only a shell can tell. The lab's end-to-end test runs them for real.
final class JobScriptTests: XCTestCase {
    private func scripts(_ topology: FabricTopology) throws -> [(String, String)] {
        let objects = try ManifestRenderer(topology: topology, crypto: StubCrypto(), passwords: { ns, p in "pw-\(ns)-\(p)" }).render()
        var out: [(String, String)] = []
        for object in objects where object.kind == "Job" {
            let containers = object.body["spec"]?["template"]?["spec"]?["containers"]?.list ?? []
            for container in containers {
                let command = (container["command"]?.list ?? []).compactMap(\.string)
                let args = (container["args"]?.list ?? []).compactMap(\.string)
                guard command.suffix(1) == ["-c"] || command.last == "/bin/sh", let script = (command.last == "-c" ? args.first : nil) else {
                    continue
                }
                out.append(("\(object.namespace ?? "")/\(object.name)", script))
            }
        }
        return out
    }

    private func shells() -> [[String]] {
        var result: [[String]] = [["/bin/sh", "-n"]]
        if let bash = TestSupport.which("bash") { result.append([bash, "-n"]) }
        if let busybox = TestSupport.which("busybox") { result.append([busybox, "sh", "-n"]) }
        return result
    }

    func testEveryRenderedJobScriptParsesInEveryShell() throws {
        var topologies = [try TestSupport.exampleTopology()]
        // Several orderer orgs and orderers: the lists the scripts loop over have more than one entry.
        topologies.append(
            try FabricTopology.parse(
                yaml: """
                    Tenant: t-2
                    OrdererOrgs:
                    - Name: OrdA
                      Domain: orda
                      Template: {Count: 3}
                    - Name: OrdB
                      Domain: ordb
                      Template: {Count: 2}
                    PeerOrgs:
                    - Name: P1
                      Domain: p1
                      Template: {Count: 3}
                    """, source: "multi.yaml"))
        var checked = 0
        for topology in topologies {
            let all = try scripts(topology)
            XCTAssertFalse(all.isEmpty, "the topology renders Job scripts")
            for (job, script) in all {
                for shell in shells() {
                    let result = try TestSupport.run(shell[0], Array(shell.dropFirst()), input: Data(script.utf8))
                    XCTAssertEqual(result.status, 0, "\(shell.joined(separator: " ")) rejects the script of Job \(job): \(result.output)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 6)
    }

    /// The peer org's script walks its orderer list as `ENDPOINT|CAFILE` words: run that loop for real with a `peer`
    /// that records its arguments, so the split is proven, not only parsed.
    func testPeerJoinScriptSplitsOrdererEntriesIntoEndpointAndCAFile() throws {
        let topology = try TestSupport.exampleTopology()
        let script = try XCTUnwrap(try scripts(topology).first { $0.0 == "org1-f-1/channel-join" }?.1)
        let dir = try TestSupport.temporaryDirectory("bok-job-script")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let calls = dir.appendingPathComponent("calls").path
        // A fake `peer`: fetch writes a block; list says the peer is on the channel, so no join is attempted.
        let fake = """
            #!/bin/sh
            echo "$*" >> \(calls)
            case "$1 $2" in
              "channel fetch") echo block > "$4" ;;
              "channel list") echo "Channels peers has joined: "; echo "$CHANNEL" ;;
            esac
            exit 0
            """
        try fake.write(to: bin.appendingPathComponent("peer"), atomically: true, encoding: .utf8)
        _ = try TestSupport.run("/bin/chmod", ["755", bin.appendingPathComponent("peer").path])
        let work = dir.appendingPathComponent("work").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let adjusted = script.replacingOccurrences(of: "/work/", with: work + "/")
        let result = try TestSupport.run("/usr/bin/env", ["PATH=\(bin.path):/usr/bin:/bin", "CHANNEL=mychannel", "/bin/sh", "-c", adjusted])
        XCTAssertEqual(result.status, 0, result.output)
        let recorded = try String(contentsOfFile: calls, encoding: .utf8)
        XCTAssertTrue(
            recorded.contains(
                "channel fetch 0 \(work)/mychannel.block -c mychannel -o orderer0.ordererorg-f-1:7050 --tls --cafile "
                    + "/etc/bok/crypto/ordererOrganizations/orgordererorg/msp/tlscacerts/tlsca.orgordererorg-cert.pem"),
            recorded)
        XCTAssertTrue(result.output.contains("peer0.org1-f-1:7051 is already on mychannel"), result.output)
    }
}
