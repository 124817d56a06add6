import ArgumentParser
import BoKTesting
import Foundation
import KubeClient

/// `bok-bench kube-apply`: server-side apply of a Fabric-sized object set to the Kubernetes
/// stand-in, then again unchanged; prints wall time, requests per object and writes.
struct KubeApplyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-apply",
        abstract: "Apply a 100-org-like object set to the Kubernetes stand-in twice; print time and requests per object.")

    @Option(help: "Peer organisations in the generated set.")
    var orgs = 100

    @Option(help: "Peers per organisation.")
    var peers = 2

    @Option(help: "Apply this many synthetic ConfigMaps instead of the org-like set.")
    var objects: Int?

    @Option(help: "Objects applied at once within a stage (1 = one after the other).")
    var concurrency = 1

    @Flag(help: "Also wait for every Deployment to become available (stand-in readiness delay 0.1 s).")
    var wait = false

    func validate() throws {
        guard orgs > 0, peers > 0, concurrency > 0 else { throw ValidationError("--orgs, --peers and --concurrency must be positive") }
        if let objects, objects <= 0 { throw ValidationError("--objects must be positive") }
    }

    func run() throws {
        var options = KubeStandIn.Options()
        // Without --wait the simulated controllers stay quiet, so every write counted is an apply's.
        options.readinessDelay = wait ? 0.1 : 86_400
        let standIn = try KubeStandIn(options: options)
        defer { standIn.stop() }
        let client = KubeClient(config: try KubeConfig.load(path: standIn.kubeconfigPath))
        let set = objects.map(Self.syntheticSet) ?? Self.fabricLikeSet(orgs: orgs, peers: peers)
        let description = objects.map { "\($0) ConfigMaps" } ?? "\(orgs) orgs × \(peers) peers + 3 orderers"
        print("kube-apply: \(set.count) objects (\(description)), stand-in \(standIn.url), concurrency \(concurrency)")
        if wait { print("(with --wait, writes include the status updates of the stand-in's simulated controllers)") }

        for round in ["first apply", "re-apply"] {
            standIn.resetRequestCounts()
            let revision = standIn.currentResourceVersion
            let start = Date()
            try client.applyAll(set, concurrency: concurrency)
            let seconds = Date().timeIntervalSince(start)
            let requests = standIn.totalRequests
            let writes = standIn.currentResourceVersion - revision
            let label = round.padding(toLength: 12, withPad: " ", startingAt: 0)
            print(
                label
                    + String(
                        format: " %6.3f s  %7.0f objects/s  %6d requests  %.2f requests/object  %6d writes",
                        seconds, Double(set.count) / seconds, requests, Double(requests) / Double(set.count), writes))
        }
        if wait {
            standIn.resetRequestCounts()
            let start = Date()
            var deployments = 0
            for (namespace, names) in Dictionary(grouping: set.filter { $0.kind == "Deployment" }, by: { $0.namespace ?? "" }) {
                deployments += names.count
                try client.waitForDeploymentsAvailable(namespace: namespace, names: names.map(\.name), timeout: 120, pollInterval: 0.1)
            }
            print(
                String(
                    format: "wait         %6.3f s  for %d Deployments, %d requests", Date().timeIntervalSince(start), deployments,
                    standIn.totalRequests))
        }
    }

    static func syntheticSet(_ count: Int) -> [KubeObject] {
        var set = [KubeObject(apiVersion: "v1", kind: "Namespace", name: "bench")]
        for i in 0..<count {
            var map = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "cm-\(i)", namespace: "bench", labels: ["bench": "kube-apply"])
            map["data"] = ["index": .string(String(i)), "payload": .string(String(repeating: "x", count: 512))]
            set.append(map)
        }
        return set
    }

    /// Roughly what the Fabric renderer emits per organisation: a namespace, a CA (Service,
    /// Deployment, TLS Secret), per peer a Service, a Deployment, a TLS Secret and a ledger
    /// claim, a core.yaml ConfigMap and a CLI Deployment; plus an orderer org of three.
    static func fabricLikeSet(orgs: Int, peers: Int) -> [KubeObject] {
        var set: [KubeObject] = []
        func labels(_ org: String, _ component: String) -> [String: String] {
            [
                "app.kubernetes.io/part-of": "fabric", "app.kubernetes.io/component": component,
                "app.kubernetes.io/managed-by": "bok", "bok.tenant": "f-1", "bok.org": org,
            ]
        }
        func service(_ name: String, _ ns: String, _ org: String, _ ports: [(String, Int64)]) -> KubeObject {
            var s = KubeObject(apiVersion: "v1", kind: "Service", name: name, namespace: ns, labels: labels(org, name))
            s["spec"] = [
                "selector": ["app": .string(name)],
                "ports": .array(ports.map { ["name": .string($0.0), "port": .int($0.1)] }),
            ]
            return s
        }
        func deployment(_ name: String, _ ns: String, _ org: String, image: String, env: [String: String]) -> KubeObject {
            var d = KubeObject(apiVersion: "apps/v1", kind: "Deployment", name: name, namespace: ns, labels: labels(org, name))
            let envList: JSON = .array(env.sorted { $0.key < $1.key }.map { ["name": .string($0.key), "value": .string($0.value)] })
            d["spec"] = [
                "replicas": 1,
                "selector": ["matchLabels": ["app": .string(name)]],
                "template": [
                    "metadata": ["labels": ["app": .string(name)]],
                    "spec": [
                        "containers": [
                            [
                                "name": .string(name), "image": .string(image), "env": envList,
                                "volumeMounts": [["name": "tls", "mountPath": "/etc/hyperledger/fabric/tls"]],
                            ]
                        ],
                        "volumes": [["name": "tls", "secret": ["secretName": .string("\(name)-tls")]]],
                    ],
                ],
            ]
            return d
        }
        func secret(_ name: String, _ ns: String, _ org: String) -> KubeObject {
            var s = KubeObject(apiVersion: "v1", kind: "Secret", name: name, namespace: ns, labels: labels(org, name))
            let pem = Data(String(repeating: "MIIB", count: 150).utf8).base64EncodedString()
            s["data"] = ["ca.crt": .string(pem), "server.crt": .string(pem), "server.key": .string(pem)]
            return s
        }
        for o in 1...orgs {
            let org = "org\(o)"
            let ns = "\(org)-f-1"
            set.append(KubeObject(apiVersion: "v1", kind: "Namespace", name: ns, labels: labels(org, "namespace")))
            set.append(service("ca", ns, org, [("https", 7054)]))
            set.append(deployment("ca", ns, org, image: "hyperledger/fabric-ca:1.5", env: ["FABRIC_CA_SERVER_CA_NAME": "ca-\(org)"]))
            set.append(secret("ca-tls", ns, org))
            var core = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "peer-core", namespace: ns, labels: labels(org, "config"))
            core["data"] = ["core.yaml": .string(String(repeating: "peer:\n  id: x\n", count: 40))]
            set.append(core)
            for p in 0..<peers {
                let peer = "peer\(p)"
                set.append(service(peer, ns, org, [("grpc", 7051), ("chaincode", 7052), ("operations", 9443)]))
                set.append(
                    deployment(
                        peer, ns, org, image: "hyperledger/fabric-peer:2.5",
                        env: [
                            "CORE_PEER_ID": "\(peer).\(ns)", "CORE_PEER_ADDRESS": "\(peer).\(ns):7051",
                            "CORE_PEER_CHAINCODEADDRESS": "\(peer).\(ns):7052", "CORE_PEER_CHAINCODELISTENADDRESS": "0.0.0.0:7052",
                            "CORE_VM_ENDPOINT": "unix:///host/var/run/docker.sock", "CORE_PEER_LOCALMSPID": "\(org.capitalized)MSP",
                        ]))
                set.append(secret("\(peer)-tls", ns, org))
                var claim = KubeObject(
                    apiVersion: "v1", kind: "PersistentVolumeClaim", name: "\(peer)-ledger", namespace: ns,
                    labels: labels(org, peer))
                claim["spec"] = ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "10Gi"]]]
                set.append(claim)
            }
            set.append(deployment("cli", ns, org, image: "hyperledger/fabric-tools:2.5", env: ["CORE_PEER_ADDRESS": "peer0.\(ns):7051"]))
        }
        let ordererNS = "ordererorg-f-1"
        set.append(KubeObject(apiVersion: "v1", kind: "Namespace", name: ordererNS, labels: labels("ordererorg", "namespace")))
        for i in 0..<3 {
            set.append(service("orderer\(i)", ordererNS, "ordererorg", [("grpc", 7050), ("admin", 7053)]))
            set.append(
                deployment(
                    "orderer\(i)", ordererNS, "ordererorg", image: "hyperledger/fabric-orderer:2.5",
                    env: ["ORDERER_GENERAL_LISTENADDRESS": "0.0.0.0"]))
            set.append(secret("orderer\(i)-tls", ordererNS, "ordererorg"))
        }
        return set
    }
}
