import BoKTesting
import FabricTopology
import Fleet
import Foundation
import KubeClient
import XCTest

@testable import Rollout

/// The rollout's Kubernetes side against the stand-in, without a lab: the nodes' agents are
/// absent (a closed port), so these runs use --continue-on-error or test the preflight stop.
final class RolloutStandInTests: XCTestCase {
    var workDir: String!
    var caDir: String { workDir + "/ca" }

    override func setUpWithError() throws {
        workDir = try RolloutFixture.temporaryDirectory("bok-rollout-unit")
        try TrustStore(dir: caDir).initialize()
    }

    override func tearDownWithError() throws {
        if let workDir { try? FileManager.default.removeItem(atPath: workDir) }
    }

    /// An inventory whose only agent does not listen (a port just closed).
    func deadInventory() throws -> Inventory {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        return Inventory(path: "test", nodes: [Inventory.Node(name: "node-down", agent: "127.0.0.1:\(port)")], caDir: caDir)
    }

    func options(continueOnError: Bool = true) throws -> RolloutOptions {
        var o = RolloutOptions(cryptoDirectory: workDir + "/crypto")
        o.inventory = try deadInventory()
        o.continueOnError = continueOnError
        o.timeout = 20
        o.pollInterval = 0.05
        o.agentConnectTimeout = 1
        o.topologyText = RolloutFixture.topologyYAML
        return o
    }

    func rollout(_ client: KubeClient, _ options: RolloutOptions, log: EventLog = EventLog()) throws -> NetworkRollout {
        NetworkRollout(topology: try RolloutFixture.topology(), client: client, options: options, reporter: { log.add($0) })
    }

    // MARK: The whole Kubernetes side

    func testRolloutAppliesExactlyTheRenderedObjectsAndASecondRunWritesNothing() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        let log = EventLog()
        let report = try await rollout(client, try options(), log: log).run()

        // The agent is down: reported, the rest done, the exit status would be 1.
        XCTAssertFalse(report.success)
        XCTAssertEqual(Array(report.skippedNodes.keys), ["node-down"])
        XCTAssertTrue(report.error?.contains("node-down") ?? false, report.error ?? "")
        XCTAssertEqual(report.steps.map(\.status).filter { $0 == .failed }, [], report.error ?? "")
        XCTAssertEqual(report.steps.map(\.step), RolloutStep.allCases.map(\.rawValue))
        XCTAssertEqual(report.steps.first { $0.step == "node-dns" }?.status, .skipped, "no node left to configure")
        XCTAssertEqual(report.steps.first { $0.step == "apply-objects" }?.status, .done)
        XCTAssertEqual(report.explorerURL, "http://198.18.1.1:32767")
        XCTAssertTrue(report.endpoints.contains { $0.nodePort == 30000 }, "\(report.endpoints)")
        XCTAssertTrue(log.all.contains { $0.contains("applied") && $0.contains("objects") }, log.all.joined(separator: "\n"))
        XCTAssertTrue(log.all.contains { $0.contains("Deployments available") }, log.all.joined(separator: "\n"))

        let rendered = try RolloutFixture.renderedObjects(cryptoDirectory: workDir + "/crypto")
        let stored = try RolloutFixture.tenantObjects(client)
        XCTAssertEqual(stored.subtracting(rendered), ["ConfigMap ordererorg-f-1/bok-rollout"])
        XCTAssertEqual(rendered.subtracting(stored), [])

        let state = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertTrue(state.isComplete)
        XCTAssertEqual(state.digest, report.digest)

