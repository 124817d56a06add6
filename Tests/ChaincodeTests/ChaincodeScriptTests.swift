import BoKSystem
import Crypto
import DockerEngine
import FabricTopology
import Foundation
import KubeManifests
import XCTest

@testable import Rollout

/// The chaincode Jobs' scripts, executed for real (dash, and busybox sh where it is installed) against a fake `peer`
/// that answers like Fabric 2.5's CLI: they skip what is done, do what is missing, retry within bounds, and the
/// install reassembles the package from its ConfigMap parts and checks it.
final class ChaincodeScriptTests: XCTestCase {
    var dir: String!
    var fake: String { dir + "/fake" }
    var fakeBin: String!
    var topology: FabricTopology!
    var renderer: ManifestRenderer!

    override func setUpWithError() throws {
        dir = try ChaincodeFixture.temporaryDirectory("bok-cc-scripts")
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        fakeBin = try FakePeer.install(in: dir)
        topology = try ChaincodeFixture.topology()
        renderer = ManifestRenderer(topology: topology)
        try write("orgs", "Org1MSP Org2MSP\n")
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
    }

    var org1: Organization { topology.peerOrgs[0] }
    var org2: Organization { topology.peerOrgs[1] }
    var allPeers: [String] { topology.peerOrgs.flatMap { $0.nodes.map(\.endpoint) } }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(fake)/\(name)"))
    }

    func read(_ name: String) -> String? {
        FileManager.default.contents(atPath: "\(fake)/\(name)").map { String(decoding: $0, as: UTF8.self) }
    }

    /// The peer calls the fake saw, one per line, without their environment note.
    var calls: [String] {
        (read("calls") ?? "").split(separator: "\n").map { String($0) }
    }

    func calls(_ subcommand: String) -> [String] {
        calls.filter { $0.contains(" \(subcommand) ") || $0.hasPrefix("chaincode \(subcommand) ") }
    }

    func resetCalls() { try? FileManager.default.removeItem(atPath: "\(fake)/calls") }

    /// Runs a Job's script with its own environment, the work and package directories in the test's directory.
    func run(_ job: KubeObject, work: String = "work", shell: [String] = ["/bin/sh"], extra: [String: String] = [:]) throws
        -> CommandResult
    {
        var overrides = [
            "WORK": "\(dir!)/\(work)", "CC_PACKAGE_DIR": "\(dir!)/parts", "RETRY_SECONDS": "0", "FAKE": fake,
            "FAKE_PEERS": allPeers.joined(separator: " "),
        ]
        for (key, value) in extra { overrides[key] = value }
        return try JobProgram(job).run(shell: shell, overrides: overrides, fakeBin: fakeBin)
    }

    /// A real package file, its info, and its parts written from the rendered ConfigMaps' binaryData.
    func preparePackage(payload: Int) throws -> (path: String, info: ChaincodePackageInfo, bytes: Data) {
        let path = try ChaincodeFixture.makePackage(in: dir, payload: payload)
        let file = try ChaincodePackageFile.load(path: path)
        try FileManager.default.createDirectory(atPath: "\(dir!)/parts", withIntermediateDirectories: true)
        for configMap in renderer.chaincodePackageConfigMaps(file.info, bytes: file.bytes, org: org1) {
            for pair in configMap.body["binaryData"]?.pairs ?? [] {
                let data = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(pair.value.string)))
                try data.write(to: URL(fileURLWithPath: "\(dir!)/parts/\(pair.key)"))
            }
        }
        return (path, file.info, file.bytes)
    }

    var shells: [[String]] {
        var result = [["/bin/sh"]]
        if let busybox = CommandRunner.which("busybox") { result.append([busybox, "sh"]) }
        return result
    }

    // MARK: Syntax

    func testEveryScriptParsesInDashAndBusybox() throws {
        let info = ChaincodePackageInfo(label: "simple_1.0", sha256: String(repeating: "ab", count: 32), size: 3 * 1024 * 1024)
        let definition = ChaincodeDefinition(name: "simple", version: "1.0", sequence: 2, initRequired: true)
        let jobs = [
            renderer.chaincodeInstallJob(info, org: org1), renderer.chaincodeStateJob(info, chaincode: "simple", org: org1),
            renderer.chaincodeApproveJob(info, definition: definition, org: org2),
            renderer.chaincodeCommitJob(info, definition: definition, org: org1),
            renderer.chaincodeInitJob(info, definition: definition, arguments: #"{"Args":["init"]}"#, org: org1),
            renderer.chaincodeCallJob(.invoke, chaincode: "simple", arguments: "{}", org: org1, jobName: "cc-invoke-x"),
            renderer.chaincodeCallJob(.query, chaincode: "simple", arguments: "{}", org: org2, jobName: "cc-query-x"),
        ]
        XCTAssertNotNil(
            CommandRunner.which("busybox"),
            "busybox is needed to check the scripts as fabric-tools runs them (apt-get install busybox-static)")
        for job in jobs {
            let script = try JobProgram(job).script
            let path = "\(dir!)/\(job.name).sh"
            try Data(script.utf8).write(to: URL(fileURLWithPath: path))
            for shell in shells {
                let result = CommandRunner.run(shell + ["-n", path])
                XCTAssertTrue(result.succeeded, "\(shell.joined(separator: " ")) -n \(job.name): \(result.stderr)")
            }
            // A syntax error must be caught by the same check: the check is not vacuous.
            try Data((script + "\nif then fi\n").utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertFalse(CommandRunner.run(["/bin/sh", "-n", path]).succeeded)
        }
    }

    // MARK: Install

    func testInstallReassemblesChecksAndInstallsOnEveryPeerThenSkips() throws {
        let (_, info, bytes) = try preparePackage(payload: 2 * 1024 * 1024 + 300 * 1024)
        XCTAssertGreaterThanOrEqual(info.partCount, 3)
        for shell in shells {
            try? FileManager.default.removeItem(atPath: "\(dir!)/work")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: fake)) ?? [] where name.hasPrefix("installed-") {
                try FileManager.default.removeItem(atPath: "\(fake)/\(name)")
            }
            resetCalls()
            let job = renderer.chaincodeInstallJob(info, org: org1)
            let first = try run(job, shell: shell)
            XCTAssertTrue(first.succeeded, "\(shell): \(first.stderr)\n\(first.stdout)")
            // The reassembled file is the package, byte for byte.
            XCTAssertEqual(FileManager.default.contents(atPath: "\(dir!)/work/package.tar.gz"), bytes)
            // Both peers of Org1 got it, with the real package ID of the file.
            for peer in org1.nodes.map(\.endpoint) {
                XCTAssertEqual(read("installed-\(peer)"), "Package ID: \(info.packageID), Label: simple_1.0\n")
            }
            XCTAssertEqual(calls("install").count, 2, calls.joined(separator: "\n"))
            XCTAssertTrue(calls("install").allSatisfy { $0.contains("msp=Org1MSP") })

            // Again, as a fresh pod would: nothing is installed twice.
            resetCalls()
            try? FileManager.default.removeItem(atPath: "\(dir!)/work")
            let second = try run(job, shell: shell)
            XCTAssertTrue(second.succeeded, second.stderr)
            XCTAssertEqual(calls("install"), [])
            XCTAssertEqual(calls("queryinstalled").count, 2)
            XCTAssertTrue(second.stdout.contains("is already installed"), second.stdout)
        }
    }

    func testInstallRefusesADamagedPackageAndRetriesAnUnreachablePeer() throws {
        let (_, info, _) = try preparePackage(payload: 900 * 1024)
        // One flipped byte in the last part: the SHA-256 check stops the Job before any install.
        let last = "\(dir!)/parts/\(info.partKeys.last!)"
        var data = try XCTUnwrap(FileManager.default.contents(atPath: last))
        data[data.startIndex] ^= 0xFF
        try data.write(to: URL(fileURLWithPath: last))
        let job = renderer.chaincodeInstallJob(info, org: org2)
        let damaged = try run(job)
        XCTAssertFalse(damaged.succeeded)
        XCTAssertTrue(damaged.stderr.contains("has SHA-256") && damaged.stderr.contains("not \(info.sha256)"), damaged.stderr)
        XCTAssertTrue(damaged.stderr.contains("run coordinator chaincode deploy again"), damaged.stderr)
        XCTAssertEqual(calls, [], "nothing reached a peer")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir!)/work/package.tar.gz"))

        // Intact parts, a peer that does not answer twice: retried, then installed.
        data[data.startIndex] ^= 0xFF
        try data.write(to: URL(fileURLWithPath: last))
        try write("fail-queryinstalled", "2")
        let retried = try run(job)
        XCTAssertTrue(retried.succeeded, retried.stderr)
        XCTAssertTrue(retried.stderr.contains("retrying in 0s (1/60)"), retried.stderr)
        XCTAssertEqual(calls("install").count, 1)

        // A peer that never answers: bounded, the Job fails naming what it gave up on.
        try write("fail-queryinstalled", "1000")
        try? FileManager.default.removeItem(atPath: "\(dir!)/work")
        let hopeless = try run(job)
        XCTAssertFalse(hopeless.succeeded)
        XCTAssertTrue(hopeless.stderr.contains("giving up after 60 attempt(s): list_installed"), hopeless.stderr)
        XCTAssertTrue(hopeless.stderr.contains("no such host"), "the peer's own error is in the log")
    }

    // MARK: State, approve, commit, init

    func testStateReportsWhatTheChannelHasAndTheDeploymentDecidesTheSequence() throws {
        let info = ChaincodePackageInfo(label: "simple_1.0", sha256: String(repeating: "cd", count: 32), size: 10)
        let job = renderer.chaincodeStateJob(info, chaincode: "simple", org: org1)
        // Never committed.
        let empty = try run(job)
        XCTAssertTrue(empty.succeeded, empty.stderr)
        let none = try ChaincodeChannelState.parse(try XCTUnwrap(ChaincodeJobRunner.result(in: empty.stdout)))
        XCTAssertEqual(none, ChaincodeChannelState(committed: nil, approved: nil))
        XCTAssertEqual(none.sequence(version: "1.0", initRequired: true, packageID: info.packageID).sequence, 1)

        // Committed at 3 with this package: stay at 3, nothing to do; another package: 4.
        try write("committed-\(org1.nodes[0].endpoint)", "1.0 3\n")
        try write(
            "approved-Org1MSP-3",
            "sequence: 3, version: 1.0, init-required: true, package-id: \(info.packageID), endorsement plugin: escc, validation plugin: vscc"
        )
        let committed = try run(job)
        XCTAssertTrue(committed.succeeded, committed.stderr)
        let state = try ChaincodeChannelState.parse(try XCTUnwrap(ChaincodeJobRunner.result(in: committed.stdout)))
        XCTAssertEqual(state.committed, .init(version: "1.0", sequence: 3))
        XCTAssertEqual(state.approved?.packageID, info.packageID)
        XCTAssertTrue(state.sequence(version: "1.0", initRequired: true, packageID: info.packageID) == (3, true))
        XCTAssertTrue(
            state.sequence(version: "1.0", initRequired: true, packageID: "simple_1.0:" + String(repeating: "0", count: 64)) == (
                4, false
            ))
        XCTAssertTrue(state.sequence(version: "1.1", initRequired: true, packageID: info.packageID) == (4, false))
        XCTAssertTrue(state.sequence(version: "1.0", initRequired: false, packageID: info.packageID) == (4, false))
        XCTAssertTrue(calls("queryapproved").first?.contains("--sequence 3") ?? false, calls.joined(separator: "\n"))
    }

    func testApproveCommitAndInitDoWhatIsMissingAndSkipWhatIsDone() throws {
        let info = ChaincodePackageInfo(label: "simple_1.0", sha256: String(repeating: "ef", count: 32), size: 10)
        let definition = ChaincodeDefinition(name: "simple", version: "1.0", sequence: 1, initRequired: true)
        let commit = renderer.chaincodeCommitJob(info, definition: definition, org: org1)

        // Only Org1 approved: the commit waits (bounded) and fails saying which org is missing.
        XCTAssertTrue(try run(renderer.chaincodeApproveJob(info, definition: definition, org: org1)).succeeded)
        let early = try run(commit)
        XCTAssertFalse(early.succeeded)
        XCTAssertTrue(
            early.stderr.contains("not every org has approved yet") && early.stderr.contains("Org2MSP: false"), early.stderr)
        XCTAssertEqual(calls("commit"), [])

        // Org2 approves (its own admin: msp=Org2MSP, its own peer).
        resetCalls()
        let approve2 = try run(renderer.chaincodeApproveJob(info, definition: definition, org: org2))
        XCTAssertTrue(approve2.succeeded, approve2.stderr)
        let approveCalls = calls("approveformyorg")
        XCTAssertEqual(approveCalls.count, 1)
        let sent = try XCTUnwrap(approveCalls.first)
        for expected in [
            "-C mychannel", "-n simple", "-v 1.0", "--sequence 1", "--package-id \(info.packageID)", "--init-required",
            "-o orderer0.ordererorg-f-1:7050", "msp=Org2MSP", "addr=peer0.org2-f-1:7051",
            "/etc/bok/crypto/peerOrganizations/org2/users/Admin@org2",
        ] {
            XCTAssertTrue(
                sent.contains(expected) || (read("calls") ?? "").contains(expected), "approve lacks \(expected): \(sent)")
        }
        // Approved already: a second run sends nothing.
        resetCalls()
        let again = try run(renderer.chaincodeApproveJob(info, definition: definition, org: org2))
        XCTAssertTrue(again.succeeded && again.stdout.contains("has already approved"), again.stdout + again.stderr)
        XCTAssertEqual(calls("approveformyorg"), [])

        // The commit: one endorser per org, then every peer of every org is checked, each with its org's TLS CA.
        resetCalls()
        let committed = try run(commit)
        XCTAssertTrue(committed.succeeded, committed.stderr)
        XCTAssertEqual(read("commit-endorsers"), "2\n")
        let commitCall = try XCTUnwrap(calls("commit").first)
        XCTAssertTrue(
            commitCall.contains(
                "--peerAddresses peer0.org1-f-1:7051 --tlsRootCertFiles /etc/bok/crypto/peerOrganizations/org1/msp/tlscacerts/tlsca.org1-cert.pem"
            ), commitCall)
        XCTAssertTrue(
            commitCall.contains(
                "--peerAddresses peer0.org2-f-1:7051 --tlsRootCertFiles /etc/bok/crypto/peerOrganizations/org2/msp/tlscacerts/tlsca.org2-cert.pem"
            ), commitCall)
        for peer in allPeers { XCTAssertTrue(committed.stdout.contains("\(peer) has simple sequence 1"), committed.stdout) }
        XCTAssertTrue(
            calls.contains {
                $0.contains("querycommitted") && $0.contains("addr=peer0.org2-f-1:7051") && $0.contains("tlsca.org2-cert.pem")
            },
            calls.joined(separator: "\n"))
        // Committed already: no second commit.
        resetCalls()
        let recommit = try run(commit)
        XCTAssertTrue(recommit.succeeded && recommit.stdout.contains("is already committed"), recommit.stderr)
        XCTAssertEqual(calls("commit"), [])
        XCTAssertEqual(calls("checkcommitreadiness"), [])

        // Init once; a second init is recognised as done.
        let initJob = renderer.chaincodeInitJob(
            info, definition: definition, arguments: #"{"Args":["init","a","100","b","200"]}"#, org: org1)
        let first = try run(initJob)
        XCTAssertTrue(first.succeeded, first.stderr)
        XCTAssertEqual(read("initialized"), #"{"Args":["init","a","100","b","200"]}"# + "\n")
        XCTAssertTrue(calls("invoke").first?.contains("--isInit") ?? false)
        let second = try run(initJob)
        XCTAssertTrue(second.succeeded && second.stdout.contains("is already initialized"), second.stdout + second.stderr)
    }

    func testACommitThatFailsOnceIsRetriedAndNothingIsApprovedTwice() throws {
        let info = ChaincodePackageInfo(label: "simple_1.0", sha256: String(repeating: "12", count: 32), size: 10)
        let definition = ChaincodeDefinition(name: "simple", version: "2", sequence: 2, initRequired: false)
        // Both orgs approved already; the first commit fails on the connection.
        try write(
            "approved-Org1MSP-2",
            "sequence: 2, version: 2, init-required: false, package-id: \(info.packageID), endorsement plugin: escc, validation plugin: vscc"
        )
        try write(
            "approved-Org2MSP-2",
            "sequence: 2, version: 2, init-required: false, package-id: \(info.packageID), endorsement plugin: escc, validation plugin: vscc"
        )
        try write("fail-commit", "1")
        let result = try run(renderer.chaincodeCommitJob(info, definition: definition, org: org2))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(calls("commit").count, 2, "retried after the first failure")
        XCTAssertFalse(calls("approveformyorg").contains { _ in true })
    }

    // MARK: Invoke and query

    func testQueryPrintsTheAnswerBetweenTheMarkersAndInvokeIsNotRetriedAfterOrdering() throws {
        try write("value", "90\n")
        let query = renderer.chaincodeCallJob(
            .query, chaincode: "simple", arguments: #"{"Args":["query","a"]}"#, org: org2, jobName: "cc-query-t")
        let answer = try run(query)
        XCTAssertTrue(answer.succeeded, answer.stderr)
        XCTAssertEqual(ChaincodeJobRunner.result(in: answer.stdout), "90\n")
        XCTAssertTrue(calls("query").first?.contains("msp=Org2MSP") ?? false)

        let invoke = renderer.chaincodeCallJob(
            .invoke, chaincode: "simple", arguments: #"{"Args":["invoke","a","b","10"]}"#, org: org1,
            jobName: "cc-invoke-t")
        let done = try run(invoke)
        XCTAssertTrue(done.succeeded, done.stderr)
        XCTAssertTrue(ChaincodeJobRunner.result(in: done.stdout)?.contains("Chaincode invoke successful") ?? false, done.stdout)
        XCTAssertEqual(read("invoked"), #"{"Args":["invoke","a","b","10"]}"# + "\n")
        XCTAssertTrue(calls("invoke").first?.contains("--peerAddresses peer0.org1-f-1:7051") ?? false)
        XCTAssertEqual(calls("invoke").first?.components(separatedBy: "--peerAddresses").count, 3, "one endorser per org")

        // A connection failure before the orderer: retried.
        resetCalls()
        try write("fail-invoke", "1")
        XCTAssertTrue(try run(invoke).succeeded)
        XCTAssertEqual(calls("invoke").count, 2)
    }
}
