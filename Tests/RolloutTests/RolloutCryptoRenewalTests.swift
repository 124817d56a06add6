import BoKTesting
import FabricTopology
import Fleet
import Foundation
import KubeClient
import MSP
import PKI
import XCTest

@testable import Rollout

/// `coordinator crypto renew` then `coordinator rollout` against the stand-in: the Secrets get the renewed certificates,
/// the Deployments that mount them restart one at a time (each available again before the next pod template
/// changes, so never two orderers at once), and a second rollout writes nothing.
final class RolloutCryptoRenewalTests: XCTestCase {
    static let topologyYAML = """
        Tenant: r-1
        OrdererOrgs:
        - Name: OrdererOrg
          Domain: orgordererorg
          Template:
            Count: 3
        PeerOrgs:
        - Name: Org1
          Domain: org1
          Template:
            Count: 2
        StateDatabase: LevelDB
        Storage:
          Size: 1Gi
        Channel: mychannel
        Explorer: false

        """

    var workDir: String!
    var crypto: String { workDir + "/crypto" }

    override func setUpWithError() throws {
        workDir = try RolloutFixture.temporaryDirectory("bok-rollout-renew")
        try TrustStore(dir: workDir + "/ca").initialize()
    }

    override func tearDownWithError() throws {
        if let workDir { try? FileManager.default.removeItem(atPath: workDir) }
    }

    func topology() throws -> FabricTopology { try FabricTopology.parse(yaml: Self.topologyYAML, source: "cluster-config.yaml") }

    /// No agent answers (a port just closed): the runs go on without the node (`--continue-on-error`).
    func options() throws -> RolloutOptions {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        close(fd)
        var o = RolloutOptions(cryptoDirectory: crypto)
        o.inventory = Inventory(
            path: "test", nodes: [Inventory.Node(name: "node-down", agent: "127.0.0.1:\(Int(UInt16(bigEndian: addr.sin_port)))")],
            caDir: workDir + "/ca")
        o.continueOnError = true
        o.timeout = 20
        o.pollInterval = 0.05
        o.agentConnectTimeout = 1
        o.topologyText = Self.topologyYAML
        return o
    }

    func run(_ client: KubeClient, log: EventLog = EventLog()) async throws -> RolloutReport {
        let report = await NetworkRollout(topology: try topology(), client: client, options: try options(), reporter: { log.add($0) }).run()
        XCTAssertEqual(report.steps.filter { $0.status == .failed }.map(\.detail), [], report.error ?? "")
        return report
    }

    /// Asserts the template changes were one at a time: each restarted Deployment became ready (at the generation of
    /// its change) before the next template changed. Returns the restarted Deployments in order.
    func assertOneAtATime(_ events: [KubeStandIn.WorkloadEvent], file: StaticString = #filePath, line: UInt = #line) -> [String] {
        var order: [String] = []
        var pending: KubeStandIn.WorkloadEvent?
        for event in events {
            switch event.event {
            case .templateChanged:
                if let pending {
                    XCTFail("\(event.workload)'s template changed while \(pending.workload) was still restarting: \(events)", file: file, line: line)
                }
                pending = event
                order.append(event.workload)
            case .ready:
                if event.workload == pending?.workload, event.generation >= pending!.generation { pending = nil }
            }
        }
        XCTAssertNil(pending, "the last restarted Deployment became ready", file: file, line: line)
        return order
    }

    func testRenewThenRolloutUpdatesSecretsAndRestartsOneAtATimeThenWritesNothing() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        let first = try await run(client)
        XCTAssertEqual(first.restarted, [], "a first rollout creates, it restarts nothing")

        // Everything renewed, the CAs included: every Deployment mounts some of it.
        let renewal = try CryptoRenewal(selection: .all, topology: try topology()).renew(directory: crypto)
        XCTAssertEqual(renewal.renewed.count, 4 + 2 * 4 + 2 * 3)
        let secretsBefore = try client.list(.secret, namespace: "ordererorg-r-1").map { $0["data"] }
        let events = standIn.workloadEvents().count