        // Converged: no write at all, and fewer requests than objects.
        standIn.resetRequestCounts()
        let revision = standIn.currentResourceVersion
        let again = try await rollout(client, try options()).run()
        XCTAssertEqual(standIn.currentResourceVersion, revision, "a converged re-run must write nothing")
        XCTAssertEqual(again.count(.create) + again.count(.update), 0)
        XCTAssertEqual(again.count(.unchanged), rendered.count)
        XCTAssertNil(again.resumedAfter)
        XCTAssertLessThanOrEqual(standIn.totalRequests, rendered.count, "\(standIn.requestCounts())")
        // The only PATCH is preflight's dry-run permission check.
        XCTAssertEqual(standIn.requests(method: "PATCH"), 1)
    }

    func testARolledOutTenantIsNotGivenNewKeysFromAnEmptyCryptoDirectory() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        _ = try await rollout(client, try options()).run()
        let secretsBefore = try client.list(.secret, namespace: "org1-f-1").map { $0["data"] }

        // The same tenant from a machine without the first run's crypto directory.
        var elsewhere = try options()
        elsewhere.cryptoDirectory = workDir + "/empty-crypto"
        let report = try await rollout(client, elsewhere).run()
        XCTAssertFalse(report.success)
        let error = report.error ?? ""
        XCTAssertTrue(error.contains("step 2/8") && error.contains("holds no crypto material"), error)
        XCTAssertTrue(error.contains("--crypto-dir") && error.contains("coordinator teardown"), error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workDir + "/empty-crypto/peerOrganizations"), "no keys were generated")
        XCTAssertEqual(try client.list(.secret, namespace: "org1-f-1").map { $0["data"] }, secretsBefore, "Secrets untouched")
    }

    func testDriftIsPutBackAndDryRunShowsItWithoutWriting() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        _ = try await rollout(client, try options()).run()
        try client.scale(.deployment("peer0-org1-f-1", namespace: "org1-f-1"), replicas: 3, fieldManager: "kubectl")
        // Let the stand-in's controller finish its own status writes first.
        try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0-org1-f-1"], timeout: 10, pollInterval: 0.05)
        try standIn.settle()

        var dry = try options()
        dry.dryRun = true
        let revision = standIn.currentResourceVersion
        let plan = try await rollout(client, dry).run()
        XCTAssertEqual(standIn.currentResourceVersion, revision, "a dry run writes nothing")
        XCTAssertEqual(plan.objects.filter { $0.action != .unchanged }.map(\.object), ["Deployment org1-f-1/peer0-org1-f-1"])
        XCTAssertEqual(plan.steps.first { $0.step == "apply-objects" }?.status, .planned)

        let fixed = try await rollout(client, try options()).run()
        XCTAssertEqual(fixed.objects.filter { $0.action == .update }.map(\.object), ["Deployment org1-f-1/peer0-org1-f-1"])
        XCTAssertEqual(try client.get(.deployment("peer0-org1-f-1", namespace: "org1-f-1"))["spec", "replicas"]?.intValue, 1)

        // The generator re-issues expired certificates: past the earliest expiry recorded, a converged run derives again.
        var aged = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertGreaterThan(aged.certificatesValidUntil ?? 0, Date().timeIntervalSince1970 + 86_400 * 300)
        aged.certificatesValidUntil = Date().timeIntervalSince1970 - 1
        let stored = try client.get(.configMap(RolloutState.configMapName, namespace: "ordererorg-f-1"))
        try client.apply(aged.configMap(namespace: "ordererorg-f-1", labels: stored.labels))
        let expired = try await rollout(client, try options()).run()
        XCTAssertNil(expired.steps.first { $0.status == .failed }, expired.error ?? "")
        XCTAssertTrue(expired.cryptoDerived, "past the certificates' earliest expiry the generator must run")
        let renewed = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertGreaterThan(renewed.certificatesValidUntil ?? 0, Date().timeIntervalSince1970)
    }

    /// A converged re-run neither runs the crypto generator nor renders (the state's input and live digests match);
    /// a changed certificate file, or an object edited in the cluster, still makes the run act.
    func testConvergedRunSkipsCryptoAndRenderingButAChangedCertOrDriftIsActedOn() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        let first = try await rollout(client, try options()).run()
        XCTAssertTrue(first.cryptoDerived)
        XCTAssertGreaterThan(first.objectsRendered, 20)
        let state = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertNotNil(state.inputDigest)
        XCTAssertNotNil(state.liveDigest)

        // Converged: no generator run, nothing rendered, nothing written, every object still reported.
        try standIn.settle()
        var revision = standIn.currentResourceVersion
        let converged = try await rollout(client, try options()).run()
        XCTAssertNil(converged.steps.first { $0.status == .failed }, converged.error ?? "")
        XCTAssertFalse(converged.cryptoDerived, "the crypto material was derived again although nothing changed")
        XCTAssertEqual(converged.objectsRendered, 0, "objects were rendered again although nothing changed")
        XCTAssertEqual(converged.count(.unchanged), first.objectsRendered)
        XCTAssertEqual(converged.digest, first.digest)
        XCTAssertEqual(standIn.currentResourceVersion, revision, "a converged re-run must write nothing")

        // A certificate file replaced by another one (same directory, new content): noticed, derived and applied.
        let crypto = workDir + "/crypto"
        let files = FileManager.default.enumerator(atPath: crypto)?.compactMap { $0 as? String } ?? []
        let peerCerts = files.filter { $0.hasPrefix("peerOrganizations/") && $0.hasSuffix("/tls/server.crt") }.sorted()
        let ordererCert = try XCTUnwrap(files.first { $0.hasPrefix("ordererOrganizations/") && $0.hasSuffix("/tls/server.crt") })
        let target = crypto + "/" + (try XCTUnwrap(peerCerts.first))
        let before = try Data(contentsOf: URL(fileURLWithPath: target))
        try Data(contentsOf: URL(fileURLWithPath: crypto + "/" + ordererCert)).write(to: URL(fileURLWithPath: target))
        let certChanged = try await rollout(client, try options()).run()
        XCTAssertNil(certChanged.steps.first { $0.status == .failed }, certChanged.error ?? "")
        XCTAssertTrue(certChanged.cryptoDerived, "a changed certificate must be seen")
        XCTAssertGreaterThan(certChanged.objectsRendered, 0)
        XCTAssertGreaterThan(certChanged.count(.update), 0, "\(certChanged.objects.filter { $0.action != .unchanged })")
        let now = try Data(contentsOf: URL(fileURLWithPath: target))
        XCTAssertNotEqual(now, before)
        let secrets = try client.list(.secret, namespace: nil, labelSelector: "bok.io/tenant=f-1")
        let encoded = now.base64EncodedString()
        XCTAssertTrue(
            secrets.contains { $0["data"]?.objectValue?.values.contains { $0.stringValue == encoded } ?? false },
            "no Secret holds the certificate now in \(target)")

        // Converged again, then drift: an object edited in the cluster is put back without re-deriving crypto.
        try standIn.settle()
        revision = standIn.currentResourceVersion
        let again = try await rollout(client, try options()).run()
        XCTAssertFalse(again.cryptoDerived)
        XCTAssertEqual(again.objectsRendered, 0)
        XCTAssertEqual(standIn.currentResourceVersion, revision, "converged after the certificate change: no write")
        try client.scale(.deployment("peer0-org1-f-1", namespace: "org1-f-1"), replicas: 3, fieldManager: "kubectl")
        try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0-org1-f-1"], timeout: 10, pollInterval: 0.05)
        try standIn.settle()
        let fixed = try await rollout(client, try options()).run()
        XCTAssertFalse(fixed.cryptoDerived, "crypto inputs did not change")
        XCTAssertGreaterThan(fixed.objectsRendered, 0, "drift needs the rendered objects to compare")
        XCTAssertEqual(fixed.objects.filter { $0.action == .update }.map(\.object), ["Deployment org1-f-1/peer0-org1-f-1"])
        XCTAssertEqual(try client.get(.deployment("peer0-org1-f-1", namespace: "org1-f-1"))["spec", "replicas"]?.intValue, 1)

        // The generator re-issues expired certificates: past the earliest expiry recorded, a converged run derives again.
        var aged = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertGreaterThan(aged.certificatesValidUntil ?? 0, Date().timeIntervalSince1970 + 86_400 * 300)
        aged.certificatesValidUntil = Date().timeIntervalSince1970 - 1
        let stored = try client.get(.configMap(RolloutState.configMapName, namespace: "ordererorg-f-1"))
        try client.apply(aged.configMap(namespace: "ordererorg-f-1", labels: stored.labels))
        let expired = try await rollout(client, try options()).run()
        XCTAssertNil(expired.steps.first { $0.status == .failed }, expired.error ?? "")
        XCTAssertTrue(expired.cryptoDerived, "past the certificates' earliest expiry the generator must run")
        let renewed = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertGreaterThan(renewed.certificatesValidUntil ?? 0, Date().timeIntervalSince1970)
    }

    func testDryRunOnAnEmptyClusterListsEverythingAndWritesNoCrypto() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        var dry = try options()
        dry.dryRun = true
        let revision = standIn.currentResourceVersion
        let plan = try await rollout(client, dry).run()
        XCTAssertEqual(standIn.currentResourceVersion, revision)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workDir + "/crypto"), "a dry run must not write the crypto directory")
        XCTAssertGreaterThan(plan.count(.create), 20)
        XCTAssertEqual(plan.count(.update) + plan.count(.unchanged), 0)
        XCTAssertTrue(plan.objects.contains { $0.object == "Namespace org1-f-1" && $0.action == .create })
    }

    // MARK: Preflight

    func testAgentDownStopsInPreflightBeforeAnyKubernetesWrite() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        let revision = standIn.currentResourceVersion
        let report = try await rollout(client, try options(continueOnError: false)).run()
        XCTAssertFalse(report.success)
        let error = try XCTUnwrap(report.error)
        XCTAssertTrue(error.contains("step 1/8 (preflight)") && error.contains("node-down") && error.contains("nothing was changed"), error)
        XCTAssertEqual(report.steps.first?.status, .failed)
        XCTAssertEqual(standIn.currentResourceVersion, revision, "nothing may be written before the agents are healthy")
        XCTAssertNil(try client.getIfPresent(.namespace("org1-f-1")))
    }

    func testMissingStorageClassAndInstallAgentsWithoutInstallerAreExplained() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        var o = try options()
        o.installAgents = true
        let log = EventLog()
        let report = try await rollout(client, o, log: log).run()
        XCTAssertTrue(log.all.contains { $0.contains("agents install not available") }, log.all.joined(separator: "\n"))
        let error = try XCTUnwrap(report.error)
        XCTAssertTrue(error.contains("no default StorageClass") && error.contains("Storage.StorageClass"), error)
    }

    /// An installer that "repairs" nothing, to see it is called with the down nodes.
    struct RecordingProvisioner: AgentProvisioner {
        let calls: EventLog
        func installMissing(nodes: [Inventory.Node], progress: @escaping @Sendable (String) -> Void) async throws -> [String: String] {
            calls.add(.warning("install \(nodes.map(\.name).joined(separator: ","))"))
            return Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, "failed: test installer") })
        }
    }

    func testInstallAgentsCallsTheProvisionerForDownNodes() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        var o = try options(continueOnError: false)
        o.installAgents = true
        let calls = EventLog()
        let report = await NetworkRollout(
            topology: try RolloutFixture.topology(), client: client, options: o,
            provisioner: RecordingProvisioner(calls: calls)
        ).run()
        XCTAssertEqual(calls.all, ["warning: install node-down"])
        XCTAssertTrue(report.error?.contains("node-down") ?? false)
    }

    func testInventoryFromTheClusterUsesWorkerInternalIPs() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let (inventory, skipped) = try ClusterInventory.load(client, caDir: caDir)
        XCTAssertEqual(
            inventory.nodes,
            [
                Inventory.Node(name: "worker-1", agent: "198.18.1.1:7443"),
                Inventory.Node(name: "worker-2", agent: "198.18.1.2:7443"),
            ])
        XCTAssertEqual(Array(skipped.keys), ["control-plane-1"])
    }

    // MARK: Faults

    func testServerErrorsAreRetriedAndTheRolloutFinishes() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        standIn.injectFault(.status(500), method: "PATCH", pathContains: "/deployments/", count: 3)
        standIn.injectFault(.status(503), method: "GET", pathContains: "/version", count: 2)
        let report = try await rollout(client, try options()).run()
        XCTAssertEqual(report.steps.filter { $0.status == .failed }.count, 0, report.error ?? "")
        XCTAssertEqual(report.count(.failed), 0)
    }

    func testForbiddenSaysWhichVerbAndResourceAndIsNotRetried() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        standIn.injectFault(
            .status(403, reason: "Forbidden", message: "secrets is forbidden: User \"bok\" cannot patch resource \"secrets\""),
            method: "PATCH", pathContains: "/secrets/", count: 1000)
        standIn.resetRequestCounts()
        let report = try await rollout(client, try options()).run()
        let error = try XCTUnwrap(report.error)
        XCTAssertTrue(error.contains("step 4/8 (apply objects)"), error)
        XCTAssertTrue(error.contains("may not patch secrets in namespace"), error)
        XCTAssertTrue(error.contains("cannot patch resource"), error)
        XCTAssertTrue(report.objects.contains { $0.action == .failed && $0.object.hasPrefix("Secret ") })
        // Every object applied before the failure is in the report; Deployments never were.
        XCTAssertTrue(report.objects.contains { $0.action == .create && $0.object.hasPrefix("Namespace ") })
        XCTAssertNil(try client.getIfPresent(.deployment("peer0-org1-f-1", namespace: "org1-f-1")))
        let secretPatches = standIn.requestCounts().filter { $0.key.method == "PATCH" && $0.key.path.contains("/secrets/") }
        XCTAssertEqual(secretPatches.values.max(), 1, "a 403 must not be retried: \(secretPatches)")
    }

    func testATimedOutRequestIsRetriedAndAPersistentOneNamesTheStep() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn, timeout: 1)
        try RolloutFixture.createDefaultStorageClass(client)
        standIn.injectFault(.hang, method: "GET", pathContains: "/version", count: 1)
        let first = try await rollout(client, try options()).run()
        XCTAssertEqual(first.steps.filter { $0.status == .failed }.count, 0, first.error ?? "")

        standIn.injectFault(.hang, method: "GET", pathContains: "/apis/apps/v1/deployments", count: 100)
        let second = try await rollout(client, try options()).run()
        let error = try XCTUnwrap(second.error)
        // The first request to Deployments is the crypto step's look at the live objects (the inputs are unchanged since
        // the first run, so it checks whether the cluster still holds what that run left).
        XCTAssertTrue(error.contains("step 2/8 (crypto material)") && error.contains("GET /apis/apps/v1/deployments got no answer"), error)
        XCTAssertTrue(error.contains("cannot read what the tenant has in the cluster"), error)
        standIn.clearFaults()
    }

    // MARK: stop, start, teardown

    func testStopStartRestoreReplicasAndTeardownDeletesOnlyTheTenant() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        _ = try await rollout(client, try options()).run()
        try client.scale(.deployment("peer0-org2-f-1", namespace: "org2-f-1"), replicas: 2)
        var other = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "keep-me", namespace: "default", labels: ["bok.io/tenant": "f-2"])
        other["data"] = ["a": "b"]
        try client.apply(other)

        let lifecycle = TenantLifecycle(client: client, tenant: "f-1")
        let stopped = try lifecycle.stop()
        XCTAssertTrue(stopped.allSatisfy { $0.to == 0 })
        for d in try client.list(.deployment, labelSelector: "bok.io/tenant=f-1") {
            XCTAssertEqual(d["spec", "replicas"]?.intValue, 0, d.ref.description)
        }
        try standIn.settle()  // the stand-in's controller updates the status
        let revision = standIn.currentResourceVersion
        XCTAssertTrue(try lifecycle.stop().allSatisfy { !$0.changed }, "stopping twice changes nothing")
        XCTAssertEqual(standIn.currentResourceVersion, revision)

        _ = try lifecycle.start()
        XCTAssertEqual(try client.get(.deployment("peer0-org2-f-1", namespace: "org2-f-1"))["spec", "replicas"]?.intValue, 2)
        XCTAssertEqual(try client.get(.deployment("peer0-org1-f-1", namespace: "org1-f-1"))["spec", "replicas"]?.intValue, 1)
        XCTAssertNil(try client.get(.deployment("peer0-org1-f-1", namespace: "org1-f-1")).annotations[TenantLifecycle.replicasAnnotation])

        let plan = try lifecycle.teardownPlan()
        XCTAssertFalse(plan.contains { $0.namespace == "default" })
        XCTAssertEqual(Set(plan.filter { $0.kind == "Namespace" }.map(\.name)), ["ordererorg-f-1", "org1-f-1", "org2-f-1"])
        _ = try lifecycle.teardown(plan, timeout: 20, pollInterval: 0.05)
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
        XCTAssertNotNil(try client.getIfPresent(.configMap("keep-me", namespace: "default")))
        XCTAssertNotNil(try client.getIfPresent(.service("kube-dns", namespace: "kube-system")))
    }

    /// An API server that does not serve one of the kinds teardown looks for (here CronJobs: 404 on their list)
    /// still gets everything else of the tenant deleted.
    func testTeardownSkipsKindsTheAPIDoesNotServe() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        _ = try await rollout(client, try options()).run()
        standIn.injectFault(
            .status(404, reason: "NotFound", message: "the server could not find the requested resource"),
            method: "GET", pathContains: "/apis/batch/v1/cronjobs", count: 100)
        let said = EventLog()
        let lifecycle = TenantLifecycle(client: client, tenant: "f-1", reporter: { said.add(.warning($0)) })
        let plan = try lifecycle.teardownPlan()
        XCTAssertFalse(plan.isEmpty)
        _ = try lifecycle.teardown(plan, timeout: 20, pollInterval: 0.05)
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
        XCTAssertTrue(said.all.contains { $0.contains("does not serve cronjobs.batch") }, said.all.joined(separator: "\n"))
    }

    // MARK: Pieces

    func testSubsetComparisonIgnoresServerDefaultsButNotChangedValues() {
        let wanted: JSON = ["spec": ["replicas": 1, "ports": [["port": 80]]], "metadata": ["name": "a"]]
        let stored: JSON = [
            "spec": ["replicas": 1.0, "ports": [["port": 80, "protocol": "TCP"]], "extra": true],
            "metadata": ["name": "a", "uid": "x"], "status": ["ready": 1],
        ]
        XCTAssertTrue(ObjectSync.isSubset(wanted, of: stored, path: []))
        var changed = stored
        changed["spec"] = ["replicas": 2, "ports": [["port": 80]]]
        XCTAssertFalse(ObjectSync.isSubset(wanted, of: changed, path: []))
        XCTAssertFalse(ObjectSync.isSubset(["spec": ["ports": [["port": 80], ["port": 81]]]], of: stored, path: []))
    }

    func testForbiddenRequestsAreDescribedAsVerbAndResource() {
        XCTAssertTrue(
            KubeErrorText.request(method: "PATCH", path: "/apis/apps/v1/namespaces/org1-f-1/deployments/peer0") == (
                "patch", "deployments.apps", "org1-f-1"
            ))
        XCTAssertTrue(KubeErrorText.request(method: "GET", path: "/api/v1/nodes") == ("list", "nodes", nil))
        XCTAssertTrue(KubeErrorText.request(method: "PATCH", path: "/api/v1/namespaces/org1-f-1") == ("patch", "namespaces", nil))
    }

    func testStepsAreNumberedInOrder() {
        XCTAssertEqual(RolloutStep.allCases.map(\.number), Array(1...8))
        XCTAssertEqual(RolloutStep.nodeDNS.label, "step 3/8 (node DNS)")
    }
}
