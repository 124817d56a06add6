import BoKSystem
import DockerEngine
import Foundation
import KubeClient

/// What NetworkPolicies need to know of a running pod.
public struct PolicyPod: Sendable, Equatable {
    public var namespace: String
    public var labels: [String: String]
    public var addresses: [String]

    public init(namespace: String, labels: [String: String], addresses: [String]) {
        self.namespace = namespace
        self.labels = labels
        self.addresses = addresses
    }
}

/// NetworkPolicies (ingress) as a CNI enforces them, turned into iptables rules in each pod's own network namespace:
/// a pod selected by any policy of its namespace accepts only what one of those policies allows — sources from
/// `namespaceSelector`/`podSelector` (today's pods' addresses) or `ipBlock` (with `except`), on the listed ports —
/// and refuses the rest (TCP reset, so a refused client knows at once). Replies to its own connections, loopback, and
/// the lab host (the executor's readiness probes, as the kubelet's are exempt) are always allowed.
public enum NetworkPolicyEnforcer {
    /// The `iptables-restore` input for one pod, or nil when no policy selects it (everything allowed).
    public static func rules(
        for pod: PolicyPod, policies: [KubeObject], namespaceLabels: [String: [String: String]],
        pods: [PolicyPod], host: String
    ) -> String? {
        let selecting = policies.filter { policy in
            policy.namespace == pod.namespace && isIngress(policy)
                && matches(policy["spec", "podSelector"] ?? .object([:]), pod.labels)
        }
        guard !selecting.isEmpty else { return nil }
        var lines = [
            "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":BOK-INGRESS - [0:0]",
            "-A INPUT -j BOK-INGRESS", "-A BOK-INGRESS -i lo -j ACCEPT",
            "-A BOK-INGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", "-A BOK-INGRESS -s \(host)/32 -j ACCEPT",
        ]
        for policy in selecting.sorted(by: { $0.name < $1.name }) {
            for rule in policy["spec", "ingress"]?.arrayValue ?? [] {
                let ports = (rule["ports"]?.arrayValue ?? []).compactMap { p -> (String, Int?)? in
                    let proto = (p["protocol"]?.stringValue ?? "TCP").lowercased()
                    return (proto, p["port"]?.intValue)
                }
                var sources: [(String, [String])] = []  // (cidr, except)
                if let from = rule["from"]?.arrayValue {
                    for peer in from {
                        if let block = peer["ipBlock"], let cidr = block["cidr"]?.stringValue {
                            sources.append((cidr, block["except"]?.arrayValue?.compactMap(\.stringValue) ?? []))
                            continue
                        }
                        let nsSelector = peer["namespaceSelector"]
                        let podSelector = peer["podSelector"]
                        for other in pods {
                            let nsOK = nsSelector.map { matches($0, namespaceLabels[other.namespace] ?? [:]) } ?? (other.namespace == pod.namespace)
                            let podOK = podSelector.map { matches($0, other.labels) } ?? true
                            if nsOK && podOK { sources += other.addresses.map { ("\($0)/32", []) } }
                        }
                    }
                    if sources.isEmpty { continue }  // peers listed, none running: this rule admits nobody now
                } else {
                    sources = [("0.0.0.0/0", [])]
                }
                for (cidr, except) in sources {
                    let portSpecs: [String] =
                        ports.isEmpty
                        ? [""]
                        : ports.map { proto, port in
                            port.map { " -p \(proto) --dport \($0)" } ?? " -p \(proto)"
                        }
                    for spec in portSpecs {
                        for excluded in except { lines.append("-A BOK-INGRESS -s \(excluded)\(spec) -j REJECT --reject-with icmp-port-unreachable") }
                        lines.append("-A BOK-INGRESS -s \(cidr)\(spec) -j ACCEPT")
                    }
                }
            }
        }
        lines += [
            "-A BOK-INGRESS -p tcp -j REJECT --reject-with tcp-reset", "-A BOK-INGRESS -j REJECT --reject-with icmp-port-unreachable",
            "COMMIT",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    static func isIngress(_ policy: KubeObject) -> Bool {
        guard let types = policy["spec", "policyTypes"]?.arrayValue?.compactMap(\.stringValue) else { return true }
        return types.contains("Ingress")
    }

    /// A label selector (`matchLabels`, `matchExpressions`) against labels; `{}` selects everything.
    public static func matches(_ selector: JSON, _ labels: [String: String]) -> Bool {
        for (key, value) in selector["matchLabels"]?.objectValue ?? [:] where labels[key] != value.stringValue { return false }
        for expression in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? ""
            let values = expression["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
            switch expression["operator"]?.stringValue {
            case "In": if !(labels[key].map(values.contains) ?? false) { return false }
            case "NotIn": if labels[key].map(values.contains) ?? false { return false }
            case "Exists": if labels[key] == nil { return false }
            case "DoesNotExist": if labels[key] != nil { return false }
            default: return false
            }
        }
        return true
    }

    /// Loads `rules` (nil: none) into the pod's network namespace, through a file in its sandbox.
    static func apply(_ rules: String?, to sandbox: PodSandbox) throws(ExecutorError) {
        let path = sandbox.directory + "/iptables.rules"
        let text = rules ?? "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw ExecutorError("writing the NetworkPolicy rules of pod \(sandbox.namespace)/\(sandbox.name) to \(path): \(error)")
        }
        let r = CommandRunner.run(["nsenter", "--net=/run/netns/\(sandbox.netns)", "--", "iptables-restore", path], timeout: 20)
        guard r.succeeded else {
            throw ExecutorError(
                "enforcing the NetworkPolicies of pod \(sandbox.namespace)/\(sandbox.name) (iptables-restore in \(sandbox.netns)): "
                    + r.tail(3).joined(separator: " | "))
        }
    }
}
