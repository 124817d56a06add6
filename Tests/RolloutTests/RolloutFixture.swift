import BoKTesting
import FabricTopology
import Fleet
import Foundation
import KubeClient
import Rollout
import XCTest

/// A small network: one orderer, two peer orgs with one peer each, explorer on a NodePort.
enum RolloutFixture {
    static let topologyYAML = """
        Tenant: f-1
        OrdererOrgs:
        - Name: OrdererOrg
          Domain: orgordererorg
          Template:
            Count: 1
        PeerOrgs:
        - Name: Org1
          Domain: org1
          Template:
            Count: 1
        - Name: Org2
          Domain: org2
          Template:
            Count: 1
        StateDatabase: CouchDB
        Storage:
          Size: 1Gi
        Channel: mychannel
        Explorer: true
        NodePorts:
          Explorer: 32767
          CA: 30000

        """

    static func topology() throws -> FabricTopology { try FabricTopology.parse(yaml: topologyYAML, source: "cluster-config.yaml") }

    static func temporaryDirectory(_ prefix: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A default StorageClass, as most clusters have.
    static func createDefaultStorageClass(_ client: KubeClient, name: String = "standard") throws {
        var sc = KubeObject(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", name: name)
        sc["metadata", "annotations"] = ["storageclass.kubernetes.io/is-default-class": "true"]
        sc["provisioner"] = "rancher.io/local-path"
        try client.apply(sc)
    }

    /// Every tenant-labelled object in the stand-in, as `Kind namespace/name`.
    static func tenantObjects(_ client: KubeClient, tenant: String = "f-1") throws -> Set<String> {
        var result = Set<String>()
        for kind in [
            "Namespace", "NetworkPolicy", "PersistentVolume", "Secret", "ConfigMap", "PersistentVolumeClaim", "Service", "Deployment", "Job",
        ] {
            for o in try client.list(ResourceType.known(kind: kind)!, labelSelector: "bok.io/tenant=\(tenant)") {
                result.insert(o.ref.description)
            }
        }
        return result
    }

    /// The rendered objects of the fixture (with its crypto material), as `Kind namespace/name`.
    static func renderedObjects(cryptoDirectory: String) throws -> Set<String> {
        let topology = try topology()
        _ = try NetworkMaterial.generateCrypto(topology, into: cryptoDirectory)
        return Set(try NetworkMaterial.render(topology, cryptoDirectory: cryptoDirectory).map { try KubeObject($0.json).ref.description })
    }
}

extension XCTestCase {
    func makeStandIn(_ configure: (inout KubeStandIn.Options) -> Void = { _ in }) throws -> KubeStandIn {
        var options = KubeStandIn.Options()
        options.readinessDelay = 0.05
        configure(&options)
        let standIn = try KubeStandIn(options: options)
        addTeardownBlock { standIn.stop() }
        return standIn
    }

    func makeClient(
        _ standIn: KubeStandIn, retry: RetryPolicy = RetryPolicy(maxAttempts: 4, initialDelay: 0.01, maxDelay: 0.05),
        timeout: Double = 5
    ) throws -> KubeClient {
        KubeClient(config: try KubeConfig.load(path: standIn.kubeconfigPath), retryPolicy: retry, requestTimeout: timeout)
    }
}

/// Collects rollout events for assertions.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ event: RolloutEvent) {
        let line: String
        switch event {
        case .stepStarted(let s): line = "start \(s.rawValue)"
        case .progress(let s, let m, _, _): line = "progress \(s.rawValue): \(m)"
        case .stepFinished(let s, let status, let d): line = "finish \(s.rawValue) \(status.rawValue): \(d)"
        case .warning(let w): line = "warning: \(w)"
        }
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
