import FabricTopology

extension ManifestRenderer {
    func namespace(_ org: Organization) -> KubeObject {
        object(
            "v1", "Namespace", name: org.namespace, namespace: nil,
            labels: labels(name: "fabric-namespace", instance: org.namespace, component: "namespace", org: org), [])
    }

    /// What every org namespace holds besides its nodes: credentials, the admin identity, public certificates,
    /// storage claim (NFS), the CA and the CLI pod.
    func organizationObjects(_ org: Organization) throws -> [KubeObject] {
        var objects: [KubeObject] = []
        if let share = shareClaim(org) { objects.append(share) }
        if org.kind == .peer && topology.stateDatabase == .couchDB {
            objects.append(
                secret(
                    Names.couchDBCredentials, org: org, instance: Names.couchDBCredentials, component: "credentials",
                    data: ["username": "admin", "password": password(org.namespace, "couchdb")]))
        }
        objects.append(
            secret(
                Names.caAdminCredentials, org: org, instance: Names.caAdminCredentials, component: "credentials",
                data: ["username": "admin", "password": password(org.namespace, "ca-admin")]))
        if nfs == nil {
            objects.append(
                secret(
                    Names.caKeyPair, org: org, instance: Names.caKeyPair, component: "crypto",
                    data: [
                        "ca-cert.pem": try cryptoFile(CryptoLayout.caCertificate(org)),
                        "ca-key.pem": try cryptoFile(CryptoLayout.caPrivateKey(org)),
                    ]))
            objects.append(
                try identitySecret(
                    CryptoLayout.admin(org), name: Names.adminIdentity, org: org,
                    instance: Names.adminIdentity))
        }
        objects.append(try cryptoPublicConfigMap(org))
        objects.append(contentsOf: certificateAuthority(org))
        objects.append(cli(org))
        return objects
    }

    // MARK: - Peers

    func peerObjects(_ node: FabricNode, in org: Organization) throws -> [KubeObject] {
        let identity = CryptoLayout.identity(of: node, in: org)
        var objects: [KubeObject] = []
        if nfs == nil {
            objects.append(try identitySecret(identity, name: Names.identity(node.hostname), org: org, instance: node.hostname))
        }
        if let ledger = claim("\(node.hostname)-ledger", org: org, instance: node.hostname, size: topology.storage.size) {
            objects.append(ledger)
        }
        if topology.stateDatabase == .couchDB,
            let couch = claim("\(node.hostname)-couchdb", org: org, instance: node.hostname, size: topology.storage.size)
        {
            objects.append(couch)
        }
        objects.append(peerDeployment(node, identity: identity, org: org))
        objects.append(
            service(
                node.hostname, org: org, component: "peer", selectorName: "fabric-peer",
                selectorInstance: node.hostname,
                ports: [
                    servicePort("grpc", FabricPorts.peer), servicePort("chaincode", FabricPorts.chaincode),
                    servicePort("operations", FabricPorts.operations),
                ],
                nodePort: false))
        return objects
    }

    /// Gossip bootstrap: peer0 asks peer1 (or itself when alone), every other peer asks peer0.
    func gossipBootstrap(_ node: FabricNode, in org: Organization) -> String {
        if node == org.nodes[0] { return (org.nodes.count > 1 ? org.nodes[1] : node).endpoint }
        return org.nodes[0].endpoint
    }

