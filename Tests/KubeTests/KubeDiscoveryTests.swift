import BoKTesting
import Foundation
import KubeClient
import XCTest

/// What the coordinator reads from the cluster: the DNS ClusterIP and the nodes.
final class KubeDiscoveryTests: XCTestCase {
    func testClusterDNSIsTheKubeDNSServicesClusterIP() throws {
        let standIn = try makeStandIn { $0.clusterDNS = KubeStandIn.DNSService(clusterIP: "10.43.0.10") }
        XCTAssertEqual(try makeClient(standIn).clusterDNS(), ClusterDNS(serviceName: "kube-dns", clusterIP: "10.43.0.10"))
    }

    func testClusterDNSFallsBackToAServiceLabelledKubeDNS() throws {
        let standIn = try makeStandIn {
            $0.clusterDNS = KubeStandIn.DNSService(name: "rke2-coredns-rke2-coredns", clusterIP: "10.43.0.11", labels: ["k8s-app": "kube-dns"])
        }
        XCTAssertEqual(try makeClient(standIn).clusterDNS(), ClusterDNS(serviceName: "rke2-coredns-rke2-coredns", clusterIP: "10.43.0.11"))
    }

    func testClusterDNSFallsBackToCoreDNSByName() throws {
        let standIn = try makeStandIn { $0.clusterDNS = KubeStandIn.DNSService(name: "coredns", clusterIP: "10.100.0.10", labels: [:]) }
        XCTAssertEqual(try makeClient(standIn).clusterDNS().clusterIP, "10.100.0.10")
    }

    func testAClusterWithoutDNSIsReportedWithWhatToDo() throws {
        let standIn = try makeStandIn { $0.clusterDNS = nil }
        XCTAssertThrowsError(try makeClient(standIn).clusterDNS()) { error in
            guard case .clusterDNSNotFound? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("--cluster-dns"), "\(error)")
        }
    }

    func testNodesComeWithInternalIPReadinessAndRoles() throws {
        let standIn = try makeStandIn {
            $0.nodes = [
                KubeStandIn.Node(name: "master-1", internalIP: "198.18.0.10", roles: ["control-plane"]),
                KubeStandIn.Node(name: "worker-2", internalIP: "198.18.1.2", ready: false),
                KubeStandIn.Node(name: "worker-1", internalIP: "198.18.1.1", roles: ["fabric"]),
            ]
        }
        XCTAssertEqual(
            try makeClient(standIn).listNodes(),
            [
                NodeInfo(name: "master-1", internalIP: "198.18.0.10", ready: true, roles: ["control-plane"]),
                NodeInfo(name: "worker-1", internalIP: "198.18.1.1", ready: true, roles: ["fabric"]),
                NodeInfo(name: "worker-2", internalIP: "198.18.1.2", ready: false, roles: []),
            ])
    }

    func testServerVersionIsReadFromVersionEndpoint() throws {
        let standIn = try makeStandIn { $0.kubernetesVersion = "v1.29.4" }
        let version = try makeClient(standIn).serverVersion()
        XCTAssertEqual(version.gitVersion, "v1.29.4")
        XCTAssertEqual(version.major, "1")
        XCTAssertEqual(version.minor, "29")
    }

    func testPodsOfWorkloadsLandOnTheNodes() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1", replicas: 3))
        try client.waitForDeploymentsAvailable(namespace: "org1-f-1", names: ["peer0"], timeout: 5, pollInterval: 0.02)
        let pods = try client.list(.pod, namespace: "org1-f-1")
        XCTAssertEqual(pods.count, 3)
        let nodes = Set(try client.listNodes().map(\.name))
        for pod in pods {
            XCTAssertTrue(nodes.contains(pod["spec", "nodeName"]?.stringValue ?? ""), "\(pod)")
            XCTAssertEqual(WorkloadReadiness.pod(pod), .ready)
        }
    }
}
