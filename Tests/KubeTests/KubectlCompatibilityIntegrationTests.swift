import BoKTesting
import Foundation
import KubeClient
import XCTest

/// kubectl itself, pointed at the stand-in: proof that the stand-in speaks the real API
/// (discovery, list paths, Table printing, TLS with client certificates).
final class KubectlCompatibilityIntegrationTests: XCTestCase {
    private func kubectl(_ standIn: KubeStandIn, _ args: [String], timeout: Double = 30) throws -> (status: Int32, out: String, err: String) {
        guard let path = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("kubectl is not installed")
        }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("bok-kubectl-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--kubeconfig", standIn.kubeconfigPath, "--cache-dir", cache.path, "--request-timeout", "10s"] + args
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while kubectl runs, so a full pipe cannot block it.
        let collected = PipeCollector(out: out, err: err)
        if !collected.wait(timeout: timeout) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTFail("kubectl \(args.joined(separator: " ")) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        return (process.terminationStatus, collected.outText, collected.errText)
    }

    func testKubectlGetNamespacesServicesDeploymentsAcrossNamespaces() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.service("peer0", namespace: "org1-f-1"))
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1"))

        let result = try kubectl(standIn, ["get", "ns,svc,deploy", "-A"])
        XCTAssertEqual(result.status, 0, "kubectl failed: \(result.err)")
        XCTAssertTrue(result.out.contains("org1-f-1"), result.out)
        XCTAssertTrue(result.out.contains("kube-dns"), result.out)
        XCTAssertTrue(result.out.contains("10.96.0.10"), result.out)
        XCTAssertTrue(result.out.contains("deployment.apps/peer0"), result.out)
        XCTAssertTrue(result.out.contains("service/peer0"), result.out)
        XCTAssertTrue(result.out.contains("namespace/kube-system"), result.out)
    }

    /// The stand-in serves no OpenAPI documents, so client-side validation is off (`--validate=false`).
    func testKubectlServerSideApplyScaleAndDeleteWork() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let manifest = FileManager.default.temporaryDirectory.appendingPathComponent("bok-kubectl-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: manifest) }
        try Data(
            """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: org2-f-1
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: ca
              namespace: org2-f-1
            spec:
              selector:
                matchLabels: {app: ca}
              template:
                metadata:
                  labels: {app: ca}
                spec:
                  containers:
                  - name: ca
                    image: hyperledger/fabric-ca:1.5
            """.utf8
        ).write(to: manifest)

        var result = try kubectl(standIn, ["apply", "--server-side", "--validate=false", "-f", manifest.path])
        XCTAssertEqual(result.status, 0, "kubectl apply failed: \(result.err)")
        let deployment = try client.get(.deployment("ca", namespace: "org2-f-1"))
        XCTAssertEqual(deployment["spec", "replicas"], 1)
        XCTAssertTrue(deployment["metadata", "managedFields"]?.jsonText.contains("kubectl") ?? false)

        result = try kubectl(standIn, ["scale", "-n", "org2-f-1", "deployment/ca", "--replicas=3"])
        XCTAssertEqual(result.status, 0, "kubectl scale failed: \(result.err)")
        XCTAssertEqual(try client.get(.deployment("ca", namespace: "org2-f-1"))["spec", "replicas"], 3)

        result = try kubectl(standIn, ["get", "-n", "org2-f-1", "deployment", "ca", "-o", "jsonpath={.spec.replicas}"])
        XCTAssertEqual(result.out, "3", result.err)

        result = try kubectl(standIn, ["delete", "namespace", "org2-f-1"])
        XCTAssertEqual(result.status, 0, "kubectl delete failed: \(result.err)")
        XCTAssertNil(try client.getIfPresent(.deployment("ca", namespace: "org2-f-1")))
        XCTAssertNil(try client.getIfPresent(.namespace("org2-f-1")))
    }
}

/// Drains a process's stdout and stderr on background threads.
private final class PipeCollector: @unchecked Sendable {
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    init(out: Pipe, err: Pipe) {
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                self.lock.lock()
                if isOut { self.out = data } else { self.err = data }
                self.lock.unlock()
                self.group.leave()
            }
        }
    }

    func wait(timeout: Double) -> Bool { group.wait(timeout: .now() + timeout) == .success }

    var outText: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: out, as: UTF8.self)
    }

    var errText: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: err, as: UTF8.self)
    }
}
