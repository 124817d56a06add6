import FabricTopology

/// Volumes of one pod template, declared once each, in the order first used.
struct PodVolumes {
    private(set) var volumes: [YAMLValue] = []
    private var names: Set<String> = []

    mutating func add(_ volume: YAMLValue) {
        guard let name = volume["name"]?.string, !names.contains(name) else { return }
        names.insert(name)
        volumes.append(volume)
    }
}

extension ManifestRenderer {
    /// Secret keys of an identity's files: short, fixed names mapped back to cryptogen's paths on mount.
    func identityEntries(_ identity: CryptoLayout.Identity) -> [(key: String, path: String)] {
        [
            ("msp-cacert.pem", identity.caCertificate), ("msp-key.pem", identity.privateKey),
            ("msp-signcert.pem", identity.signCertificate), ("msp-tlscacert.pem", identity.tlsCACertificate),
            ("msp-config.yaml", identity.mspConfig), ("tls-ca.crt", identity.tlsRootCertificate),
            ("tls-cert.crt", identity.tlsCertificate), ("tls-key.key", identity.tlsPrivateKey),
        ]
    }

    /// The Secret holding one identity's MSP and TLS files.
    func identitySecret(_ identity: CryptoLayout.Identity, name: String, org: Organization, instance: String) throws -> KubeObject {
        var data: [String: String] = [:]
        for entry in identityEntries(identity) {
            data[entry.key] = try cryptoFile("\(identity.directory)/\(entry.path)")
        }
        return secret(name, org: org, instance: instance, component: "crypto", data: data)
    }

    func secret(_ name: String, org: Organization, instance: String, component: String, data: [String: String]) -> KubeObject {
        object(
            "v1", "Secret", name: name, namespace: org.namespace,
            labels: labels(name: "fabric-\(component)", instance: instance, component: component, org: org),
            [
                ("type", "Opaque"),
                ("data", .mapping(data.sorted { $0.key < $1.key }.map { YAMLPair(key: $0.key, value: base64($0.value)) })),
            ])
    }

    /// The shared NFS claim, as a pod volume.
    var shareVolume: YAMLValue {
        ["name": "share", "persistentVolumeClaim": ["claimName": .string(Names.share)]]
    }

    /// Mounts an identity's `msp/` and `tls/` at `mountPath`: from its Secret, or from the NFS share.
    func mountIdentity(
        _ identity: CryptoLayout.Identity, secretName: String, volumeName: String, at mountPath: String,
        volumes: inout PodVolumes
    ) -> YAMLValue {
        if nfs != nil {
            volumes.add(shareVolume)
            return [
                "name": "share", "mountPath": .string(mountPath), "subPath": .string("crypto-config/\(identity.directory)"),
                "readOnly": true,
            ]
        }
        let items: [YAMLValue] = identityEntries(identity).map { ["key": .string($0.key), "path": .string($0.path)] }
        volumes.add([
            "name": .string(volumeName),
            "secret": ["secretName": .string(secretName), "defaultMode": .int(0o440), "items": .list(items)],
        ])
        return ["name": .string(volumeName), "mountPath": .string(mountPath), "readOnly": true]
    }

    /// Public files every pod of a namespace may need under their cryptogen paths: every org's verifying MSP (its CA
    /// and TLS CA: a peer org's admin must reach the other orgs' peers over TLS to commit chaincode under the
    /// channel's MAJORITY policies), and in orderer org namespaces the orderers' TLS certificates (to build the channel).
    func publicFiles(for org: Organization) -> [String] {
        var files: [String] = []
        for other in topology.organizations {
            files += CryptoLayout.mspFiles(other).map { "\(CryptoLayout.mspDirectory(other))/\($0)" }
        }
        if org.kind == .orderer {
            for ordererOrg in topology.ordererOrgs {
                for node in ordererOrg.nodes {
                    let identity = CryptoLayout.identity(of: node, in: ordererOrg)
                    files.append("\(identity.directory)/\(identity.tlsCertificate)")
                }
            }
        }
        return files
    }

    /// The namespace's ConfigMap of public certificates.
    func cryptoPublicConfigMap(_ org: Organization) throws -> KubeObject {
        var data: [String: String] = [:]
        for path in publicFiles(for: org) { data[Self.dataKey(path)] = try cryptoFile(path) }
        return object(
            "v1", "ConfigMap", name: Names.cryptoPublic, namespace: org.namespace,
            labels: labels(name: "fabric-crypto", instance: Names.cryptoPublic, component: "crypto", org: org),
            [("data", .sortedStrings(data))])
    }

