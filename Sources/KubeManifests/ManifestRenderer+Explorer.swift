import FabricTopology
import Foundation

extension ManifestRenderer {
    /// Hyperledger Explorer and its PostgreSQL, in the first peer org's namespace (it signs with that org's admin).
    /// Authentication is on: the UI's login (`exploreradmin` and a generated password) is in the Secret
    /// `explorer-credentials` (keys `admin-user`, `admin-password`), next to the database password.
    func explorerObjects(in org: Organization) throws -> [KubeObject] {
        var objects: [KubeObject] = []
        objects.append(
            secret(
                Names.explorerCredentials, org: org, instance: "explorer", component: "credentials",
                data: [
                    "db-password": password(org.namespace, "explorer-db"), "admin-user": Self.explorerAdminUser,
                    "admin-password": password(org.namespace, "explorer-admin"),
                ]))
        objects.append(
            secret(
                Names.explorerConfig, org: org, instance: "explorer", component: "explorer",
                data: ["config.json": try explorerConfig(), "connection-profile.json": try connectionProfile(org)]))
        if let data = claim("explorer-db", org: org, instance: "explorer", size: "1Gi") { objects.append(data) }

        var volumes = PodVolumes()
        let identityMount = mountIdentity(
            CryptoLayout.admin(org), secretName: Names.adminIdentity, volumeName: "admin-identity",
            at: "/tmp/crypto/admin", volumes: &volumes)
        volumes.add(["name": "explorer-config", "secret": ["secretName": .string(Names.explorerConfig), "defaultMode": .int(0o440)]])
        let dbMount = mountData(
            volumeName: "db", claim: "explorer-db", nfsSubPath: "explorer/\(org.namespace)",
            at: "/var/lib/postgresql/data", subPath: "pgdata", volumes: &volumes)
        let database: YAMLValue = [
            "name": "explorer-db",
            "image": .string(topology.fabric.images.explorerDB),
            "env": [
                env("DATABASE_DATABASE", "fabricexplorer"), env("DATABASE_USERNAME", "hppoc"),
                secretEnv("DATABASE_PASSWORD", secret: Names.explorerCredentials, key: "db-password"),
            ],
            "ports": [port("postgres", 5432)],
            "volumeMounts": [dbMount],
        ]
        let explorer: YAMLValue = [
            "name": "explorer",
            "image": .string(topology.fabric.images.explorer),
            "env": [
                env("DATABASE_HOST", "127.0.0.1"), env("DATABASE_DATABASE", "fabricexplorer"), env("DATABASE_USERNAME", "hppoc"),
                secretEnv("DATABASE_PASSWD", secret: Names.explorerCredentials, key: "db-password"),
                env("LOG_LEVEL_APP", "info"), env("LOG_LEVEL_DB", "info"), env("LOG_LEVEL_CONSOLE", "info"),
                env("LOG_CONSOLE_STDOUT", "true"), env("DISCOVERY_AS_LOCALHOST", "false"),
            ],
            "ports": [port("http", FabricPorts.explorer)],
            "volumeMounts": [
                identityMount,
                [
                    "name": "explorer-config", "mountPath": "/opt/explorer/app/platform/fabric/config.json", "subPath": "config.json",
                    "readOnly": true,
                ],
                [
                    "name": "explorer-config", "mountPath": "/opt/explorer/app/platform/fabric/connection-profile/bok.json",
                    "subPath": "connection-profile.json", "readOnly": true,
                ],
            ],
            "readinessProbe": ["tcpSocket": ["port": "http"], "periodSeconds": 10],
        ]
        objects.append(
            deployment(
                "explorer", org: org, appName: "fabric-explorer", instance: "explorer", component: "explorer",
                podSpec: ["containers": [database, explorer], "volumes": .list(volumes.volumes)]))
        let nodePort = topology.nodePorts.explorer
        objects.append(
            service(
                "explorer", org: org, component: "explorer", selectorName: "fabric-explorer",
                selectorInstance: "explorer", ports: [servicePort("http", FabricPorts.explorer, nodePort: nodePort)],
                nodePort: nodePort != nil))
        return objects
    }

    static let explorerAdminUser = "exploreradmin"

    private func explorerConfig() throws -> String {
        try json([
            "network-configs": ["bok": ["name": "BoK \(topology.tenant)", "profile": "./connection-profile/bok.json"]],
            "license": "Apache-2.0",
        ])
    }

    private func connectionProfile(_ org: Organization) throws -> String {
        let admin = CryptoLayout.admin(org)
        var peers: [String: Any] = [:]
        for node in org.nodes {
            peers[node.commonName] = [
                "tlsCACerts": ["path": "/tmp/crypto/admin/\(admin.tlsRootCertificate)"],
                "url": "grpcs://\(node.endpoint)",
            ]
        }
        let profile: [String: Any] = [
            "name": "bok",
            "version": "1.0.0",
            "license": "Apache-2.0",
            "client": [
                "tlsEnable": true,
                "adminCredential": ["id": Self.explorerAdminUser, "password": password(org.namespace, "explorer-admin")],
                // The explorer signs with the org admin's identity: its UI must not be open to anyone who can reach it.
                "enableAuthentication": true,
                "organization": org.mspID,
                "connection": ["timeout": ["peer": ["endorser": "300"], "orderer": "300"]],
            ],
            "channels": [topology.channel: ["peers": Dictionary(uniqueKeysWithValues: org.nodes.map { ($0.commonName, [String: Any]()) })]],
            "organizations": [
                org.mspID: [
                    "mspid": org.mspID,
                    "adminPrivateKey": ["path": "/tmp/crypto/admin/\(admin.privateKey)"],
                    "peers": org.nodes.map(\.commonName),
                    "signedCert": ["path": "/tmp/crypto/admin/\(admin.signCertificate)"],
                ] as [String: Any]
            ],
            "peers": peers,
        ]
        return try json(profile)
    }

    private func json(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
