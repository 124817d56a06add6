import FabricTopology

/// The `configtx.yaml` from which the channel job's `configtxgen` builds the default channel's genesis block:
/// one profile with the Raft ordering service and every peer org (anchor peer: its first peer), no consortium and no
/// system channel (channel participation API, Fabric 2.3+).
public enum ConfigTx {
    /// The profile name passed to `configtxgen -profile`.
    public static let profile = "BoKChannel"

    /// The document, with MSP directories and consenter certificates under `cryptoRoot` (cryptogen's layout).
    public static func document(for topology: FabricTopology, cryptoRoot: String) -> YAMLValue {
        let ordererOrgs = topology.ordererOrgs.map { organization($0, cryptoRoot: cryptoRoot) }
        let peerOrgs = topology.peerOrgs.map { organization($0, cryptoRoot: cryptoRoot) }
        let consenters: [YAMLValue] = topology.ordererOrgs.flatMap { org in
            org.nodes.map { node -> YAMLValue in
                let identity = CryptoLayout.identity(of: node, in: org)
                let certificate = "\(cryptoRoot)/\(identity.directory)/\(identity.tlsCertificate)"
                return [
                    "Host": .string(node.serviceHost), "Port": .int(FabricPorts.orderer),
                    "ClientTLSCert": .string(certificate), "ServerTLSCert": .string(certificate),
                ]
            }
        }
        let standard: [(String, YAMLValue)] = [
            ("Readers", implicitMeta("ANY Readers")), ("Writers", implicitMeta("ANY Writers")),
            ("Admins", implicitMeta("MAJORITY Admins")),
        ]
        let orderer: YAMLValue = [
            "OrdererType": "etcdraft",
            "EtcdRaft": [
                "Consenters": .list(consenters),
                "Options": [
                    "TickInterval": "500ms", "ElectionTick": 10, "HeartbeatTick": 1, "MaxInflightBlocks": 5,
                    "SnapshotIntervalSize": "16 MB",
                ],
            ],
            "BatchTimeout": "2s",
            "BatchSize": ["MaxMessageCount": 10, "AbsoluteMaxBytes": "99 MB", "PreferredMaxBytes": "512 KB"],
            "Organizations": .list(ordererOrgs),
            "Policies": .mapping((standard + [("BlockValidation", implicitMeta("ANY Writers"))]).map { YAMLPair(key: $0.0, value: $0.1) }),
            "Capabilities": ["V2_0": true],
        ]
        let application: YAMLValue = [
            "Organizations": .list(peerOrgs),
            "Policies": .mapping(
                (standard + [
                    ("LifecycleEndorsement", implicitMeta("MAJORITY Endorsement")),
                    ("Endorsement", implicitMeta("MAJORITY Endorsement")),
                ])
                .map { YAMLPair(key: $0.0, value: $0.1) }),
            "Capabilities": .mapping([YAMLPair(key: topology.fabric.applicationCapability, value: true)]),
        ]
        let channel: YAMLValue = [
            "Policies": .mapping(standard.map { YAMLPair(key: $0.0, value: $0.1) }),
            "Capabilities": ["V2_0": true],
            "Orderer": orderer,
            "Application": application,
        ]
        return ["Profiles": .mapping([YAMLPair(key: profile, value: channel)])]
    }

    /// The file's text.
    public static func yaml(for topology: FabricTopology, cryptoRoot: String) -> String {
        "# Rendered by BoK from the topology; used by the channel job's configtxgen.\n"
            + YAMLEmitter.emit(document(for: topology, cryptoRoot: cryptoRoot))
    }

    static func organization(_ org: Organization, cryptoRoot: String) -> YAMLValue {
        let id = org.mspID
        var pairs: [(String, YAMLValue?)] = [
            ("Name", .string(id)),
            ("ID", .string(id)),
            ("MSPDir", .string("\(cryptoRoot)/\(CryptoLayout.mspDirectory(org))")),
        ]
        switch org.kind {
        case .orderer:
            pairs.append(
                (
                    "Policies",
                    [
                        "Readers": signature("OR('\(id).member')"),
                        "Writers": signature("OR('\(id).member')"),
                        "Admins": signature("OR('\(id).admin')"),
                    ]
                ))
            pairs.append(("OrdererEndpoints", .list(org.nodes.map { .string($0.endpoint) })))
        case .peer:
            pairs.append(
                (
                    "Policies",
                    [
                        "Readers": signature("OR('\(id).admin', '\(id).peer', '\(id).client')"),
                        "Writers": signature("OR('\(id).admin', '\(id).client')"),
                        "Admins": signature("OR('\(id).admin')"),
                        "Endorsement": signature("OR('\(id).peer')"),
                    ]
                ))
            // Anchor peers in the genesis block: no separate anchor peer update is needed.
            pairs.append(("AnchorPeers", [["Host": .string(org.nodes[0].serviceHost), "Port": .int(FabricPorts.peer)]]))
        }
        return .compact(pairs)
    }

    private static func signature(_ rule: String) -> YAMLValue { ["Type": "Signature", "Rule": .string(rule)] }
    private static func implicitMeta(_ rule: String) -> YAMLValue { ["Type": "ImplicitMeta", "Rule": .string(rule)] }
}