    /// The `CORE_*` settings of a peer for the chosen Fabric release.
    func peerEnvironment(_ node: FabricNode, org: Organization) -> [YAMLValue] {
        let identity = Paths.identity
        var variables: [YAMLValue] = [
            env("FABRIC_LOGGING_SPEC", "INFO"),
            env("CORE_PEER_ID", node.commonName),
            env("CORE_PEER_ADDRESS", node.endpoint),
            env("CORE_PEER_LISTENADDRESS", "0.0.0.0:\(FabricPorts.peer)"),
            // Chaincode containers dial back here through the Docker DNS the agent configures.
            env("CORE_PEER_CHAINCODEADDRESS", "\(node.serviceHost):\(FabricPorts.chaincode)"),
            env("CORE_PEER_CHAINCODELISTENADDRESS", "0.0.0.0:\(FabricPorts.chaincode)"),
            env("CORE_PEER_GOSSIP_BOOTSTRAP", gossipBootstrap(node, in: org)),
            env("CORE_PEER_GOSSIP_EXTERNALENDPOINT", node.endpoint),
            env("CORE_PEER_LOCALMSPID", org.mspID),
            env("CORE_PEER_MSPCONFIGPATH", "\(identity)/msp"),
            env("CORE_PEER_TLS_ENABLED", "true"),
            env("CORE_PEER_TLS_CERT_FILE", "\(identity)/tls/server.crt"),
            env("CORE_PEER_TLS_KEY_FILE", "\(identity)/tls/server.key"),
            env("CORE_PEER_TLS_ROOTCERT_FILE", "\(identity)/tls/ca.crt"),
            env("CORE_PEER_FILESYSTEMPATH", Paths.ledger),
            env("CORE_PEER_PROFILE_ENABLED", "false"),
            env("CORE_OPERATIONS_LISTENADDRESS", "0.0.0.0:\(FabricPorts.operations)"),
            env("CORE_METRICS_PROVIDER", "prometheus"),
            env("CORE_VM_ENDPOINT", "unix://\(Paths.dockerSocketMount)/docker.sock"),
            env("CORE_VM_DOCKER_HOSTCONFIG_NETWORKMODE", topology.platform.chaincodeNetworkMode),
            env("CORE_CHAINCODE_EXECUTETIMEOUT", "300s"),
        ]
        switch topology.stateDatabase {
        case .couchDB:
            variables += [
                env("CORE_LEDGER_STATE_STATEDATABASE", "CouchDB"),
                env("CORE_LEDGER_STATE_COUCHDBCONFIG_COUCHDBADDRESS", "localhost:\(FabricPorts.couchDB)"),
                secretEnv("CORE_LEDGER_STATE_COUCHDBCONFIG_USERNAME", secret: Names.couchDBCredentials, key: "username"),
                secretEnv("CORE_LEDGER_STATE_COUCHDBCONFIG_PASSWORD", secret: Names.couchDBCredentials, key: "password"),
            ]
        case .levelDB:
            variables.append(env("CORE_LEDGER_STATE_STATEDATABASE", "goleveldb"))
        }
        return variables
    }

    /// What every Fabric node's pod mounts: its MSP/TLS identity and its ledger volume.
    func mountIdentityAndLedger(
        _ node: FabricNode, identity: CryptoLayout.Identity, org: Organization,
        volumes: inout PodVolumes
    ) -> (identity: YAMLValue, ledger: YAMLValue) {
        let identityMount = mountIdentity(
            identity, secretName: Names.identity(node.hostname), volumeName: "identity",
            at: Paths.identity, volumes: &volumes)
        let ledgerMount = mountData(
            volumeName: "ledger", claim: "\(node.hostname)-ledger",
            nfsSubPath: "ledgers/\(org.namespace)/\(node.hostname)", at: Paths.ledger, volumes: &volumes)
        return (identityMount, ledgerMount)
    }

    func peerDeployment(_ node: FabricNode, identity: CryptoLayout.Identity, org: Organization) -> KubeObject {
        var volumes = PodVolumes()
        let (identityMount, ledgerMount) = mountIdentityAndLedger(node, identity: identity, org: org, volumes: &volumes)
        volumes.add([
            "name": "docker-socket",
            "hostPath": ["path": .string(topology.platform.dockerSocketDirectory), "type": "Directory"],
        ])
        var containers: [YAMLValue] = [
            [
                "name": "peer",
                "image": .string(topology.fabric.images.peer),
                "command": ["peer", "node", "start"],
                "env": .list(peerEnvironment(node, org: org)),
                "ports": [
                    port("grpc", FabricPorts.peer), port("chaincode", FabricPorts.chaincode),
                    port("operations", FabricPorts.operations),
                ],
                "volumeMounts": [
                    identityMount, ledgerMount,
                    ["name": "docker-socket", "mountPath": .string(Paths.dockerSocketMount)],
                ],
                "readinessProbe": ["httpGet": ["path": "/healthz", "port": "operations"], "periodSeconds": 10],
                "livenessProbe": ["tcpSocket": ["port": "grpc"], "initialDelaySeconds": 30, "periodSeconds": 20],
            ]
        ]
        if topology.stateDatabase == .couchDB {
            let couchMount = mountData(
                volumeName: "couchdb", claim: "\(node.hostname)-couchdb",
                nfsSubPath: "couchdb/\(org.namespace)/\(node.hostname)", at: "/opt/couchdb/data",
                volumes: &volumes)
            containers.append([
                "name": "couchdb",
                "image": .string(topology.fabric.images.couchDB),
                "env": [
                    secretEnv("COUCHDB_USER", secret: Names.couchDBCredentials, key: "username"),
                    secretEnv("COUCHDB_PASSWORD", secret: Names.couchDBCredentials, key: "password"),
                ],
                "ports": [port("couchdb", FabricPorts.couchDB)],
                "volumeMounts": [couchMount],
                "readinessProbe": ["httpGet": ["path": "/_up", "port": "couchdb"], "periodSeconds": 10],
            ])
        }
        let instance = node.hostname
        return deployment(
            "\(node.hostname)-\(org.namespace)", org: org, appName: "fabric-peer", instance: instance,
            component: "peer", podSpec: ["containers": .list(containers), "volumes": .list(volumes.volumes)])
    }

