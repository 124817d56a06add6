import BoKSystem
import BoKTesting
import DockerEngine
import Foundation
import KubeClient
import Lab
import XCTest

/// The mission end to end, with real Fabric: a 3-node lab whose Kubernetes API runs what BoK applies as real peer,
/// orderer, CA and Job processes from a Fabric release; chaincode built and launched by real peers through each node's
/// real Docker. Proves: every peer joins the channel, a chaincode launch fails naming the DNS lookup until
/// `coordinator dns apply`, then the chaincode answers (a: 100 → 90), and `chaincode list` sees its containers with
/// kube-dns first. Needs root, the lab's Fabric images (built once, cached) and a Fabric release
/// (`scripts/install-deps.sh` puts one into the cache; `BOK_FABRIC_RELEASE` names another).
final class FabricLabTests: XCTestCase {
    static let subnet = 207
    static let root = "/tmp/bok-test-lab-207"
    static let config = BuildProducts.repositoryRoot + "/configs/lab-cluster-config.yaml"
    /// Fabric's `simple` chaincode: `BOK_CHAINCODE`, else the copy the Fabric release in BoK's cache keeps
    /// (scripts/install-deps.sh puts it there from ../shared/fabric).
    static var chaincode: String? {
        if let given = ProcessInfo.processInfo.environment["BOK_CHAINCODE"], !given.isEmpty { return given }
        return (try? FabricRelease.resolve(explicit: nil))?.chaincode("simple")
    }

    override class func setUp() {
        super.setUp()
        _ = LabEnvironment.down(root: root, subnet: subnet)
    }

    override class func tearDown() {
        _ = LabEnvironment.down(root: root, subnet: subnet)
        super.tearDown()
    }

    @discardableResult
    private func coordinator(
        _ args: [String], timeout: Double = 600, expect: Int32? = 0, file: StaticString = #filePath,
        line: UInt = #line
    ) -> CommandResult {
        var env = ProcessInfo.processInfo.environment
        env["KUBECONFIG"] = Self.root + "/kubeconfig"
        let r = CommandRunner.run([BuildProducts.coordinator] + args, timeout: timeout, environment: env)
        if let expect, r.exitCode != expect || r.timedOut {
            XCTFail(
                "coordinator \(args.joined(separator: " ")) exited \(r.exitCode)\(r.timedOut ? " (timed out)" : ""), expected \(expect):\n"
                    + r.stdout.suffix(4000) + "\n" + r.stderr.suffix(4000), file: file, line: line)
        }
        return r
    }

