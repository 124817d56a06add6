import Foundation
import KubeClient
import XCTest

final class KubeObjectTests: XCTestCase {
    func testMultiDocumentYAMLGivesEveryObjectAndExpandsLists() throws {
        let objects = try KubeObject.objects(
            yaml: """
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: org1-f-1
                ---
                ---
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Service
                  metadata: {name: peer0, namespace: org1-f-1, labels: {app: peer}}
                - apiVersion: apps/v1
                  kind: Deployment
                  metadata: {name: peer0, namespace: org1-f-1}
                """)
        XCTAssertEqual(objects.map(\.description), ["Namespace org1-f-1", "Service org1-f-1/peer0", "Deployment org1-f-1/peer0"])
        XCTAssertEqual(objects[1].labels, ["app": "peer"])
    }

    func testObjectWithoutKindIsRejectedNamingTheDocument() {
        XCTAssertThrowsError(
            try KubeObject.objects(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n")
        ) { error in
            XCTAssertEqual((error as? KubeObjectError)?.document, 2)
            XCTAssertTrue("\(error)".contains("no kind"), "\(error)")
        }
        XCTAssertThrowsError(try KubeObject(["kind": "Service"]))
        XCTAssertThrowsError(try KubeObject(["apiVersion": "v1", "kind": "Service", "metadata": "x"]))
    }

    func testAccessorsReadAndWriteMetadata() throws {
        var object = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "a", namespace: "ns")
        object.labels = ["tenant": "f-1"]
        object.annotations = ["note": "x"]
        object["data", "key"] = "value"
        XCTAssertEqual(object.ref, ObjectRef(apiVersion: "v1", kind: "ConfigMap", namespace: "ns", name: "a"))
        XCTAssertEqual(object.labels, ["tenant": "f-1"])
        XCTAssertEqual(object["data", "key"], "value")
        XCTAssertEqual(try KubeObject(jsonData: object.serialized()), object)
    }

    func testApplyOrderPutsNamespacesFirstAndJobsLast() throws {
        let kinds = ["Job", "Deployment", "Service", "Secret", "Namespace", "PersistentVolume", "Widget", "ConfigMap"]
        let objects = kinds.map { KubeObject(apiVersion: "v1", kind: $0, name: $0.lowercased()) }
        XCTAssertEqual(
            ApplyOrder.sorted(objects).map(\.kind),
            ["Namespace", "PersistentVolume", "Secret", "ConfigMap", "Service", "Deployment", "Job", "Widget"])
    }

    func testDeploymentReadinessFollowsRolloutStatusRules() throws {
        func deployment(_ status: JSON, generation: Int64 = 2, replicas: Int64 = 2) throws -> KubeObject {
            try KubeObject([
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": ["name": "peer0", "generation": .int(generation)],
                "spec": ["replicas": .int(replicas)], "status": status,
            ])
        }
        XCTAssertEqual(
            WorkloadReadiness.deployment(try deployment(["observedGeneration": 1])),
            .pending("the controller has not yet seen generation 2"))
        XCTAssertEqual(
            WorkloadReadiness.deployment(
                try deployment([
                    "observedGeneration": 2, "updatedReplicas": 2, "replicas": 2,
                    "availableReplicas": 1,
                ])),
            .pending("1 of 2 replicas available"))
        XCTAssertEqual(
            WorkloadReadiness.deployment(
                try deployment([
                    "observedGeneration": 2, "updatedReplicas": 2, "replicas": 3,
                    "availableReplicas": 2,
                ])),
            .pending("1 old replicas are pending termination"))
        XCTAssertEqual(
            WorkloadReadiness.deployment(
                try deployment([
                    "observedGeneration": 2, "updatedReplicas": 2, "replicas": 2,
                    "availableReplicas": 2,
                ])), .ready)
        let stuck = try deployment([
            "observedGeneration": 2,
            "conditions": [
                [
                    "type": "Progressing", "status": "False",
                    "reason": "ProgressDeadlineExceeded", "message": "too slow",
                ]
            ],
        ])
        XCTAssertEqual(WorkloadReadiness.deployment(stuck), .failed("progress deadline exceeded: too slow"))
    }

    func testJobAndStatefulSetReadiness() throws {
        let failed = try KubeObject([
            "apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "j"],
            "status": [
                "conditions": [
                    [
                        "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                    ]
                ]
            ],
        ])
        XCTAssertEqual(WorkloadReadiness.job(failed), .failed("BackoffLimitExceeded: Job has reached the specified backoff limit"))
        let running = try KubeObject(["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "j"], "status": ["active": 1]])
        XCTAssertEqual(WorkloadReadiness.job(running), .pending("0 of 1 completions, 1 active"))
        let sts = try KubeObject([
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ["name": "o", "generation": 1],
            "spec": ["replicas": 3],
            "status": [
                "observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3,
                "currentRevision": "o-1", "updateRevision": "o-2",
            ],
        ])
        XCTAssertEqual(WorkloadReadiness.statefulSet(sts), .pending("rolling update to revision o-2 in progress"))
    }

    func testNodeInfoReadsInternalIPReadinessAndRoles() throws {
        let node = try KubeObject(
            yaml: """
                apiVersion: v1
                kind: Node
                metadata:
                  name: master-1
                  labels:
                    node-role.kubernetes.io/control-plane: ""
                    node-role.kubernetes.io/master: ""
                    kubernetes.io/role: etcd
                spec:
                  unschedulable: true
                status:
                  addresses:
                  - {type: Hostname, address: master-1}
                  - {type: InternalIP, address: 10.0.0.5}
                  conditions:
                  - {type: Ready, status: "True"}
                """)
        XCTAssertEqual(
            NodeInfo(node: node),
            NodeInfo(
                name: "master-1", internalIP: "10.0.0.5", ready: true, roles: ["control-plane", "etcd", "master"],
                unschedulable: true))
    }

    func testRetryPolicyBacksOffExponentiallyUpToItsCapAndHonoursRetryAfter() {
        let policy = RetryPolicy(maxAttempts: 6, initialDelay: 0.5, multiplier: 2, maxDelay: 3)
        XCTAssertEqual((1...5).map { policy.delay(afterAttempt: $0) }, [0.5, 1, 2, 3, 3])
        XCTAssertEqual(policy.delay(afterAttempt: 1, retryAfter: 2), 2)
        XCTAssertEqual(policy.delay(afterAttempt: 1, retryAfter: 60), 3)
        XCTAssertTrue(RetryPolicy.isRetryable(status: 503))
        XCTAssertFalse(RetryPolicy.isRetryable(status: 409))
    }

    func testResourcePathsForNamespacedAndClusterScopedKinds() {
        XCTAssertEqual(ResourceType.service.objectPath(namespace: "org1-f-1", name: "peer0"), "/api/v1/namespaces/org1-f-1/services/peer0")
        XCTAssertEqual(ResourceType.deployment.collectionPath(namespace: nil), "/apis/apps/v1/deployments")
        XCTAssertEqual(
            ResourceType.known(kind: "PersistentVolume")?.objectPath(namespace: "ignored", name: "pv1"),
            "/api/v1/persistentvolumes/pv1")
        XCTAssertEqual(ResourceType.known(apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding")?.plural, "rolebindings")
    }
}