    // MARK: - Orderers

    func ordererObjects(_ node: FabricNode, in org: Organization) throws -> [KubeObject] {
        let identity = CryptoLayout.identity(of: node, in: org)
        var objects: [KubeObject] = []
        if nfs == nil {
            objects.append(try identitySecret(identity, name: Names.identity(node.hostname), org: org, instance: node.hostname))
        }
        if let ledger = claim("\(node.hostname)-ledger", org: org, instance: node.hostname, size: topology.storage.size) {
            objects.append(ledger)
        }
        objects.append(ordererDeployment(node, identity: identity, org: org))
        objects.append(
            service(
                node.hostname, org: org, component: "orderer", selectorName: "fabric-orderer",
                selectorInstance: node.hostname,
                ports: [
                    servicePort("grpc", FabricPorts.orderer), servicePort("admin", FabricPorts.ordererAdmin),
                    servicePort("operations", FabricPorts.operations),
                ],
                nodePort: false))
        if let nodePort = topology.ordererNodePort(for: node) {
            // Only the ordering endpoint leaves the cluster; the admin port stays internal.
            objects.append(
                service(
                    "\(node.hostname)-nodeport", org: org, component: "orderer", selectorName: "fabric-orderer",
                    selectorInstance: node.hostname,
                    ports: [servicePort("grpc", FabricPorts.orderer, nodePort: nodePort)], nodePort: true))
        }
        return objects
    }

    /// The `ORDERER_*` settings of a Raft orderer joined through the channel participation API.
    func ordererEnvironment(_ node: FabricNode, org: Organization) -> [YAMLValue] {
        let tls = "\(Paths.identity)/tls"
        var variables: [YAMLValue] = [
            env("FABRIC_LOGGING_SPEC", "INFO"),
            env("ORDERER_GENERAL_LISTENADDRESS", "0.0.0.0"),
            env("ORDERER_GENERAL_LISTENPORT", "\(FabricPorts.orderer)"),
            env("ORDERER_GENERAL_LOCALMSPID", org.mspID),
            env("ORDERER_GENERAL_LOCALMSPDIR", "\(Paths.identity)/msp"),
            env("ORDERER_GENERAL_TLS_ENABLED", "true"),
            env("ORDERER_GENERAL_TLS_PRIVATEKEY", "\(tls)/server.key"),
            env("ORDERER_GENERAL_TLS_CERTIFICATE", "\(tls)/server.crt"),
            env("ORDERER_GENERAL_TLS_ROOTCAS", "[\(tls)/ca.crt]"),
            env("ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE", "\(tls)/server.crt"),
            env("ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY", "\(tls)/server.key"),
            env("ORDERER_GENERAL_CLUSTER_ROOTCAS", "[\(tls)/ca.crt]"),
        ]
        if topology.fabric.hasSystemChannelSettings {
            // Fabric 2.3–2.5: start without a system channel; channels arrive through osnadmin.
            variables += [env("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"), env("ORDERER_CHANNELPARTICIPATION_ENABLED", "true")]
        }
        variables += [
            env("ORDERER_ADMIN_LISTENADDRESS", "0.0.0.0:\(FabricPorts.ordererAdmin)"),
            env("ORDERER_ADMIN_TLS_ENABLED", "true"),
            env("ORDERER_ADMIN_TLS_CERTIFICATE", "\(tls)/server.crt"),
            env("ORDERER_ADMIN_TLS_PRIVATEKEY", "\(tls)/server.key"),
            env("ORDERER_ADMIN_TLS_ROOTCAS", "[\(tls)/ca.crt]"),
            // Mutual TLS on the admin port: only clients of the org's TLS CA (its admin) may join channels.
            env("ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED", "true"),
            env("ORDERER_ADMIN_TLS_CLIENTROOTCAS", "[\(tls)/ca.crt]"),
            env("ORDERER_FILELEDGER_LOCATION", "\(Paths.ledger)/orderer"),
            env("ORDERER_OPERATIONS_LISTENADDRESS", "0.0.0.0:\(FabricPorts.operations)"),
            env("ORDERER_METRICS_PROVIDER", "prometheus"),
        ]
        return variables
    }