    func testRealFabricChaincodeAnswersOnlyAfterTheDNSFix() throws {
        try XCTSkipUnless(geteuid() == 0, "the lab needs root")
        let chaincode = try XCTUnwrap(
            Self.chaincode, "no chaincode source: run scripts/install-deps.sh (caches Fabric's simple) or set BOK_CHAINCODE")
        let up = coordinator(["lab", "up", "--dir", Self.root, "--subnet", "\(Self.subnet)", "--nodes", "3", "--fabric"])
        guard up.succeeded else { return }
        let lab = try XCTUnwrap(LabState.load(root: Self.root))
        let inventory = lab.inventory

        // 1. The network, for real: peers, orderer and CAs run; the channel Jobs' scripts ran.
        coordinator([
            "rollout", "-c", Self.config, "--inventory", inventory, "--crypto-dir", Self.root + "/crypto-config",
            "--skip-node-dns", "--timeout", "300",
        ])
        let claims = Self.root + "/executor/claims"
        for (namespace, peer) in [("org1-f-1", "peer0"), ("org1-f-1", "peer1"), ("org2-f-1", "peer0")] {
            let ledger = "\(claims)/\(namespace)/\(peer)-ledger/ledgersData/chains/chains/mychannel"
            XCTAssertTrue(FileManager.default.fileExists(atPath: ledger), "\(peer).\(namespace) has no ledger of mychannel at \(ledger)")
        }

        // 2. Before the DNS fix: the peers build the chaincode, but the container cannot resolve its peer.
        let deploy = [
            "chaincode", "deploy", "-c", Self.config, "--path", chaincode + "/cmd", "--lang", "golang", "--label", "simple_1.0",
            "--init-args", #"{"Args":["init","a","100","b","200"]}"#, "--timeout", "400",
        ]
        let failed = coordinator(deploy, expect: nil)
        XCTAssertNotEqual(failed.exitCode, 0, "init must fail before the DNS fix:\n\(failed.stdout)")
        var lookups: [String] = []
        for node in lab.nodes {
            let ids = node.run(["docker", "ps", "-aq", "--filter", "name=dev-peer"]).stdout.split(separator: "\n").map(String.init)
            for id in ids {
                let logs = node.run(["docker", "logs", id]).stdout + node.run(["docker", "logs", id]).stderr
                if logs.contains("lookup peer0.org") || logs.contains("lookup peer1.org") { lookups.append("\(node.name): \(id)") }
            }
        }
        XCTAssertFalse(lookups.isEmpty, "no chaincode container logged a failed lookup of its peer:\n\(failed.stdout.suffix(3000))")

        // 3. The fix, then the chaincode answers.
        coordinator(["dns", "apply", "--inventory", inventory])
        coordinator(deploy)
        coordinator(["chaincode", "invoke", "-c", Self.config, "--name", "simple", "--args", #"{"Args":["invoke","a","b","10"]}"#])
        let query = coordinator(["chaincode", "query", "-c", Self.config, "--name", "simple", "--args", #"{"Args":["query","a"]}"#])
        XCTAssertEqual(query.stdout.split(separator: "\n").last.map(String.init), "90", query.stdout)
        // The third peer (peer1.org1) launches its own chaincode container: then every node runs one.
        let other = coordinator([
            "chaincode", "query", "-c", Self.config, "--name", "simple", "--args", #"{"Args":["query","a"]}"#,
            "--org", "Org1", "--peer", "peer1",
        ])
        XCTAssertEqual(other.stdout.split(separator: "\n").last.map(String.init), "90", other.stdout)

        // 4. The agents see the chaincode containers, and kube-dns first in what each one resolves with.
        let list = coordinator(["chaincode", "list", "--inventory", inventory, "--json"])
        let nodes = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], list.stdout)
        let containers = nodes.flatMap { ($0["containers"] as? [[String: Any]]) ?? [] }
        let running = containers.filter { ($0["state"] as? String) == "running" }
        XCTAssertEqual(
            Set(
                nodes.filter { (($0["containers"] as? [[String: Any]]) ?? []).contains { ($0["state"] as? String) == "running" } }
                    .compactMap { $0["node"] as? String }), Set(lab.nodes.map(\.name)),
            "every node runs the chaincode: \(list.stdout)")
        for c in running {
            XCTAssertEqual((c["nameservers"] as? [String])?.first, lab.kubeDNS, "container \(c["name"] ?? "?") does not see kube-dns first")
        }

        // 5. The NetworkPolicies, enforced: a pod of another tenant is refused at the peer, one of this tenant is not —
        //    and the chaincode (from its node's address) got through to 7052 above.
        let kube = try KubeClient(config: KubeConfig.load(path: Self.root + "/kubeconfig"))
        func probeJob(_ namespace: String, tenant: String) throws -> String {
            _ = try kube.apply(
                try KubeObject([
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": ["name": .string(namespace), "labels": ["bok.io/tenant": .string(tenant)]],
                ]))
            let script = "if busybox nc -w 3 peer0.org1-f-1.svc.cluster.local 7051 </dev/null; then echo REACHED; else echo REFUSED; fi"
            _ = try kube.apply(
                try KubeObject([
                    "apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "probe", "namespace": .string(namespace)],
                    "spec": [
                        "backoffLimit": 0,
                        "template": [
                            "spec": [
                                "restartPolicy": "Never",
                                "containers": [
                                    [
                                        "name": "probe", "image": "hyperledger/fabric-tools:2.5", "command": ["/bin/sh", "-c", .string(script)],
                                    ]
                                ],
                            ]
                        ],
                    ],
                ]))
            try kube.waitForJobComplete(namespace: namespace, name: "probe", timeout: 60)
            return try XCTUnwrap(try kube.jobLog(namespace: namespace, job: "probe")).log
        }
        XCTAssertTrue(try probeJob("intruder", tenant: "f-2").contains("REFUSED"), "another tenant's pod reached peer0.org1-f-1:7051")
        XCTAssertTrue(try probeJob("friend", tenant: "f-1").contains("REACHED"), "a pod of the tenant did not reach peer0.org1-f-1:7051")
    }
}