    /// Mounts crypto material under its cryptogen paths at `/etc/bok/crypto`: the given identities (from their
    /// Secrets) and the namespace's public certificates, or the whole tree from the NFS share.
    func mountCryptoTree(
        org: Organization, identities: [(CryptoLayout.Identity, secretName: String)],
        volumes: inout PodVolumes
    ) -> YAMLValue {
        if nfs != nil {
            volumes.add(shareVolume)
            return ["name": "share", "mountPath": .string(Paths.crypto), "subPath": "crypto-config", "readOnly": true]
        }
        var sources: [YAMLValue] = []
        for (identity, secretName) in identities {
            let items: [YAMLValue] = identityEntries(identity).map {
                ["key": .string($0.key), "path": .string("\(identity.directory)/\($0.path)")]
            }
            sources.append(["secret": ["name": .string(secretName), "items": .list(items)]])
        }
        let publicItems: [YAMLValue] = publicFiles(for: org).map { ["key": .string(Self.dataKey($0)), "path": .string($0)] }
        sources.append(["configMap": ["name": .string(Names.cryptoPublic), "items": .list(publicItems)]])
        volumes.add(["name": "crypto", "projected": ["defaultMode": .int(0o440), "sources": .list(sources)]])
        return ["name": "crypto", "mountPath": .string(Paths.crypto), "readOnly": true]
    }

    /// Mounts persistent data: a claim of its own (StorageClass) or a directory of the NFS share.
    func mountData(
        volumeName: String, claim: String, nfsSubPath: String, at mountPath: String, subPath: String? = nil,
        volumes: inout PodVolumes
    ) -> YAMLValue {
        if nfs != nil {
            volumes.add(shareVolume)
            let path = subPath.map { "\(nfsSubPath)/\($0)" } ?? nfsSubPath
            return ["name": "share", "mountPath": .string(mountPath), "subPath": .string(path)]
        }
        volumes.add(["name": .string(volumeName), "persistentVolumeClaim": ["claimName": .string(claim)]])
        return .compact([("name", .string(volumeName)), ("mountPath", .string(mountPath)), ("subPath", subPath.map(YAMLValue.string))])
    }

    /// A claim from the StorageClass (nothing with NFS, where the share holds everything).
    func claim(_ name: String, org: Organization, instance: String, size: String) -> KubeObject? {
        guard case .storageClass(let className, _) = topology.storage else { return nil }
        return object(
            "v1", "PersistentVolumeClaim", name: name, namespace: org.namespace,
            labels: labels(name: "fabric-storage", instance: instance, component: "storage", org: org),
            [
                (
                    "spec",
                    .compact([
                        ("accessModes", ["ReadWriteOnce"]),
                        ("storageClassName", className.map(YAMLValue.string)),
                        ("resources", ["requests": ["storage": .string(size)]]),
                    ])
                )
            ])
    }

    /// NFS: one PersistentVolume per org namespace, all on the tenant's directory of the export.
    func persistentVolumes() -> [KubeObject] {
        guard let nfs else { return [] }
        return topology.organizations.map { org in
            object(
                "v1", "PersistentVolume", name: "\(org.namespace)-share", namespace: nil,
                labels: labels(name: "fabric-storage", instance: "\(org.namespace)-share", component: "storage", org: org),
                [
                    (
                        "spec",
                        [
                            "capacity": ["storage": .string(topology.storage.size)],
                            "accessModes": ["ReadWriteMany"],
                            "persistentVolumeReclaimPolicy": "Retain",
                            "storageClassName": "",
                            "claimRef": ["namespace": .string(org.namespace), "name": .string(Names.share)],
                            "nfs": ["server": .string(nfs.server), "path": .string("\(nfs.path == "/" ? "" : nfs.path)/\(topology.tenant)")],
                        ]
                    )
                ])
        }
    }

    /// NFS: the namespace's claim on its PersistentVolume.
    func shareClaim(_ org: Organization) -> KubeObject? {
        guard nfs != nil else { return nil }
        return object(
            "v1", "PersistentVolumeClaim", name: Names.share, namespace: org.namespace,
            labels: labels(name: "fabric-storage", instance: Names.share, component: "storage", org: org),
            [
                (
                    "spec",
                    [
                        "accessModes": ["ReadWriteMany"],
                        "storageClassName": "",
                        "volumeName": .string("\(org.namespace)-share"),
                        "resources": ["requests": ["storage": .string(topology.storage.size)]],
                    ]
                )
            ])
    }
}
