import BoKTesting
import CurlHTTP
import Foundation
import KubeClient
import XCTest

/// The stand-in's API semantics at the HTTP level, where KubeClient would hide them: content
/// types, Status bodies, discovery, list shape, YAML apply bodies, JSON patches, dry runs.
final class StandInSemanticsTests: XCTestCase {
    private func raw(
        _ standIn: KubeStandIn, _ method: String, _ path: String, body: String? = nil,
        contentType: String? = nil, accept: String = "application/json"
    ) throws -> (Int, JSON) {
        var headers = [("Accept", accept)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        let tls = TLSOptions(caPEM: standIn.caPEM, clientCertPEM: standIn.clientCertificatePEM, clientKeyPEM: standIn.clientKeyPEM)
        let response = try HTTPClient().send(
            HTTPRequest(
                method: method, url: standIn.url + path, headers: headers,
                body: body.map { Data($0.utf8) }, tls: tls))
        return (response.status, try JSON.parse(response.body))
    }

    func testAPatchWithAnUnknownContentTypeIs415() throws {
        let standIn = try makeStandIn()
        let (code, status) = try raw(standIn, "PATCH", "/api/v1/namespaces/default", body: "{}", contentType: "application/json")
        XCTAssertEqual(code, 415)
        XCTAssertEqual(status["kind"], "Status")
        XCTAssertEqual(status["reason"], "UnsupportedMediaType")
        XCTAssertEqual(status["code"], 415)
    }

    func testServerSideApplyNeedsAFieldManager() throws {
        let standIn = try makeStandIn()
        let (code, status) = try raw(
            standIn, "PATCH", "/api/v1/namespaces/org9",
            body: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: org9\n",
            contentType: "application/apply-patch+yaml")
        XCTAssertEqual(code, 400)
        XCTAssertTrue(status["message"]?.stringValue?.contains("fieldManager: Required value") ?? false, "\(status)")
    }

    func testApplyAcceptsAYAMLBodyAndCreatesWith201ThenAnswers200() throws {
        let standIn = try makeStandIn()
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: org9\n  labels:\n    tenant: f-1\n"
        let (created, object) = try raw(
            standIn, "PATCH", "/api/v1/namespaces/org9?fieldManager=test", body: yaml,
            contentType: "application/apply-patch+yaml")
        XCTAssertEqual(created, 201)
        XCTAssertEqual(object[path: ["metadata", "labels", "tenant"]], "f-1")
        let (again, same) = try raw(
            standIn, "PATCH", "/api/v1/namespaces/org9?fieldManager=test", body: yaml,
            contentType: "application/apply-patch+yaml")
        XCTAssertEqual(again, 200)
        XCTAssertEqual(same[path: ["metadata", "resourceVersion"]], object[path: ["metadata", "resourceVersion"]])
    }

    func testUnknownPathsAndMissingObjectsAre404StatusBodies() throws {
        let standIn = try makeStandIn()
        var (code, status) = try raw(standIn, "GET", "/apis/example.com/v1/widgets")
        XCTAssertEqual(code, 404)
        XCTAssertEqual(status["reason"], "NotFound")
        (code, status) = try raw(standIn, "GET", "/apis/apps/v1/namespaces/default/deployments/nope")
        XCTAssertEqual(code, 404)
        XCTAssertEqual(status["message"], "deployments.apps \"nope\" not found")
        XCTAssertEqual(status[path: ["details", "kind"]], "deployments")
        (code, status) = try raw(
            standIn, "PUT", "/api/v1/namespaces/default/configmaps/nope",
            body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"nope"}}"#, contentType: "application/json")
        XCTAssertEqual(code, 404)
    }

