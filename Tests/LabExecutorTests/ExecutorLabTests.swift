import BoKSystem
import BoKTesting
import DockerEngine
import Foundation
import KubeClient
import Lab
import XCTest

/// The executor runs what is applied, for real, on a 1-node lab: a Job's script sees exactly its env, its Secret and
/// ConfigMap files with their modes, the release's config, a kubelet-style resolv.conf; a failing Job fails after its
/// backoffLimit; a Deployment is available only when its readiness probe answers, at its Service's ClusterIP, which
/// kube-dns resolves; a deleted Deployment's process is gone; `lab down` leaves no pod namespace behind.
final class ExecutorLabTests: XCTestCase {
    static let subnet = 208
    static let root = "/tmp/bok-test-lab-208"

    override class func setUp() {
        super.setUp()
        _ = LabEnvironment.down(root: root, subnet: subnet)
    }

    override class func tearDown() {
        _ = LabEnvironment.down(root: root, subnet: subnet)
        super.tearDown()
    }

    private func object(_ json: JSON) throws -> KubeObject { try KubeObject(json) }

    private func jobLog(_ kube: KubeClient, namespace: String, job: String) throws -> String {
        try XCTUnwrap(try kube.jobLog(namespace: namespace, job: job), "no pod of Job \(job)").log
    }

