import Foundation

/// A fake `peer` executable for running the chaincode Jobs' scripts for real: a POSIX sh script that records its argv
/// (one call per line in `$FAKE/calls`) and answers the lifecycle queries exactly in the formats of Fabric 2.5's CLI
/// (internal/peer/lifecycle/chaincode/queryinstalled.go, querycommitted.go, queryapproved.go,
/// checkcommitreadiness.go) from state kept in files under `$FAKE`:
///
/// * `installed-<CORE_PEER_ADDRESS>`: `Package ID: …, Label: …` lines; `install PKG` appends the file's real package
///   ID (label from its metadata.json, SHA-256 of the file).
/// * `approved-<MSP>-<sequence>`: one `sequence: …, version: …` line; written by `approveformyorg`.
/// * `committed-<CORE_PEER_ADDRESS>`: `VERSION SEQUENCE`; written for every peer in `$FAKE_PEERS` by `commit`.
/// * `orgs`: the MSP IDs of the channel (for `checkcommitreadiness`).
/// * `fail-<subcommand>`: a number N: the next N calls of that subcommand fail with a connection error.
/// * `value`: what `peer chaincode query` answers.
enum FakePeer {
    static let script = #"""
        #!/bin/sh
        set -u
        F="$FAKE"
        echo "$* [addr=${CORE_PEER_ADDRESS:-} msp=${CORE_PEER_LOCALMSPID:-} ca=${CORE_PEER_TLS_ROOTCERT_FILE:-}]" >> "$F/calls"
        if [ "$1" = lifecycle ]; then SUB=$3; shift 3; else SUB=$2; shift 2; fi
        if [ -s "$F/fail-$SUB" ]; then
          LEFT=$(cat "$F/fail-$SUB")
          echo $((LEFT - 1)) > "$F/fail-$SUB"
          if [ "$LEFT" -gt 0 ]; then
            echo "Error: failed to create new connection: connection error: desc = \"transport: error while dialing: dial tcp: lookup ${CORE_PEER_ADDRESS%:*}: no such host\"" >&2
            exit 1
          fi
        fi
        NAME=""; VERSION=""; SEQ=""; PKGID=""; INIT=false; CHANNEL_ARG=""; PEERS=0; ISINIT=false; ARGS=""
        PKG=""
        while [ $# -gt 0 ]; do
          case "$1" in
            -n|--name) NAME=$2; shift 2 ;;
            -v|--version) VERSION=$2; shift 2 ;;
            --sequence) SEQ=$2; shift 2 ;;
            --package-id) PKGID=$2; shift 2 ;;
            --init-required) INIT=true; shift ;;
            --isInit) ISINIT=true; shift ;;
            -C|--channelID) CHANNEL_ARG=$2; shift 2 ;;
            -c|--ctor) ARGS=$2; shift 2 ;;
            --peerAddresses) PEERS=$((PEERS + 1)); shift 2 ;;
            -o|--orderer|--cafile|--tlsRootCertFiles) shift 2 ;;
            --tls|--waitForEvent) shift ;;
            *) PKG=$1; shift ;;
          esac
        done
        ADDR=${CORE_PEER_ADDRESS:-none}
        MSP=${CORE_PEER_LOCALMSPID:-none}
        case "$SUB" in
          queryinstalled)
            echo "Installed chaincodes on peer:"
            [ -f "$F/installed-$ADDR" ] && cat "$F/installed-$ADDR"
            exit 0 ;;
          install)
            LABEL=$(tar -xzOf "$PKG" metadata.json | sed 's/.*"label":"\([^"]*\)".*/\1/')
            ID="$LABEL:$(sha256sum "$PKG" | cut -d ' ' -f 1)"
            if grep -qF "Package ID: $ID," "$F/installed-$ADDR" 2>/dev/null; then
              echo "Error: chaincode install failed with status: 500 - failed to invoke backing implementation of 'InstallChaincode': chaincode already successfully installed (package ID '$ID')" >&2
              exit 1
            fi
            echo "Package ID: $ID, Label: $LABEL" >> "$F/installed-$ADDR"
            echo "$(date) [cli.lifecycle.chaincode] submitInstallProposal -> INFO 001 Installed remotely: response:<status:200 payload:\"\\nJ$ID\\022\\n$LABEL\" >" >&2
            echo "$(date) [cli.lifecycle.chaincode] submitInstallProposal -> INFO 002 Chaincode code package identifier: $ID" >&2
            exit 0 ;;
          queryapproved)
            if [ -f "$F/approved-$MSP-$SEQ" ]; then
              echo "Approved chaincode definition for chaincode '$NAME' on channel '$CHANNEL_ARG':"
              cat "$F/approved-$MSP-$SEQ"
              echo
              exit 0
            fi
            echo "Error: query failed with status: 500 - failed to invoke backing implementation of 'QueryApprovedChaincodeDefinition': could not fetch approved chaincode definition (name: '$NAME', sequence: '$SEQ') on channel '$CHANNEL_ARG'" >&2
            exit 1 ;;
          approveformyorg)
            printf 'sequence: %s, version: %s, init-required: %s, package-id: %s, endorsement plugin: escc, validation plugin: vscc' \
              "$SEQ" "$VERSION" "$INIT" "$PKGID" > "$F/approved-$MSP-$SEQ"
            echo "$(date) [chaincodeCmd] ClientWait -> INFO 001 txid [0f1e] committed with status (VALID) at $ADDR" >&2
            exit 0 ;;
          checkcommitreadiness)
            echo "Chaincode definition for chaincode '$NAME', version '$VERSION', sequence '$SEQ' on channel '$CHANNEL_ARG' approval status by org:"
            for ORG in $(cat "$F/orgs"); do
              if grep -qF "sequence: $SEQ, version: $VERSION, init-required: $INIT," "$F/approved-$ORG-$SEQ" 2>/dev/null; then
                echo "$ORG: true"
              else
                echo "$ORG: false"
              fi
            done
            exit 0 ;;
          commit)
            echo "$PEERS" > "$F/commit-endorsers"
            for P in $FAKE_PEERS; do echo "$VERSION $SEQ" > "$F/committed-$P"; done
            echo "$(date) [chaincodeCmd] ClientWait -> INFO 001 txid [1a2b] committed with status (VALID) at $ADDR" >&2
            exit 0 ;;
          querycommitted)
            if [ -f "$F/committed-$ADDR" ]; then
              read -r V S < "$F/committed-$ADDR"
              echo "Committed chaincode definition for chaincode '$NAME' on channel '$CHANNEL_ARG':"
              echo "Version: $V, Sequence: $S, Endorsement Plugin: escc, Validation Plugin: vscc, Approvals: [Org1MSP: true, Org2MSP: true]"
              exit 0
            fi
            echo "Error: query failed with status: 500 - failed to invoke backing implementation of 'QueryChaincodeDefinition': namespace $NAME is not defined" >&2
            exit 1 ;;
          invoke)
            if [ "$ISINIT" = true ] && [ -f "$F/initialized" ]; then
              echo "Error: endorsement failure during invoke. response: status:500 message:\"error in simulation: failed to execute transaction 0f: invalid invocation: chaincode '$NAME' is already initialized but called as init\"" >&2
              exit 1
            fi
            [ "$ISINIT" = true ] && echo "$ARGS" > "$F/initialized"
            echo "$ARGS" >> "$F/invoked"
            echo "$(date) [chaincodeCmd] chaincodeInvokeOrQuery -> INFO 001 Chaincode invoke successful. result: status:200" >&2
            exit 0 ;;
          query)
            cat "$F/value"
            exit 0 ;;
        esac
        echo "fake peer: unexpected call: $SUB" >&2
        exit 2

        """#

    /// Writes the fake into `directory/bin/peer` and returns that bin directory.
    static func install(in directory: String) throws -> String {
        let bin = "\(directory)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try Data(script.utf8).write(to: URL(fileURLWithPath: "\(bin)/peer"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(bin)/peer")
        return bin
    }
}