    func testDiscoveryDescribesGroupsAndResources() throws {
        let standIn = try makeStandIn()
        let (_, core) = try raw(standIn, "GET", "/api")
        XCTAssertEqual(core["versions"], ["v1"])
        let (_, groups) = try raw(standIn, "GET", "/apis")
        let names = groups["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        XCTAssertTrue(Set(names).isSuperset(of: ["apps", "batch", "rbac.authorization.k8s.io", "networking.k8s.io"]), "\(names)")
        let (_, apps) = try raw(standIn, "GET", "/apis/apps/v1")
        let deployments = apps["resources"]?.arrayValue?.first { $0["name"] == "deployments" }
        XCTAssertEqual(deployments?["kind"], "Deployment")
        XCTAssertEqual(deployments?["namespaced"], true)
        XCTAssertEqual(deployments?["shortNames"], ["deploy"])
        XCTAssertTrue(apps["resources"]?.arrayValue?.contains { $0["name"] == "deployments/scale" } ?? false)
    }

    func testListItemsCarryNoKindAndTheListHasAResourceVersion() throws {
        let standIn = try makeStandIn()
        let (code, list) = try raw(standIn, "GET", "/api/v1/namespaces")
        XCTAssertEqual(code, 200)
        XCTAssertEqual(list["kind"], "NamespaceList")
        XCTAssertNotNil(list[path: ["metadata", "resourceVersion"]])
        XCTAssertEqual(list["items"]?.arrayValue?.count, 4)
        XCTAssertNil(list["items"]?.arrayValue?.first?["kind"])
    }

    func testTablesAreServedWhenAsked() throws {
        let standIn = try makeStandIn()
        let (_, table) = try raw(
            standIn, "GET", "/api/v1/namespaces/kube-system/services",
            accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
        XCTAssertEqual(table["kind"], "Table")
        XCTAssertEqual(table["columnDefinitions"]?.arrayValue?.map { $0["name"] }.prefix(3), ["Name", "Type", "Cluster-IP"])
        XCTAssertEqual(table["rows"]?.arrayValue?.first?["cells"]?.arrayValue?.prefix(3), ["kube-dns", "ClusterIP", "10.96.0.10"])
        XCTAssertEqual(table["rows"]?.arrayValue?.first?[path: ["object", "kind"]], "PartialObjectMetadata")
    }

    func testJSONPatchGenerateNameAndDryRun() throws {
        let standIn = try makeStandIn()
        var (code, created) = try raw(
            standIn, "POST", "/api/v1/namespaces/default/configmaps",
            body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"cfg-"},"data":{"a":"1"}}"#,
            contentType: "application/json")
        XCTAssertEqual(code, 201)
        let name = try XCTUnwrap(created[path: ["metadata", "name"]]?.stringValue)
        XCTAssertTrue(name.hasPrefix("cfg-") && name.count == 9, name)

        var patched: JSON
        (code, patched) = try raw(
            standIn, "PATCH", "/api/v1/namespaces/default/configmaps/\(name)",
            body: #"[{"op":"replace","path":"/data/a","value":"2"},{"op":"add","path":"/data/b","value":"3"}]"#,
            contentType: "application/json-patch+json")
        XCTAssertEqual(code, 200)
        XCTAssertEqual(patched["data"], ["a": "2", "b": "3"])

        (code, created) = try raw(
            standIn, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All",
            body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}"#, contentType: "application/json")
        XCTAssertEqual(code, 201)
        XCTAssertNil(standIn.objectJSON(kind: "ConfigMap", namespace: "default", name: "dry"))
    }

    func testServiceClusterIPsAreUniqueAndNeverChange() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        let ips = try (0..<20).map { try client.apply(Manifests.service("peer\($0)", namespace: "org1-f-1"))["spec", "clusterIP"] }
        XCTAssertEqual(Set(ips).count, 20)
        var moved = Manifests.service("peer0", namespace: "org1-f-1")
        moved["spec", "clusterIP"] = "10.96.99.99"
        XCTAssertThrowsError(try client.apply(moved)) { error in
            XCTAssertTrue("\(error)".contains("may not change once set"), "\(error)")
        }
        var taken = Manifests.service("dns-clash", namespace: "org1-f-1")
        taken["spec", "clusterIP"] = "10.96.0.10"
        XCTAssertThrowsError(try client.apply(taken)) { error in
            XCTAssertTrue("\(error)".contains("provided IP is already allocated"), "\(error)")
        }
        var nodePort = Manifests.service("explorer", namespace: "org1-f-1")
        nodePort["spec", "type"] = "NodePort"
        let exposed = try client.apply(nodePort)
        let port = try XCTUnwrap(exposed["spec", "ports"]?.arrayValue?.first?["nodePort"]?.intValue)
        XCTAssertTrue((30000...32767).contains(port))
        XCTAssertEqual(try client.apply(nodePort)["spec", "ports"]?.arrayValue?.first?["nodePort"]?.intValue, port)
    }
}
