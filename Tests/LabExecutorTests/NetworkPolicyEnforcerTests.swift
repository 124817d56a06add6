import KubeClient
import XCTest

@testable import LabExecutor

/// NetworkPolicies become exactly the iptables rules a CNI would enforce for a pod.
final class NetworkPolicyEnforcerTests: XCTestCase {
    private func policy(_ name: String, _ namespace: String, _ spec: JSON) throws -> KubeObject {
        try KubeObject([
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": spec,
        ])
    }

    private let peer = PolicyPod(namespace: "org1-f-1", labels: ["app.kubernetes.io/name": "fabric-peer"], addresses: ["198.18.0.103"])
    private let job = PolicyPod(namespace: "org2-f-1", labels: ["job-name": "x"], addresses: ["198.18.0.70"])
    private let intruder = PolicyPod(namespace: "evil", labels: ["app.kubernetes.io/name": "fabric-peer"], addresses: ["198.18.0.71"])
    private let namespaces: [String: [String: String]] = [
        "org1-f-1": ["bok.io/tenant": "f-1"], "org2-f-1": ["bok.io/tenant": "f-1"],
        "evil": ["bok.io/tenant": "f-2"],
    ]

    private func renderedPolicies() throws -> [KubeObject] {
        [
            try policy("default-deny-ingress", "org1-f-1", ["podSelector": .object([:]), "policyTypes": ["Ingress"]]),
            try policy(
                "allow-fabric-peer", "org1-f-1",
                [
                    "podSelector": ["matchLabels": ["app.kubernetes.io/name": "fabric-peer"]], "policyTypes": ["Ingress"],
                    "ingress": [
                        ["from": [["namespaceSelector": ["matchLabels": ["bok.io/tenant": "f-1"]]]], "ports": [["protocol": "TCP", "port": 7051]]],
                        ["from": [["ipBlock": ["cidr": "198.18.0.21/32"]]], "ports": [["protocol": "TCP", "port": 7052]]],
                    ],
                ]),
        ]
    }

    func testAPeerAdmitsItsTenantOnGRPCAndTheNodesOnTheChaincodePortOnly() throws {
        let rules = try XCTUnwrap(
            NetworkPolicyEnforcer.rules(
                for: peer, policies: try renderedPolicies(), namespaceLabels: namespaces,
                pods: [peer, job, intruder], host: "198.18.0.1"))
        XCTAssertTrue(rules.contains("-A BOK-INGRESS -s 198.18.0.70/32 -p tcp --dport 7051 -j ACCEPT"), rules)
        XCTAssertTrue(rules.contains("-A BOK-INGRESS -s 198.18.0.103/32 -p tcp --dport 7051 -j ACCEPT"), rules)
        XCTAssertTrue(rules.contains("-A BOK-INGRESS -s 198.18.0.21/32 -p tcp --dport 7052 -j ACCEPT"), rules)
        XCTAssertFalse(rules.contains("198.18.0.71"), "another tenant's pod is not admitted:\n\(rules)")
        XCTAssertTrue(
            rules.hasSuffix(
                "-A BOK-INGRESS -p tcp -j REJECT --reject-with tcp-reset\n"
                    + "-A BOK-INGRESS -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n"), rules)
    }

    func testAPodNoPolicySelectsAdmitsEverything() throws {
        XCTAssertNil(
            NetworkPolicyEnforcer.rules(
                for: intruder, policies: try renderedPolicies(), namespaceLabels: namespaces,
                pods: [peer, job, intruder], host: "198.18.0.1"))
    }

    func testDefaultDenyAloneAdmitsOnlyTheLabHostAndReplies() throws {
        let cli = PolicyPod(namespace: "org1-f-1", labels: ["app.kubernetes.io/name": "fabric-cli"], addresses: ["198.18.0.60"])
        let rules = try XCTUnwrap(
            NetworkPolicyEnforcer.rules(
                for: cli, policies: try renderedPolicies(), namespaceLabels: namespaces,
                pods: [peer, cli], host: "198.18.0.1"))
        XCTAssertEqual(rules.components(separatedBy: "-j ACCEPT").count - 1, 3, rules)
    }

    func testSelectorsWithExpressions() {
        let selector: JSON = [
            "matchExpressions": [
                ["key": "tier", "operator": "In", "values": ["a", "b"]],
                ["key": "legacy", "operator": "DoesNotExist"],
            ]
        ]
        XCTAssertTrue(NetworkPolicyEnforcer.matches(selector, ["tier": "a"]))
        XCTAssertFalse(NetworkPolicyEnforcer.matches(selector, ["tier": "c"]))
        XCTAssertFalse(NetworkPolicyEnforcer.matches(selector, ["tier": "a", "legacy": "1"]))
        XCTAssertTrue(NetworkPolicyEnforcer.matches(.object([:]), ["anything": "x"]))
    }
}
