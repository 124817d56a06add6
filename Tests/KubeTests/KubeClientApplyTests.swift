import BoKTesting
import Foundation
import KubeClient
import XCTest

/// Server-side apply, create, replace, patch, delete and list against the stand-in.
final class KubeClientApplyTests: XCTestCase {
    func testApplyThenGetRoundTripsWithServerFieldsFilledIn() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let namespace = try client.apply(Manifests.namespace("org1-f-1", labels: ["bok.tenant": "f-1"]))
        XCTAssertEqual(namespace.status?["phase"], "Active")
        let applied = try client.apply(Manifests.service("peer0", namespace: "org1-f-1"))
        let fetched = try client.get(.service("peer0", namespace: "org1-f-1"))
        XCTAssertEqual(applied, fetched)
        XCTAssertEqual(fetched.labels, ["app": "peer"])
        XCTAssertEqual(fetched["spec", "ports"], [["name": "grpc", "port": 7051, "protocol": "TCP", "targetPort": 7051]])
        XCTAssertNotNil(fetched.uid)
        XCTAssertNotNil(fetched.creationTimestamp)
        XCTAssertNotNil(fetched.resourceVersion)
        let clusterIP = try XCTUnwrap(fetched["spec", "clusterIP"]?.stringValue)
        XCTAssertTrue(clusterIP.hasPrefix("10.96."), clusterIP)
        XCTAssertEqual(fetched["metadata", "managedFields"]?.arrayValue?.first?["manager"], "bok")
        XCTAssertEqual(fetched["metadata", "managedFields"]?.arrayValue?.first?["operation"], "Apply")
    }

    func testReapplyingTheSameObjectsChangesNothingAndTakesOneRequestEach() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let objects = [
            Manifests.namespace("org1-f-1"), Manifests.service("peer0", namespace: "org1-f-1"),
            Manifests.deployment("peer0", namespace: "org1-f-1"), Manifests.job("channel", namespace: "org1-f-1"),
            Manifests.configMap("core", namespace: "org1-f-1", data: ["core.yaml": "peer: {}"]),
        ]
        try client.applyAll(objects)
        try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0"], timeout: 5, pollInterval: 0.02)
        try client.waitForJobComplete(namespace: "org1-f-1", name: "channel", timeout: 5, pollInterval: 0.02)
        let stored = try ApplyOrder.sorted(objects).map { try client.get($0.ref) }
        let before = standIn.currentResourceVersion
        standIn.resetRequestCounts()

        let second = try client.applyAll(objects)

        XCTAssertEqual(standIn.currentResourceVersion, before, "an identical apply must not write anything")
        XCTAssertEqual(standIn.totalRequests, objects.count)
        XCTAssertEqual(standIn.requests(method: "PATCH"), objects.count)
        XCTAssertEqual(second.map(\.resourceVersion), stored.map(\.resourceVersion))
        XCTAssertEqual(second, stored)
        XCTAssertEqual(second.first { $0.kind == "Deployment" }?.generation, 1)
    }

    func testChangingAnAppliedFieldBumpsResourceVersionAndGeneration() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        let v1 = try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1", image: "hyperledger/fabric-peer:2.5.9"))
        let v2 = try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1", image: "hyperledger/fabric-peer:2.5.10"))
        XCTAssertNotEqual(v1.resourceVersion, v2.resourceVersion)
        XCTAssertEqual(v1.generation, 1)
        XCTAssertEqual(v2.generation, 2)
        XCTAssertEqual(v2["spec", "template", "spec", "containers"]?.arrayValue?.first?["image"], "hyperledger/fabric-peer:2.5.10")
    }

    func testFieldsDroppedFromTheManifestAreRemovedOnTheNextApply() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.configMap("cfg", namespace: "org1-f-1", data: ["a": "1", "b": "2"]))
        let after = try client.apply(Manifests.configMap("cfg", namespace: "org1-f-1", data: ["a": "1"]))
        XCTAssertEqual(after["data"], ["a": "1"])
    }

    func testApplyConflictsWithAnotherManagerUnlessForced() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1", replicas: 1))
        try client.scale(.deployment("peer0", namespace: "org1-f-1"), replicas: 0)  // an Update by another manager

        XCTAssertThrowsError(try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1", replicas: 1), force: false)) { error in
            let e = error as? KubeError
            XCTAssertEqual(e?.statusCode, 409)
            XCTAssertTrue(e?.description.contains(".spec.replicas") ?? false, "\(error)")
            XCTAssertTrue(e?.description.contains("apply with force") ?? false, "\(error)")
        }
        let forced = try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1", replicas: 1), force: true)
        XCTAssertEqual(forced["spec", "replicas"], 1)
    }

    func testApplyYAMLStreamAppliesEveryDocumentInOrder() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let applied = try client.apply(
            yaml: """
                apiVersion: v1
                kind: Namespace
                metadata: {name: ordererorg-f-1}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: couchdb, namespace: ordererorg-f-1}
                stringData: {COUCHDB_USER: admin, COUCHDB_PASSWORD: s3cret}
                ---
                apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: {name: ledger, namespace: ordererorg-f-1}
                spec:
                  accessModes: [ReadWriteOnce]
                  resources: {requests: {storage: 1Gi}}
                """)
        XCTAssertEqual(applied.map(\.kind), ["Namespace", "Secret", "PersistentVolumeClaim"])
        XCTAssertEqual(applied[1]["data", "COUCHDB_USER"], .string(Data("admin".utf8).base64EncodedString()))
        XCTAssertNil(applied[1]["stringData"])
        XCTAssertEqual(applied[2].status?["phase"], "Bound")
    }

    func testCreatingAnExistingObjectIs409AlreadyExists() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.create(Manifests.namespace("org1-f-1"))
        XCTAssertThrowsError(try client.create(Manifests.namespace("org1-f-1"))) { error in
            let e = error as? KubeError
            XCTAssertTrue(e?.isAlreadyExists ?? false, "\(error)")
            XCTAssertEqual(e?.apiStatus?.message, "namespaces \"org1-f-1\" already exists")
        }
        XCTAssertEqual(standIn.requests(method: "POST"), 2, "POST is never retried")
    }

    func testReplacingWithAStaleResourceVersionIs409Conflict() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        var read = try client.apply(Manifests.configMap("cfg", namespace: "org1-f-1", data: ["a": "1"]))
        var other = read
        other["data", "a"] = "2"
        try client.replace(other)  // someone else writes first
        read["data", "a"] = "3"
        XCTAssertThrowsError(try client.replace(read)) { error in
            let e = error as? KubeError
            XCTAssertTrue(e?.isConflict ?? false, "\(error)")
            XCTAssertTrue(e?.description.contains("the object has been modified") ?? false, "\(error)")
            XCTAssertTrue(e?.description.contains("read it again and retry") ?? false, "\(error)")
        }
        XCTAssertEqual(try client.get(.configMap("cfg", namespace: "org1-f-1"))["data", "a"], "2")
    }

    func testObjectsInAMissingNamespaceAre404NamingTheNamespace() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        XCTAssertThrowsError(try client.apply(Manifests.service("peer0", namespace: "nowhere"))) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 404)
            XCTAssertTrue("\(error)".contains("namespaces \"nowhere\" not found"), "\(error)")
        }
    }

    func testInvalidObjectsAre422WithTheServersMessage() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        XCTAssertThrowsError(try client.apply(Manifests.service("peer0.org1", namespace: "org1-f-1"))) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 422)
            XCTAssertTrue("\(error)".contains("a DNS-1035 label must consist of lower case alphanumeric characters"), "\(error)")
        }
        var deployment = Manifests.deployment("peer0", namespace: "org1-f-1")
        deployment["spec", "selector", "matchLabels"] = ["app": "other"]
        XCTAssertThrowsError(try client.apply(deployment)) { error in
            XCTAssertTrue("\(error)".contains("`selector` does not match template `labels`"), "\(error)")
        }
    }

    func testChangingAJobTemplateIsRefusedAsImmutable() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.job("channel", namespace: "org1-f-1"))
        var changed = Manifests.job("channel", namespace: "org1-f-1")
        changed["spec", "template", "spec", "containers"] = [["name": "channel", "image": "hyperledger/fabric-tools:3.0"]]
        XCTAssertThrowsError(try client.apply(changed)) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 422)
            XCTAssertTrue("\(error)".contains("field is immutable"), "\(error)")
        }
    }

    func testListFiltersByLabelSelectorAndFillsInKindAndAPIVersion() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        for (name, labels) in [
            ("peer0", ["app": "peer", "tier": "a"]), ("peer1", ["app": "peer", "tier": "b"]),
            ("ca", ["app": "ca"]), ("couch", ["app": "db", "tier": "a"]),
        ] {
            try client.apply(Manifests.service(name, namespace: "org1-f-1", labels: labels))
        }
        func names(_ selector: String) throws -> [String] {
            try client.list(.service, namespace: "org1-f-1", labelSelector: selector).map(\.name).sorted()
        }
        XCTAssertEqual(try names("app=peer"), ["peer0", "peer1"])
        XCTAssertEqual(try names("app!=peer"), ["ca", "couch"])
        XCTAssertEqual(try names("app in (ca, db)"), ["ca", "couch"])
        XCTAssertEqual(try names("app notin (peer),tier"), ["couch"])
        XCTAssertEqual(try names("!tier"), ["ca"])
        XCTAssertEqual(try names("app=peer,tier=b"), ["peer1"])
        let all = try client.list(.service, namespace: "org1-f-1")
        XCTAssertEqual(all.count, 4)
        XCTAssertTrue(all.allSatisfy { $0.kind == "Service" && $0.apiVersion == "v1" })
        XCTAssertEqual(try client.list(apiVersion: "v1", kind: "Service").count, 6, "all namespaces, with kubernetes and kube-dns")
        XCTAssertEqual(try client.list(.service, fieldSelector: "metadata.name=kube-dns").map(\.namespace), ["kube-system"])
    }

    func testListPagesThroughMoreThanOnePage() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("big"))
        let maps = (0..<520).map { Manifests.configMap(String(format: "cm-%04d", $0), namespace: "big", data: ["i": "\($0)"]) }
        try client.applyAll(maps, concurrency: 4)
        standIn.resetRequestCounts()
        let listed = try client.list(.configMap, namespace: "big")
        XCTAssertEqual(listed.count, 520)
        XCTAssertEqual(Set(listed.map(\.name)).count, 520)
        XCTAssertEqual(standIn.totalRequests, 2)
    }

    func testMetadataListsCarryIdentityAndResourceVersionButNoData() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("big"))
        let maps = (0..<510).map { Manifests.configMap(String(format: "cm-%04d", $0), namespace: "big", data: ["i": "\($0)"]) }
        try client.applyAll(maps, concurrency: 4)
        let full = try client.list(.configMap, namespace: "big")
        let metadata = try client.listMetadata(.configMap, namespace: "big")
        XCTAssertEqual(metadata.count, 510, "pages through more than one page")
        XCTAssertTrue(metadata.allSatisfy { $0.kind == "ConfigMap" && $0.apiVersion == "v1" && $0["data"] == nil })
        XCTAssertEqual(
            metadata.map { "\($0.name) \($0["metadata", "uid"]?.stringValue ?? "") \($0["metadata", "resourceVersion"]?.stringValue ?? "")" },
            full.map { "\($0.name) \($0["metadata", "uid"]?.stringValue ?? "") \($0["metadata", "resourceVersion"]?.stringValue ?? "")" })
        XCTAssertNotNil(full.first?["data"])
    }

    func testDeleteRemovesTheObjectAndReportsAMissingOne() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1"))
        try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0"], timeout: 5, pollInterval: 0.02)
        XCTAssertEqual(try client.list(.pod, namespace: "org1-f-1").count, 1, "the simulated controller made a pod")

        XCTAssertTrue(try client.delete(.deployment("peer0", namespace: "org1-f-1")))
        XCTAssertNil(try client.getIfPresent(.deployment("peer0", namespace: "org1-f-1")))
        XCTAssertEqual(try client.list(.pod, namespace: "org1-f-1").count, 0, "background propagation removed the pod")
        XCTAssertFalse(try client.delete(.deployment("peer0", namespace: "org1-f-1")))
    }

    func testDeletingANamespaceDeletesEverythingInIt() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        for ns in ["org1-f-1", "org2-f-1"] {
            try client.apply(Manifests.namespace(ns))
            try client.apply(Manifests.service("peer0", namespace: ns))
            try client.apply(Manifests.configMap("cfg", namespace: ns, data: [:]))
        }
        XCTAssertTrue(try client.delete(.namespace("org1-f-1")))
        XCTAssertEqual(standIn.count(kind: "Service", namespace: "org1-f-1"), 0)
        XCTAssertEqual(standIn.count(kind: "ConfigMap", namespace: "org1-f-1"), 0)
        XCTAssertEqual(standIn.count(kind: "Service", namespace: "org2-f-1"), 1)
        XCTAssertThrowsError(try client.delete(.namespace("kube-system"))) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 403)
        }
    }

    func testDeleteAllRemovesExactlyWhatTheSelectorMatches() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("shared"))
        try client.apply(Manifests.service("a", namespace: "shared", labels: ["bok.tenant": "f-1"]))
        try client.apply(Manifests.service("b", namespace: "shared", labels: ["bok.tenant": "f-2"]))
        let deleted = try client.deleteAll(.service, namespace: "shared", labelSelector: "bok.tenant=f-1")
        XCTAssertEqual(deleted.map(\.name), ["a"])
        XCTAssertEqual(try client.list(.service, namespace: "shared").map(\.name), ["b"])
        XCTAssertThrowsError(try client.deleteAll(.service, namespace: "shared", labelSelector: " "))
    }

    func testScaleSetsReplicasWithAMergePatch() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1"))
        let scaled = try client.scale(.deployment("peer0", namespace: "org1-f-1"), replicas: 0)
        XCTAssertEqual(scaled["spec", "replicas"], 0)
        XCTAssertEqual(scaled.generation, 2)
        XCTAssertThrowsError(try client.scale(.service("peer0", namespace: "org1-f-1"), replicas: 1))
        let patched = try client.patch(.deployment("peer0", namespace: "org1-f-1"), mergePatch: ["metadata": ["labels": ["paused": "yes"]]])
        XCTAssertEqual(patched.labels["paused"], "yes")
    }

    func testAKindOutsideTheBuiltInTableIsFoundThroughDiscovery() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        var lease = KubeObject(apiVersion: "coordination.k8s.io/v1", kind: "Lease", name: "rollout", namespace: "org1-f-1")
        lease["spec"] = ["holderIdentity": "coordinator"]
        let applied = try client.apply(lease)
        XCTAssertEqual(applied["spec", "holderIdentity"], "coordinator")
        XCTAssertEqual(try client.resourceType(apiVersion: "coordination.k8s.io/v1", kind: "Lease").plural, "leases")

        let widget = KubeObject(apiVersion: "example.com/v1", kind: "Widget", name: "w")
        XCTAssertThrowsError(try client.apply(widget)) { error in
            guard case .unknownResource(let apiVersion, let kind)? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertEqual(apiVersion, "example.com/v1")
            XCTAssertEqual(kind, "Widget")
        }
    }
}
