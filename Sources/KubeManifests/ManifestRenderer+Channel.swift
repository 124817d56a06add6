import FabricTopology

extension ManifestRenderer {
    /// The default channel: a ConfigMap with configtx.yaml and a Job per orderer org (create the genesis block or
    /// fetch it, then join the org's orderers through `osnadmin`), and a Job per peer org (fetch block 0, join every
    /// peer). Each Job runs in its own org's namespace with that org's admin identity only.
    func channelObjects() throws -> [KubeObject] {
        var objects: [KubeObject] = []
        let creator = topology.ordererOrgs[0]
        objects.append(
            object(
                "v1", "ConfigMap", name: Names.channelConfig, namespace: creator.namespace,
                labels: labels(
                    name: "fabric-channel", instance: Names.channelConfig, component: "channel-setup",
                    org: creator),
                [("data", ["configtx.yaml": .string(ConfigTx.yaml(for: topology, cryptoRoot: Paths.crypto))])]))
        for (index, org) in topology.ordererOrgs.enumerated() {
            objects.append(
                channelJob(
                    org, name: index == 0 ? "channel-create" : "channel-join-orderers",
                    script: ordererScript(org, creates: index == 0)))
        }
        for org in topology.peerOrgs {
            objects.append(channelJob(org, name: "channel-join", script: peerScript(org)))
        }
        return objects
    }

    private func channelJob(_ org: Organization, name: String, script: String) -> KubeObject {
        var volumes = PodVolumes()
        var mounts = [mountCryptoTree(org: org, identities: [(CryptoLayout.admin(org), Names.adminIdentity)], volumes: &volumes)]
        if name == "channel-create" {
            volumes.add(["name": "channel-config", "configMap": ["name": .string(Names.channelConfig)]])
            mounts.append(["name": "channel-config", "mountPath": .string(Paths.channelConfig), "readOnly": true])
        }
        // Survives container restarts within the pod, so a retry reuses the genesis block it already made.
        volumes.add(["name": "work", "emptyDir": [:]])
        mounts.append(["name": "work", "mountPath": "/work"])
        let podLabels = labels(name: "fabric-channel", instance: name, component: "channel-setup", org: org)
        let container: YAMLValue = [
            "name": "channel",
            "image": .string(topology.fabric.images.tools),
            "command": ["/bin/sh", "-c"],
            "args": [.string(script)],
            "env": [env("FABRIC_LOGGING_SPEC", "WARNING"), env("CHANNEL", topology.channel)],
            "volumeMounts": .list(mounts),
        ]
        return object(
            "batch/v1", "Job", name: name, namespace: org.namespace, labels: podLabels,
            [
                (
                    "spec",
                    [
                        "backoffLimit": 6,
                        "template": [
                            "metadata": ["labels": podLabels],
                            "spec": ["restartPolicy": "OnFailure", "containers": [container], "volumes": .list(volumes.volumes)],
                        ],
                    ]
                )
            ])
    }

    /// Shell helpers shared by the channel scripts: bounded retries, never an endless loop.
    private var scriptPrelude: String {
        """
        set -eu
        BLOCK="/work/$CHANNEL.block"
        # attempt CMD...: retry every 5 s, give up after 10 minutes (the Job then fails visibly).
        attempt() {
          tries=0
          until "$@"; do
            tries=$((tries + 1))
            if [ "$tries" -ge 120 ]; then echo "giving up: $*" >&2; return 1; fi
            echo "waiting: $*"
            sleep 5
          done
        }

        """
    }