        let log = EventLog()
        let report = try await run(client, log: log)
        let deployments = [
            "ordererorg-r-1/orderer0-ordererorg-r-1", "ordererorg-r-1/orderer1-ordererorg-r-1", "ordererorg-r-1/orderer2-ordererorg-r-1",
            "ordererorg-r-1/ca", "ordererorg-r-1/cli", "org1-r-1/peer0-org1-r-1", "org1-r-1/peer1-org1-r-1", "org1-r-1/ca", "org1-r-1/cli",
        ]
        XCTAssertEqual(Set(report.restarted), Set(deployments.map { "Deployment \($0)" }))
        let order = assertOneAtATime(Array(standIn.workloadEvents().dropFirst(events)))
        XCTAssertEqual(Set(order), Set(deployments), "\(order)")
        XCTAssertEqual(order.count, deployments.count, "each restarted once: \(order)")
        XCTAssertEqual(report.restarted, order.map { "Deployment \($0)" }, "the report lists them in the order they restarted")
        XCTAssertTrue(
            log.all.contains { $0.contains("restarting Deployment ordererorg-r-1/orderer1-ordererorg-r-1") }, log.all.joined(separator: "\n"))
        XCTAssertTrue(report.steps.first { $0.step == "apply-objects" }?.detail.contains("restarted one at a time") ?? false)

        // The Secrets carry the renewed files.
        XCTAssertNotEqual(try client.list(.secret, namespace: "ordererorg-r-1").map { $0["data"] }, secretsBefore)
        let secret = try client.get(.secret("orderer1-identity", namespace: "ordererorg-r-1"))
        let stored = try XCTUnwrap(secret["data", "tls-cert.crt"]?.stringValue.flatMap { Data(base64Encoded: $0) })
        let onDisk = try Data(
            contentsOf: URL(fileURLWithPath: crypto + "/ordererOrganizations/orgordererorg/orderers/orderer1.orgordererorg/tls/server.crt"))
        XCTAssertEqual(stored, onDisk)

        // Converged: no write, no restart.
        let revision = standIn.currentResourceVersion
        let again = try await run(client)
        XCTAssertEqual(standIn.currentResourceVersion, revision, "a converged re-run must write nothing")
        XCTAssertEqual(again.restarted, [])
        XCTAssertEqual(again.count(.create) + again.count(.update), 0)
    }

    func testOneRenewedOrdererCertificateRestartsOnlyWhatMountsIt() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        _ = try await run(client)

        // orderer1's TLS certificate is due (re-issued short), then renewed within 30 days.
        let path = "ordererOrganizations/orgordererorg/orderers/orderer1.orgordererorg/tls/server.crt"
        let tlsCA = try CertificateAuthority(
            certificate: try PEMFile.readCertificate(at: crypto + "/ordererOrganizations/orgordererorg/tlsca/tlsca.orgordererorg-cert.pem"),
            privateKey: try PEMFile.readPrivateKey(at: crypto + "/ordererOrganizations/orgordererorg/tlsca/priv_sk"))
        try PEMFile.write(try tlsCA.reissue(try PEMFile.readCertificate(at: crypto + "/" + path), validityDays: 3), to: crypto + "/" + path)
        let renewal = try CryptoRenewal(selection: .within(days: 30), topology: try topology()).renew(directory: crypto)
        XCTAssertEqual(renewal.renewed.map(\.path), [path])

        let events = standIn.workloadEvents().count
        let report = try await run(client)
        // orderer1 itself, and the orderer org's cli, which mounts the orderers' TLS certificates (crypto-public).
        // In rendered order (the org's cli comes before its nodes).
        XCTAssertEqual(report.restarted, ["Deployment ordererorg-r-1/cli", "Deployment ordererorg-r-1/orderer1-ordererorg-r-1"])
        XCTAssertEqual(
            assertOneAtATime(Array(standIn.workloadEvents().dropFirst(events))),
            ["ordererorg-r-1/cli", "ordererorg-r-1/orderer1-ordererorg-r-1"])
    }
}