    func ordererDeployment(_ node: FabricNode, identity: CryptoLayout.Identity, org: Organization) -> KubeObject {
        var volumes = PodVolumes()
        let (identityMount, ledgerMount) = mountIdentityAndLedger(node, identity: identity, org: org, volumes: &volumes)
        let container: YAMLValue = [
            "name": "orderer",
            "image": .string(topology.fabric.images.orderer),
            "command": ["orderer"],
            "env": .list(ordererEnvironment(node, org: org)),
            "ports": [
                port("grpc", FabricPorts.orderer), port("admin", FabricPorts.ordererAdmin),
                port("operations", FabricPorts.operations),
            ],
            "volumeMounts": [identityMount, ledgerMount],
            "readinessProbe": ["httpGet": ["path": "/healthz", "port": "operations"], "periodSeconds": 10],
            "livenessProbe": ["tcpSocket": ["port": "grpc"], "initialDelaySeconds": 30, "periodSeconds": 20],
        ]
        return deployment(
            "\(node.hostname)-\(org.namespace)", org: org, appName: "fabric-orderer", instance: node.hostname,
            component: "orderer", podSpec: ["containers": [container], "volumes": .list(volumes.volumes)])
    }

    // MARK: - CA and CLI

    /// fabric-ca-server running the org's signing CA (the key cryptogen-style material was issued with).
    func certificateAuthority(_ org: Organization) -> [KubeObject] {
        var objects: [KubeObject] = []
        if let data = claim("ca-data", org: org, instance: "ca", size: "1Gi") { objects.append(data) }
        var volumes = PodVolumes()
        let keyPairMount: YAMLValue
        let certFile: String
        let keyFile: String
        if nfs != nil {
            volumes.add(shareVolume)
            let directory = "\(CryptoLayout.organizationDirectory(org))/ca"
            keyPairMount = [
                "name": "share", "mountPath": .string(Paths.caConfig), "subPath": .string("crypto-config/\(directory)"),
                "readOnly": true,
            ]
            certFile = "\(Paths.caConfig)/\(org.caName)-cert.pem"
            keyFile = "\(Paths.caConfig)/priv_sk"
        } else {
            volumes.add(["name": "ca-keypair", "secret": ["secretName": .string(Names.caKeyPair), "defaultMode": .int(0o440)]])
            keyPairMount = ["name": "ca-keypair", "mountPath": .string(Paths.caConfig), "readOnly": true]
            certFile = "\(Paths.caConfig)/ca-cert.pem"
            keyFile = "\(Paths.caConfig)/ca-key.pem"
        }
        let dataMount = mountData(
            volumeName: "data", claim: "ca-data", nfsSubPath: "ca/\(org.namespace)", at: Paths.caHome,
            volumes: &volumes)
        let hosts = ["ca", "ca.\(org.namespace)", "ca.\(org.namespace).svc", "ca.\(org.namespace).svc.cluster.local", "localhost"]
        let container: YAMLValue = [
            "name": "ca",
            "image": .string(topology.fabric.images.ca),
            "command": ["fabric-ca-server", "start", "-b", "$(CA_ADMIN_USER):$(CA_ADMIN_PASSWORD)"],
            "env": [
                secretEnv("CA_ADMIN_USER", secret: Names.caAdminCredentials, key: "username"),
                secretEnv("CA_ADMIN_PASSWORD", secret: Names.caAdminCredentials, key: "password"),
                env("FABRIC_CA_HOME", Paths.caHome),
                env("FABRIC_CA_SERVER_CA_NAME", "ca-\(org.shortName)"),
                env("FABRIC_CA_SERVER_CA_CERTFILE", certFile),
                env("FABRIC_CA_SERVER_CA_KEYFILE", keyFile),
                env("FABRIC_CA_SERVER_TLS_ENABLED", "true"),
                env("FABRIC_CA_SERVER_CSR_HOSTS", hosts.joined(separator: ",")),
                env("FABRIC_CA_SERVER_PORT", "\(FabricPorts.ca)"),
                env("FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS", "0.0.0.0:\(FabricPorts.operations)"),
            ],
            "ports": [port("https", FabricPorts.ca), port("operations", FabricPorts.operations)],
            "volumeMounts": [keyPairMount, dataMount],
            "readinessProbe": ["httpGet": ["path": "/cainfo", "port": "https", "scheme": "HTTPS"], "periodSeconds": 10],
        ]
        objects.append(
            deployment(
                "ca", org: org, appName: "fabric-ca", instance: "ca", component: "certificate-authority",
                podSpec: ["containers": [container], "volumes": .list(volumes.volumes)]))
        let nodePort = topology.caNodePort(for: org)
        objects.append(
            service(
                "ca", org: org, component: "certificate-authority", selectorName: "fabric-ca", selectorInstance: "ca",
                ports: [servicePort("https", FabricPorts.ca, nodePort: nodePort)], nodePort: nodePort != nil))
        return objects
    }

