import AgentProtocol
import BoKTesting
import FabricTopology
import Fleet
import Foundation
import KubeClient
import XCTest

@testable import Rollout

/// Preflight's cluster-wide checks and its verdicts, against the Kubernetes stand-in; teardown against a
/// stand-in that does not serve some kinds. No lab: the nodes' checks are in NodeOpsLabTests.
final class PreflightStandInTests: XCTestCase {
    var workDir: String!

    override func setUpWithError() throws {
        workDir = try RolloutFixture.temporaryDirectory("bok-preflight-unit")
        try TrustStore(dir: workDir + "/ca").initialize()
    }

    override func tearDownWithError() throws {
        if let workDir { try? FileManager.default.removeItem(atPath: workDir) }
    }

    func service(_ name: String, namespace: String, nodePort: Int, labels: [String: String] = [:]) -> KubeObject {
        var s = KubeObject(apiVersion: "v1", kind: "Service", name: name, namespace: namespace, labels: labels)
        s["spec"] = ["type": "NodePort", "selector": ["app": "x"], "ports": [["port": 80, "nodePort": .int(Int64(nodePort))]]]
        return s
    }

    // MARK: Verdicts

    func testClockOffsetIsTheRoundTripMidpointAndJudgedAt2And30Seconds() {
        // The agent is 10 s ahead; 40 ms out, 60 ms back, 5 ms of work on the agent.
        let (offset, delay) = PreflightVerdict.clockOffset(sent: 100, agentReceived: 110.040, agentAnswered: 110.045, received: 100.105)
        XCTAssertEqual(offset, 9.99, accuracy: 0.0001)
        XCTAssertEqual(delay, 0.1, accuracy: 0.0001)
        let t = PreflightThresholds()
        XCTAssertEqual(PreflightVerdict.clock(node: "n", offset: 1.9, delay: 0, thresholds: t).status, .ok)
        XCTAssertEqual(PreflightVerdict.clock(node: "n", offset: -2.5, delay: 0, thresholds: t).status, .warn)
        let fail = PreflightVerdict.clock(node: "n", offset: -31, delay: 0, thresholds: t)
        XCTAssertEqual(fail.status, .fail)
        XCTAssertTrue(fail.detail.contains("behind the coordinator"), fail.detail)
    }

    func testDiskIsJudgedByBytesAndShareFree() {
        let t = PreflightThresholds()
        let gib = 1 << 30
        XCTAssertEqual(PreflightVerdict.disk(node: "n", path: "/var/lib/docker", available: 50 * gib, total: 100 * gib, thresholds: t).status, .ok)
        XCTAssertEqual(PreflightVerdict.disk(node: "n", path: "/d", available: 4 * gib, total: 10 * gib, thresholds: t).status, .warn)
        XCTAssertEqual(
            PreflightVerdict.disk(node: "n", path: "/d", available: 80 * gib, total: 1000 * gib, thresholds: t).status, .warn, "under 10 %")
        XCTAssertEqual(PreflightVerdict.disk(node: "n", path: "/d", available: gib / 2, total: 10 * gib, thresholds: t).status, .fail)
        XCTAssertEqual(PreflightVerdict.disk(node: "n", path: "/d", available: 15 * gib, total: 1000 * gib, thresholds: t).status, .fail, "under 2 %")
    }

    func testTheTenantsNodePortsComeFromTheTopology() throws {
        let ports = TenantNodePort.all(try RolloutFixture.topology())
        XCTAssertEqual(ports.map(\.port), [30000, 30100, 30200, 32767])
        XCTAssertEqual(ports.last, TenantNodePort(port: 32767, namespace: "org1-f-1", service: "explorer"))
    }

    // MARK: Against the stand-in

