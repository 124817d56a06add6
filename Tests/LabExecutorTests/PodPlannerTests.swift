import Foundation
import KubeClient
import XCTest

@testable import LabExecutor

/// The executor reads pod templates the way the kubelet does: volumes from Secrets/ConfigMaps with their modes and
/// items, env with valueFrom, `$(VAR)` in command and args, probes by port name, and what it cannot run.
final class PodPlannerTests: XCTestCase {
    private func secret(_ name: String, _ data: [String: String]) throws -> KubeObject {
        try KubeObject([
            "apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "ns"],
            "data": JSON(data.mapValues { Data($0.utf8).base64EncodedString() }),
        ])
    }

    private func configMap(_ name: String, data: [String: String], binary: [String: Data] = [:]) throws -> KubeObject {
        try KubeObject([
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name), "namespace": "ns"],
            "data": JSON(data), "binaryData": JSON(binary.mapValues { $0.base64EncodedString() }),
        ])
    }

    private let template: JSON = [
        "metadata": ["labels": ["app": "ca"]],
        "spec": [
            "containers": [
                [
                    "name": "ca", "image": "registry.example:5000/hyperledger/fabric-ca:1.5",
                    "command": ["fabric-ca-server", "start", "-b", "$(USER):$(PASSWORD)", "$$(USER)", "$(UNDEFINED)"],
                    "env": [
                        ["name": "USER", "valueFrom": ["secretKeyRef": ["name": "creds", "key": "username"]]],
                        ["name": "PASSWORD", "valueFrom": ["secretKeyRef": ["name": "creds", "key": "password"]]],
                        ["name": "POD", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]],
                        ["name": "FABRIC_CA_HOME", "value": "/var/ca"],
                    ],
                    "ports": [["name": "ops", "containerPort": 9443]],
                    "volumeMounts": [
                        ["name": "keys", "mountPath": "/etc/keys", "readOnly": true], ["name": "data", "mountPath": "/var/ca"],
                        ["name": "bundle", "mountPath": "/etc/bundle"],
                    ],
                    "readinessProbe": ["httpGet": ["path": "/healthz", "port": "ops"]],
                ],
                ["name": "db", "image": "couchdb:3.3"],
            ],
            "volumes": [
                ["name": "keys", "secret": ["secretName": "creds", "defaultMode": 288, "items": [["key": "password", "path": "sub/pw"]]]],
                ["name": "data", "persistentVolumeClaim": ["claimName": "ca-data"]],
                [
                    "name": "bundle",
                    "projected": [
                        "defaultMode": 0o440,
                        "sources": [
                            ["secret": ["name": "creds", "items": [["key": "username", "path": "u"]]]],
                            ["configMap": ["name": "pkg"]],
                        ],
                    ],
                ],
            ],
        ],
    ]

    func testATemplateBecomesExactlyWhatTheKubeletWouldRun() throws {
        let planner = PodPlanner(
            secrets: ["creds": try secret("creds", ["username": "admin", "password": "s3cret"])],
            configMaps: ["pkg": try configMap("pkg", data: ["a.txt": "A"], binary: ["b.bin": Data([0, 1, 2])])],
            fields: ["metadata.name": "ca-abc"])
        let plan = try planner.plan(namespace: "ns", template: template)
        XCTAssertEqual(plan.containers.count, 1)
        let ca = plan.containers[0]
        XCTAssertEqual(ca.profile.repository, "hyperledger/fabric-ca")
        XCTAssertEqual(ca.argv, ["fabric-ca-server", "start", "-b", "admin:s3cret", "$(USER)", "$(UNDEFINED)"])
        let env = Dictionary(ca.environment, uniquingKeysWith: { _, b in b })
        XCTAssertEqual(env["POD"], "ca-abc")
        XCTAssertEqual(env["FABRIC_CA_HOME"], "/var/ca", "the rendered env overrides the image's ENV")
        XCTAssertEqual(env["FABRIC_CA_SERVER_HOME"], "/etc/hyperledger/fabric-ca-server", "the image's ENV stays where not overridden")
        XCTAssertEqual(ca.readiness, .http(port: 9443, path: "/healthz", https: false))
        XCTAssertEqual(plan.volumes["keys"], .files([VolumeFile(path: "sub/pw", contents: Data("s3cret".utf8), mode: 0o440)]))
        XCTAssertEqual(plan.volumes["data"], .claim("ca-data"))
        XCTAssertEqual(
            plan.volumes["bundle"],
            .files([
                VolumeFile(path: "u", contents: Data("admin".utf8), mode: 0o440),
                VolumeFile(path: "a.txt", contents: Data("A".utf8), mode: 0o440),
                VolumeFile(path: "b.bin", contents: Data([0, 1, 2]), mode: 0o440),
            ]))
        XCTAssertEqual(plan.notRun.map(\.container), ["db"], "CouchDB is reported as not run")
    }

    func testAMissingSecretIsReportedLikeTheKubeletDoes() {
        let planner = PodPlanner(secrets: [:], configMaps: [:], fields: [:])
        XCTAssertThrowsError(try planner.plan(namespace: "ns", template: template)) { error in
            XCTAssertEqual((error as? PodPlanError)?.reason, "CreateContainerConfigError")
            XCTAssertTrue("\(error)".contains("secret \"creds\" not found"), "\(error)")
        }
    }

    func testItemPathsCannotEscapeTheVolume() throws {
        var t = template
        t[path: ["spec", "volumes"]] = [
            ["name": "keys", "secret": ["secretName": "creds", "items": [["key": "password", "path": "../../etc/shadow"]]]]
        ]
        t[path: ["spec", "containers"]] = [["name": "c", "image": "hyperledger/fabric-tools:2.5"]]
        let planner = PodPlanner(secrets: ["creds": try secret("creds", ["password": "x"])], configMaps: [:], fields: [:])
        XCTAssertThrowsError(try planner.plan(namespace: "ns", template: t))
    }

    func testImageNamesResolveToTheirRepository() {
        XCTAssertEqual(ImageProfile.repository(of: "hyperledger/fabric-peer:2.5"), "hyperledger/fabric-peer")
        XCTAssertEqual(ImageProfile.repository(of: "docker.io/hyperledger/fabric-peer:2.5.0"), "hyperledger/fabric-peer")
        XCTAssertEqual(ImageProfile.repository(of: "localhost:5000/hyperledger/fabric-orderer@sha256:abc"), "hyperledger/fabric-orderer")
        XCTAssertNil(ImageProfile.fabric(image: "couchdb:3.3"))
        XCTAssertEqual(ImageProfile.fabric(image: "hyperledger/fabric-tools:2.5")?.defaultCommand, ["/bin/sh"])
    }
}