    func testWhatIsAppliedRunsForReal() throws {
        try XCTSkipUnless(geteuid() == 0, "the lab needs root")
        let release = ProcessInfo.processInfo.environment["BOK_FABRIC_RELEASE"]
        var args = [
            BuildProducts.coordinator, "lab", "up", "--dir", Self.root, "--subnet", "\(Self.subnet)", "--nodes", "1", "--no-agents",
            "--fabric", "--no-fabric-images",
        ]
        if let release { args += ["--fabric-release", release] }
        let up = CommandRunner.run(args, timeout: 900)
        XCTAssertTrue(up.succeeded, up.tail(20).joined(separator: "\n"))
        guard up.succeeded else { return }
        let kube = try KubeClient(config: KubeConfig.load(path: Self.root + "/kubeconfig"))
        let ns = "exec-test"
        _ = try kube.apply(object(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]]))
        _ = try kube.apply(
            object([
                "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "s", "namespace": .string(ns)],
                "data": ["password": .string(Data("pw'$x".utf8).base64EncodedString())],
            ]))
        _ = try kube.apply(
            object([
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c", "namespace": .string(ns)],
                "binaryData": ["blob": .string(Data([0, 1, 2, 255]).base64EncodedString())],
            ]))
        let script = """
            set -e
            echo "env=$PASSWORD"
            echo "file=$(cat /etc/s/sub/pw)"
            echo "mode=$(stat -c %a /etc/s/sub/pw)"
            echo "blob=$(od -An -tx1 /etc/c/blob | tr -d ' \\n')"
            echo "cfg=$FABRIC_CFG_PATH $(ls $FABRIC_CFG_PATH | tr '\\n' ' ')"
            echo "peer=$(peer version | grep Version: | head -1 | tr -d ' ')"
            echo "resolv=$(grep nameserver /etc/resolv.conf)"
            echo "search=$(grep search /etc/resolv.conf)"
            echo "host=$(hostname)"
            echo "expanded=$(echo $EXPANDED)"
            """
        func job(_ name: String, _ script: String, backoffLimit: Int) -> JSON {
            [
                "apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": .string(name), "namespace": .string(ns)],
                "spec": [
                    "backoffLimit": .int(Int64(backoffLimit)),
                    "template": [
                        "spec": [
                            "restartPolicy": "OnFailure",
                            "containers": [
                                [
                                    "name": "main", "image": "hyperledger/fabric-tools:2.5", "command": ["/bin/sh", "-c"], "args": [.string(script)],
                                    "env": [
                                        ["name": "PASSWORD", "valueFrom": ["secretKeyRef": ["name": "s", "key": "password"]]],
                                        ["name": "EXPANDED", "value": "<$(PASSWORD)>"],
                                    ],
                                    "volumeMounts": [["name": "s", "mountPath": "/etc/s", "readOnly": true], ["name": "c", "mountPath": "/etc/c"]],
                                ]
                            ],
                            "volumes": [
                                [
                                    "name": "s",
                                    "secret": ["secretName": "s", "defaultMode": 0o400, "items": [["key": "password", "path": "sub/pw"]]],
                                ],
                                ["name": "c", "configMap": ["name": "c"]],
                            ],
                        ]
                    ],
                ],
            ]
        }
        _ = try kube.apply(object(job("probe", script, backoffLimit: 0)))
        _ = try kube.apply(object(job("fails", "echo trying; exit 3", backoffLimit: 1)))
        try kube.waitForJobComplete(namespace: ns, name: "probe", timeout: 60)
        let log = try jobLog(kube, namespace: ns, job: "probe")
        XCTAssertTrue(log.contains("env=pw'$x"), log)
        XCTAssertTrue(log.contains("file=pw'$x"), log)
        XCTAssertTrue(log.contains("mode=400"), log)
        XCTAssertTrue(log.contains("blob=000102ff"), log)
        XCTAssertTrue(log.contains("cfg=/etc/hyperledger/fabric configtx.yaml core.yaml orderer.yaml"), log)
        XCTAssertTrue(log.contains("peer=Version:2.5"), log)
        XCTAssertTrue(log.contains("resolv=nameserver 198.18.\(Self.subnet).10"), log)
        XCTAssertTrue(log.contains("search=search \(ns).svc.cluster.local svc.cluster.local cluster.local"), log)
        XCTAssertTrue(log.contains("host=probe-"), log)
        XCTAssertTrue(log.contains("expanded=<pw'$x>"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/s"), "a mount point was made on the host")

        // A failing Job fails once its backoffLimit is used up, with its log kept.
        XCTAssertThrowsError(try kube.waitForJobComplete(namespace: ns, name: "fails", timeout: 60)) { error in
            XCTAssertTrue("\(error)".contains("BackoffLimitExceeded"), "\(error)")
        }
        XCTAssertTrue(try jobLog(kube, namespace: ns, job: "fails").contains("trying"))

        // A Deployment behind a Service: available once its probe answers, at the ClusterIP kube-dns hands out.
        let labels: JSON = ["app": "web"]
        _ = try kube.apply(
            object([
                "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web", "namespace": .string(ns)],
                "spec": ["selector": labels, "ports": [["port": 8080, "targetPort": 8080]]],
            ]))
        _ = try kube.apply(
            object([
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web", "namespace": .string(ns)],
                "spec": [
                    "replicas": 1, "selector": ["matchLabels": labels],
                    "template": [
                        "metadata": ["labels": labels],
                        "spec": [
                            "containers": [
                                [
                                    "name": "web", "image": "hyperledger/fabric-tools:2.5",
                                    "command": [
                                        "/bin/sh", "-c",
                                        "mkdir -p /tmp/www && echo ok > /tmp/www/healthz && exec busybox httpd -f -p 8080 -h /tmp/www",
                                    ],
                                    "readinessProbe": ["httpGet": ["path": "/healthz", "port": 8080]],
                                ]
                            ]
                        ],
                    ],
                ],
            ]))
        try kube.waitForDeploymentsAvailable(namespace: ns, names: ["web"], timeout: 60)
        let service = try kube.get(ObjectRef(apiVersion: "v1", kind: "Service", namespace: ns, name: "web"))
        let clusterIP = try XCTUnwrap(service["spec", "clusterIP"]?.stringValue)
        XCTAssertTrue(clusterIP.hasPrefix("198.18.\(Self.subnet)."), clusterIP)
        let answer = CommandRunner.run(["busybox", "nslookup", "web.\(ns).svc.cluster.local", "198.18.\(Self.subnet).10"], timeout: 10)
        XCTAssertTrue(answer.stdout.contains(clusterIP), answer.stdout + answer.stderr)
        let pods = try kube.list(apiVersion: "v1", kind: "Pod", namespace: ns, labelSelector: "app=web")
        XCTAssertEqual(pods.first?.status?["podIP"]?.stringValue, clusterIP)

        // Deleted: its pod namespace (and every process in it) is gone.
        let before = CommandRunner.run(["ip", "netns", "list"]).stdout.split(separator: "\n").filter { $0.hasPrefix("bok\(Self.subnet)-p") }
        XCTAssertFalse(before.isEmpty)
        _ = try kube.delete(ObjectRef(apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name: "web"))
        var left = before
        for _ in 0..<50 where !left.isEmpty {
            usleep(200_000)
            left = CommandRunner.run(["ip", "netns", "list"]).stdout.split(separator: "\n").filter { $0.hasPrefix("bok\(Self.subnet)-p") }
        }
        XCTAssertTrue(left.isEmpty, "pod namespaces left after deleting the Deployment: \(left)")

        _ = LabEnvironment.down(root: Self.root, subnet: Self.subnet)
        let after = CommandRunner.run(["ip", "netns", "list"]).stdout.split(separator: "\n").filter { $0.hasPrefix("bok\(Self.subnet)-") }
        XCTAssertTrue(after.isEmpty, "lab down left \(after)")
    }
}