    func testANodePortHeldInAnotherNamespaceFailsButTheTenantsOwnServiceDoesNot() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let check = ClusterPreflight(client: client, topology: try RolloutFixture.topology())
        XCTAssertEqual(check.nodePorts().status, .ok, check.nodePorts().detail)
        // A re-run: the tenant's explorer already holds its port.
        try client.apply(KubeObject(apiVersion: "v1", kind: "Namespace", name: "org1-f-1"))
        try client.apply(service("explorer", namespace: "org1-f-1", nodePort: 32767, labels: ["bok.io/tenant": "f-1"]))
        XCTAssertEqual(check.nodePorts().status, .ok, check.nodePorts().detail)
        // Another tenant's CA on the port of Org2's CA.
        try client.apply(KubeObject(apiVersion: "v1", kind: "Namespace", name: "org1-f-2"))
        try client.apply(service("ca", namespace: "org1-f-2", nodePort: 30100, labels: ["bok.io/tenant": "f-2"]))
        let taken = check.nodePorts()
        XCTAssertEqual(taken.status, .fail)
        XCTAssertTrue(taken.detail.contains("NodePort 30100 (for org2-f-1/ca) is held by Service org1-f-2/ca"), taken.detail)
    }

    func testAMissingStorageClassFailsAndTheDefaultOnePasses() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let check = ClusterPreflight(client: client, topology: try RolloutFixture.topology())
        let missing = check.storage()
        XCTAssertEqual(missing.status, .fail)
        XCTAssertTrue(missing.detail.contains("no default StorageClass"), missing.detail)
        try RolloutFixture.createDefaultStorageClass(client)
        XCTAssertEqual(check.storage(), PreflightCheck(scope: "cluster", name: "storage", status: .ok, detail: "default StorageClass standard"))

        let named = try FabricTopology.parse(
            yaml: RolloutFixture.topologyYAML.replacingOccurrences(of: "  Size: 1Gi", with: "  Size: 1Gi\n  StorageClass: fast"))
        let absent = ClusterPreflight(client: client, topology: named).storage()
        XCTAssertEqual(absent.status, .fail)
        XCTAssertTrue(absent.detail.contains("StorageClass fast"), absent.detail)
    }

    func testAnNFSServerMustAnswerOnItsPort() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let nfs = try FabricTopology.parse(
            yaml: RolloutFixture.topologyYAML.replacingOccurrences(
                of: "  Size: 1Gi", with: "  Size: 1Gi\n  NFS:\n    Server: 127.0.0.1\n    Path: /opt/share"))
        // A listening socket on loopback stands for the NFS server.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        XCTAssertEqual(listen(fd, 4), 0)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        var check = ClusterPreflight(client: client, topology: nfs)
        check.nfsPort = Int(UInt16(bigEndian: addr.sin_port))
        XCTAssertEqual(check.storage().status, .ok, check.storage().detail)
        close(fd)
        let down = check.storage()
        XCTAssertEqual(down.status, .fail)
        XCTAssertTrue(down.detail.contains("NFS server 127.0.0.1:\(check.nfsPort) (Storage.NFS) does not answer"), down.detail)
    }

    /// The rollout's first step runs the same checks: a taken NodePort stops it before anything is written.
    func testRolloutStopsInPreflightOnATakenNodePortBeforeAnyWrite() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        try client.apply(KubeObject(apiVersion: "v1", kind: "Namespace", name: "monitoring"))
        try client.apply(service("grafana", namespace: "monitoring", nodePort: 32767))
        let writes = standIn.requests(method: "PATCH") + standIn.requests(method: "POST")
        var options = RolloutOptions(cryptoDirectory: workDir + "/crypto")
        options.inventory = Inventory(path: "test", nodes: [], caDir: workDir + "/ca")
        options.topologyText = RolloutFixture.topologyYAML
        let report = await NetworkRollout(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertFalse(report.success)
        XCTAssertEqual(report.steps.first?.status, .failed)
        XCTAssertTrue(
            report.error?.contains("NodePort 32767 (for org1-f-1/explorer) is held by Service monitoring/grafana") == true, report.error ?? "")
        XCTAssertTrue(report.error?.contains("nothing was changed in Kubernetes") == true, report.error ?? "")
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
        // Only the dry-run apply of preflight was sent (dryRun=All writes nothing).
        XCTAssertEqual(standIn.requests(method: "PATCH") + standIn.requests(method: "POST") - writes, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workDir + "/crypto"), "no crypto material before preflight passed")
    }

    // MARK: Teardown by discovery

    func testTeardownLooksOnlyForKindsTheServerServesAndSaysWhichItSkipped() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        var options = RolloutOptions(cryptoDirectory: workDir + "/crypto")
        options.inventory = Inventory(path: "test", nodes: [], caDir: workDir + "/ca")
        options.topologyText = RolloutFixture.topologyYAML
        options.timeout = 20
        options.pollInterval = 0.05
        let report = await NetworkRollout(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertTrue(report.success, report.error ?? "")
        XCTAssertFalse(try client.list(ResourceType.known(kind: "NetworkPolicy")!, labelSelector: "bok.io/tenant=f-1").isEmpty)

        // From now on this API server has no NetworkPolicy, CronJob or PodDisruptionBudget API.
        standIn.setUnservedKinds(["NetworkPolicy", "CronJob", "PodDisruptionBudget"])
        let before = standIn.requestCounts()
        let said = EventLog()
        let lifecycle = TenantLifecycle(client: client, tenant: "f-1", reporter: { said.add(.warning($0)) })
        let plan = try lifecycle.plan()
        XCTAssertEqual(plan.skippedKinds, ["CronJob", "NetworkPolicy"], "PodDisruptionBudget is not a kind teardown looks for")
        XCTAssertFalse(plan.objects.contains { $0.kind == "NetworkPolicy" })
        XCTAssertTrue(plan.objects.contains { $0.kind == "Deployment" })
        XCTAssertTrue(
            said.all.contains { $0.contains("the API does not serve NetworkPolicy (networkpolicies.networking.k8s.io): skipped") },
            said.all.joined(separator: "\n"))
        let asked = standIn.requestCounts().filter { $0.value > (before[$0.key] ?? 0) }.map(\.key.path)
        XCTAssertTrue(asked.contains("/apis"), "\(asked)")
        XCTAssertTrue(asked.contains("/apis/apps/v1"), "\(asked)")
        XCTAssertFalse(asked.contains { $0.contains("networkpolicies") || $0.contains("cronjobs") }, "unserved kinds are never listed: \(asked)")
        let discovery = asked.filter {
            $0 == "/api" || $0 == "/apis" || $0 == "/api/v1" || ($0.hasPrefix("/apis/") && $0.split(separator: "/").count == 3)
        }
        print(
            "FIGURE teardown plan: \(discovery.count) discovery requests (\(discovery.sorted().joined(separator: " "))), \(asked.count - discovery.count) lists"
        )

        _ = try lifecycle.teardown(plan.objects, timeout: 20, pollInterval: 0.05)
        standIn.setUnservedKinds([])
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [], "the namespaces took their NetworkPolicies with them")
    }

    func testTheStandInLeavesUnservedKindsOutOfDiscoveryAndAnswers404() throws {
        let standIn = try makeStandIn { $0.unservedKinds = ["CronJob", "Ingress", "NetworkPolicy"] }
        let client = try makeClient(standIn)
        let served = try client.servedResources()
        XCTAssertNil(served.listable(kind: "CronJob"))
        XCTAssertNil(served.listable(kind: "NetworkPolicy"))
        XCTAssertEqual(served.listable(kind: "Job")?.apiVersion, "batch/v1")
        XCTAssertEqual(served.listable(kind: "Lease")?.plural, "leases")
        XCTAssertEqual(served.failed, [:])
        XCTAssertThrowsError(try client.list(ResourceType.known(kind: "CronJob")!)) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 404)
        }
        standIn.setUnservedKinds([])
        XCTAssertNotNil(try client.servedResources().listable(kind: "NetworkPolicy"))
    }

    /// An aggregated API that is down (503 on its discovery document) is reported; teardown goes on.
    func testAGroupWhoseDiscoveryFailsIsReportedAndTeardownGoesOn() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(KubeObject(apiVersion: "v1", kind: "Namespace", name: "org1-f-1", labels: ["bok.io/tenant": "f-1"]))
        standIn.injectFault(
            .status(503, reason: "ServiceUnavailable", message: "the server is currently unable to handle the request"),
            method: "GET", pathContains: "/apis/coordination.k8s.io/v1", count: 100)
        let said = EventLog()
        let plan = try TenantLifecycle(client: client, tenant: "f-1", reporter: { said.add(.warning($0)) }).plan()
        XCTAssertEqual(plan.undiscovered, ["coordination.k8s.io/v1"])
        XCTAssertEqual(plan.skippedKinds, [])
        XCTAssertEqual(plan.objects.map(\.description), [ObjectRef(.namespace, name: "org1-f-1").description])
        XCTAssertTrue(said.all.contains { $0.contains("discovery of coordination.k8s.io/v1 failed") }, said.all.joined(separator: "\n"))
    }
}
