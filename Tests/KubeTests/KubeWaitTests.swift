import BoKTesting
import Foundation
import KubeClient
import XCTest

/// Readiness polling against the stand-in's simulated controllers.
final class KubeWaitTests: XCTestCase {
    func testWaitingForDeploymentsReturnsOnceAllAreAvailable() throws {
        let standIn = try makeStandIn { $0.readinessDelay = 0.3 }
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        for name in ["peer0", "peer1", "ca"] { try client.apply(Manifests.deployment(name, namespace: "org1-f-1", replicas: 2)) }
        XCTAssertEqual(
            WorkloadReadiness.deployment(try client.get(.deployment("peer0", namespace: "org1-f-1"))),
            .pending("0 of 2 replicas available (MinimumReplicasUnavailable)"))
        standIn.resetRequestCounts()

        try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0", "peer1", "ca"], timeout: 10, pollInterval: 0.05)
        let lists = standIn.requestCounts()[KubeStandIn.RequestKey(method: "GET", path: "/apis/apps/v1/namespaces/org1-f-1/deployments")] ?? 0
        XCTAssertGreaterThan(lists, 1)
        XCTAssertEqual(lists, standIn.totalRequests, "one LIST per round, no GET per deployment")

        let deployment = try client.get(.deployment("peer1", namespace: "org1-f-1"))
        XCTAssertEqual(deployment.status?["availableReplicas"], 2)
        XCTAssertEqual(deployment.condition("Available")?.isTrue, true)
        XCTAssertEqual(try client.list(.pod, namespace: "org1-f-1", labelSelector: "app=peer1").count, 2)
    }

    func testATimeoutNamesEachPendingDeploymentAndWhy() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        standIn.setBehaviour(.neverReady, kind: "Deployment", namespace: "org1-f-1", name: "peer1")
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1"))
        try client.apply(Manifests.deployment("peer1", namespace: "org1-f-1"))
        XCTAssertThrowsError(
            try client.waitForDeploymentsAvailable(
                namespace: "org1-f-1", names: ["peer0", "peer1", "peer9"],
                timeout: 0.5, pollInterval: 0.05)
        ) { error in
            guard case .timedOut(_, let seconds, let pending)? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertEqual(seconds, 0.5)
            XCTAssertEqual(pending, ["peer1: 0 of 1 replicas available (MinimumReplicasUnavailable)", "peer9: not found"])
            XCTAssertTrue("\(error)".contains("Deployments in org1-f-1 to become available"), "\(error)")
        }
    }

    func testADeploymentPastItsProgressDeadlineFailsTheWaitAtOnce() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        standIn.setBehaviour(.fails("ReplicaSet \"peer0-x\" has timed out progressing."), kind: "Deployment", namespace: "org1-f-1", name: "peer0")
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1"))
        let start = Date()
        XCTAssertThrowsError(try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0"], timeout: 30, pollInterval: 0.05)) {
            error in
            guard case .workloadFailed(let ref, let reason)? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertEqual(ref, .deployment("peer0", namespace: "org1-f-1"))
            XCTAssertTrue(reason.contains("has timed out progressing"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testWaitingForAJobReturnsItWhenComplete() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.job("channel", namespace: "org1-f-1"))
        let job = try client.waitForJobComplete(namespace: "org1-f-1", name: "channel", timeout: 5, pollInterval: 0.02)
        XCTAssertEqual(job.condition("Complete")?.isTrue, true)
        XCTAssertEqual(job.status?["succeeded"], 1)
    }

    func testAFailedJobFailsTheWaitWithItsReason() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        standIn.setBehaviour(.fails("Job has reached the specified backoff limit"), kind: "Job", namespace: "org1-f-1", name: "channel")
        try client.apply(Manifests.job("channel", namespace: "org1-f-1"))
        XCTAssertThrowsError(try client.waitForJobComplete(namespace: "org1-f-1", name: "channel", timeout: 5, pollInterval: 0.02)) { error in
            XCTAssertTrue("\(error)".contains("BackoffLimitExceeded: Job has reached the specified backoff limit"), "\(error)")
        }
    }

    func testWaitingForAMissingJobTimesOut() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        XCTAssertThrowsError(try client.waitForJobComplete(namespace: "default", name: "ghost", timeout: 0.2, pollInterval: 0.05)) { error in
            guard case .timedOut(_, _, let pending)? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertEqual(pending, ["ghost: not found"])
        }
    }

    func testStatefulSetsBecomeReady() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("ordererorg-f-1"))
        var sts = KubeObject(apiVersion: "apps/v1", kind: "StatefulSet", name: "orderer", namespace: "ordererorg-f-1")
        sts["spec"] = [
            "replicas": 3, "serviceName": "orderer", "selector": ["matchLabels": ["app": "orderer"]],
            "template": [
                "metadata": ["labels": ["app": "orderer"]],
                "spec": ["containers": [["name": "orderer", "image": "hyperledger/fabric-orderer:2.5"]]],
            ],
        ]
        try client.apply(sts)
        try client.waitForStatefulSetsReady(namespace: "ordererorg-f-1", names: ["orderer"], timeout: 5, pollInterval: 0.02)
        XCTAssertEqual(try client.list(.pod, namespace: "ordererorg-f-1").map(\.name).sorted(), ["orderer-0", "orderer-1", "orderer-2"])

        var changed = sts
        changed["spec", "serviceName"] = "other"
        XCTAssertThrowsError(try client.apply(changed)) { error in
            XCTAssertTrue("\(error)".contains("updates to statefulset spec for fields other than"), "\(error)")
        }
    }

    func testNamespaceDeletionCanBeAwaited() throws {
        let standIn = try makeStandIn { $0.namespaceTerminationDelay = 0.2 }
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.service("peer0", namespace: "org1-f-1"))
        try client.delete(.namespace("org1-f-1"))
        XCTAssertEqual(try client.get(.namespace("org1-f-1")).status?["phase"], "Terminating")
        XCTAssertThrowsError(try client.apply(Manifests.service("peer1", namespace: "org1-f-1"))) { error in
            XCTAssertTrue("\(error)".contains("because it is being terminated"), "\(error)")
        }
        try client.waitForDeletion([.namespace("org1-f-1"), .service("peer0", namespace: "org1-f-1")], timeout: 5, pollInterval: 0.05)
    }
}
