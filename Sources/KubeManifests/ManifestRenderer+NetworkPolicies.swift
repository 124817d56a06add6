import FabricTopology

extension ManifestRenderer {
    /// NetworkPolicies of an org namespace: deny all ingress, then allow exactly what Fabric needs.
    ///
    /// * peers: gRPC 7051 and operations 9443 from the tenant's namespaces (endorsement, gossip, channel and chaincode
    ///   Jobs, cli); chaincode 7052 from the worker nodes' addresses — chaincode containers run on the nodes' Docker,
    ///   outside any pod, and reach the peer from their node's address (without known node addresses, from anywhere);
    /// * orderers: 7050 and the admin port 7053 and 9443 from the tenant's namespaces; 7050 from anywhere when the
    ///   orderers have NodePorts;
    /// * CAs: 7054 and 9443 from the tenant's namespaces; 7054 from anywhere when the CAs have NodePorts;
    /// * the explorer's UI from anywhere (its database is a sidecar on localhost);
    /// * cli pods and Jobs: nothing (they only call out).
    /// Egress is not restricted.
    func networkPolicies(_ org: Organization) -> [KubeObject] {
        guard topology.networkPolicies else { return [] }
        var policies = [policy("default-deny-ingress", org: org, selecting: nil, rules: [])]
        let tenant: YAMLValue = ["namespaceSelector": ["matchLabels": [BoKLabels.tenant: .string(topology.tenant)]]]
        let anywhere: YAMLValue? = nil
        if org.kind == .peer {
            var rules = [rule(from: [tenant], ports: [FabricPorts.peer, FabricPorts.operations])]
            rules.append(
                rule(
                    from: nodeCIDRs.isEmpty ? anywhere : .list(nodeCIDRs.map { ["ipBlock": ["cidr": .string($0)]] }),
                    ports: [FabricPorts.chaincode]))
            policies.append(policy("allow-fabric-peer", org: org, selecting: "fabric-peer", rules: rules))
        } else {
            var rules = [rule(from: [tenant], ports: [FabricPorts.orderer, FabricPorts.ordererAdmin, FabricPorts.operations])]
            if topology.nodePorts.ordererBase != nil { rules.append(rule(from: anywhere, ports: [FabricPorts.orderer])) }
            policies.append(policy("allow-fabric-orderer", org: org, selecting: "fabric-orderer", rules: rules))
        }
        var caRules = [rule(from: [tenant], ports: [FabricPorts.ca, FabricPorts.operations])]
        if topology.nodePorts.caBase != nil { caRules.append(rule(from: anywhere, ports: [FabricPorts.ca])) }
        policies.append(policy("allow-fabric-ca", org: org, selecting: "fabric-ca", rules: caRules))
        if topology.explorerOrg == org {
            policies.append(
                policy(
                    "allow-fabric-explorer", org: org, selecting: "fabric-explorer",
                    rules: [rule(from: anywhere, ports: [FabricPorts.explorer])]))
        }
        return policies
    }

    private func rule(from peers: YAMLValue?, ports: [Int]) -> YAMLValue {
        .compact([("from", peers), ("ports", .list(ports.map { ["protocol": "TCP", "port": .int($0)] }))])
    }

    private func policy(_ name: String, org: Organization, selecting app: String?, rules: [YAMLValue]) -> KubeObject {
        let selector: YAMLValue = app.map { ["matchLabels": [BoKLabels.name: .string($0)]] } ?? .mapping([])
        return object(
            "networking.k8s.io/v1", "NetworkPolicy", name: name, namespace: org.namespace,
            labels: labels(name: "fabric-network-policy", instance: name, component: "network-policy", org: org),
            [
                (
                    "spec",
                    .compact([
                        ("podSelector", selector),
                        ("policyTypes", ["Ingress"]),
                        ("ingress", rules.isEmpty ? nil : .list(rules)),
                    ])
                )
            ])
    }
}