    private func ordererScript(_ org: Organization, creates: Bool) -> String {
        let admin = "\(Paths.crypto)/\(CryptoLayout.admin(org).directory)"
        let creator = topology.ordererOrgs[0]
        let creatorCA = "\(Paths.crypto)/\(CryptoLayout.mspDirectory(creator))/\(CryptoLayout.mspFiles(creator)[1])"
        let adminEndpoints = org.nodes.map { "\($0.serviceHost):\(FabricPorts.ordererAdmin)" }.joined(separator: " ")
        var script =
            scriptPrelude + """
                ADMIN="\(admin)"
                export CORE_PEER_LOCALMSPID="\(org.mspID)" CORE_PEER_MSPCONFIGPATH="$ADMIN/msp" CORE_PEER_TLS_ENABLED=true
                ORDERERS="\(adminEndpoints)"
                osn() { osnadmin channel "$@" --ca-file "$ADMIN/tls/ca.crt" --client-cert "$ADMIN/tls/client.crt" --client-key "$ADMIN/tls/client.key"; }
                reachable() { osn list -o "$1" > /work/list; }
                joined() { osn list -c "$CHANNEL" -o "$1" | grep -q "Status: 200"; }
                for ORDERER in $ORDERERS; do attempt reachable "$ORDERER"; done
                # An orderer that already has the channel (an earlier run) hands out the genesis block: never make a second one.
                if [ ! -s "$BLOCK" ]; then
                  for ORDERER in $ORDERERS; do
                    if joined "$ORDERER"; then
                      attempt peer channel fetch 0 "$BLOCK" -c "$CHANNEL" -o "${ORDERER%:*}:\(FabricPorts.orderer)" --tls --cafile "$ADMIN/tls/ca.crt"
                      break
                    fi
                  done
                fi

                """
        if creates {
            script += """
                if [ ! -s "$BLOCK" ]; then
                  configtxgen -configPath \(Paths.channelConfig) -profile \(ConfigTx.profile) -channelID "$CHANNEL" -outputBlock "$BLOCK"
                fi

                """
        } else {
            script += """
                if [ ! -s "$BLOCK" ]; then
                  attempt peer channel fetch 0 "$BLOCK" -c "$CHANNEL" -o "\(creator.nodes[0].endpoint)" --tls --cafile "\(creatorCA)"
                fi

                """
        }
        script += """
            for ORDERER in $ORDERERS; do
              if joined "$ORDERER"; then
                echo "$ORDERER is already a member of $CHANNEL"
              else
                attempt osn join --channelID "$CHANNEL" --config-block "$BLOCK" -o "$ORDERER"
              fi
            done
            echo "orderers of \(org.name) are on $CHANNEL"

            """
        return script
    }

    private func peerScript(_ org: Organization) -> String {
        let admin = "\(Paths.crypto)/\(CryptoLayout.admin(org).directory)"
        // Each entry is one double-quoted shell word, `ENDPOINT|CAFILE`: unquoted, the `|` would be a pipeline and
        // the `for` line would be a syntax error in every shell.
        let orderers = topology.ordererOrgs.flatMap { ordererOrg in
            org.kind == .peer
                ? ordererOrg.nodes.map { node in
                    "\"\(node.endpoint)|\(Paths.crypto)/\(CryptoLayout.mspDirectory(ordererOrg))/\(CryptoLayout.mspFiles(ordererOrg)[1])\""
                } : []
        }
        let peers = org.nodes.map(\.endpoint).joined(separator: " ")
        return scriptPrelude + """
            ADMIN="\(admin)"
            export CORE_PEER_LOCALMSPID="\(org.mspID)" CORE_PEER_MSPCONFIGPATH="$ADMIN/msp" CORE_PEER_TLS_ENABLED=true
            export CORE_PEER_TLS_ROOTCERT_FILE="$ADMIN/tls/ca.crt"
            # Block 0 from any orderer that has the channel (the orderer org's job creates it).
            fetch() {
              for ENTRY in \(orderers.joined(separator: " ")); do
                if peer channel fetch 0 "$BLOCK" -c "$CHANNEL" -o "${ENTRY%%|*}" --tls --cafile "${ENTRY#*|}"; then return 0; fi
              done
              return 1
            }
            [ -s "$BLOCK" ] || attempt fetch
            list() { peer channel list > /work/channels; }
            for PEER in \(peers); do
              export CORE_PEER_ADDRESS="$PEER"
              attempt list
              if grep -qx "$CHANNEL" /work/channels; then
                echo "$PEER is already on $CHANNEL"
              else
                attempt peer channel join -b "$BLOCK"
              fi
            done
            echo "peers of \(org.name) are on $CHANNEL"

            """
    }
}