    /// A fabric-tools pod with the org admin's identity, set up to talk to the org's first node.
    func cli(_ org: Organization) -> KubeObject {
        var volumes = PodVolumes()
        let admin = CryptoLayout.admin(org)
        let cryptoMount = mountCryptoTree(org: org, identities: [(admin, Names.adminIdentity)], volumes: &volumes)
        let adminDir = "\(Paths.crypto)/\(admin.directory)"
        let firstOrderer = topology.orderers[0]
        let ordererOrg = topology.ordererOrgs[0]
        let ordererCA = "\(Paths.crypto)/\(CryptoLayout.mspDirectory(ordererOrg))/\(CryptoLayout.mspFiles(ordererOrg)[1])"
        var variables: [YAMLValue] = [
            env("FABRIC_LOGGING_SPEC", "INFO"),
            env("CORE_PEER_LOCALMSPID", org.mspID),
            env("CORE_PEER_MSPCONFIGPATH", "\(adminDir)/msp"),
            env("CORE_PEER_TLS_ENABLED", "true"),
            env("CORE_PEER_TLS_ROOTCERT_FILE", "\(adminDir)/tls/ca.crt"),
            env("CHANNEL_NAME", topology.channel),
            env("ORDERER_ADDRESS", firstOrderer.endpoint),
            env("ORDERER_CA", ordererCA),
        ]
        if org.kind == .peer {
            variables.insert(env("CORE_PEER_ADDRESS", org.nodes[0].endpoint), at: 1)
        } else {
            variables += [
                env("ORDERER_ADMIN_ADDRESS", "\(org.nodes[0].serviceHost):\(FabricPorts.ordererAdmin)"),
                env("ORDERER_ADMIN_TLS_SIGN_CERT", "\(adminDir)/tls/client.crt"),
                env("ORDERER_ADMIN_TLS_PRIVATE_KEY", "\(adminDir)/tls/client.key"),
            ]
        }
        let container: YAMLValue = [
            "name": "cli",
            "image": .string(topology.fabric.images.tools),
            "command": ["sleep", "infinity"],
            "workingDir": "/tmp",
            "env": .list(variables),
            "volumeMounts": [cryptoMount],
        ]
        return deployment(
            "cli", org: org, appName: "fabric-cli", instance: "cli", component: "cli",
            podSpec: ["containers": [container], "volumes": .list(volumes.volumes)])
    }
}
