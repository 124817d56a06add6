#!/usr/bin/env bash
# BoK's built-in demo: the whole mission on the local lab, with real Hyperledger Fabric.
#
# 3 worker nodes (a network namespace, a real dockerd and an agent each), dnsmasq as kube-dns, and a Kubernetes
# API whose executor runs every Deployment and Job BoK applies as real processes from a Fabric release (peer,
# orderer, CA, the channel and chaincode Jobs' scripts). Fabric's chaincode images are built from Debian packages.
#   1. rollout of the Fabric network, leaving the nodes' Docker DNS as it is (--skip-node-dns)
#   2. chaincode deploy: install (each peer builds `simple` through its node's Docker), approve, commit, then init:
#      the chaincode container cannot resolve its peer (peer0.org1-f-1) and the launch fails
#   3. coordinator dns apply: every node's Docker gets kube-dns first
#   4. chaincode deploy again (install/approve/commit skipped), init, invoke a→b 10, query a → 90 on every peer
#   5. the chaincode containers per node and the DNS they see; status
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH=/opt/swift/usr/bin:$PATH
start=$(date +%s)
echo "== building"
swift build --product agent 2>&1 | tail -1
swift build --product coordinator 2>&1 | tail -1
bin=$(swift build --show-bin-path)
C="$bin/coordinator"
LAB=${BOK_LAB_DIR:-/var/tmp/bok-lab}
NODES=${BOK_LAB_NODES:-3}
CONFIG=${BOK_CLUSTER_CONFIG:-configs/lab-cluster-config.yaml}
CHAINCODE=${BOK_CHAINCODE:-}
if [ -z "$CHAINCODE" ]; then
  for d in "${BOK_CACHE_DIR:-/var/cache/bok}/fabric/current/chaincode/simple" ../shared/fabric/chaincode/simple; do
    [ -d "$d" ] && CHAINCODE=$d && break
  done
fi
[ -d "$CHAINCODE" ] || { echo "no chaincode source: set BOK_CHAINCODE to a Go chaincode directory (e.g. Fabric's simple)"; exit 1; }
INIT='{"Args":["init","a","100","b","200"]}'

echo "== lab: removing any earlier lab, then $NODES nodes with real dockerd and agents, and the Fabric executor"
"$C" lab down --dir "$LAB" >/dev/null
"$C" lab up --dir "$LAB" --nodes "$NODES" --fabric
INV="$LAB/inventory.yaml"
KUBECONFIG="$LAB/kubeconfig"
export KUBECONFIG
built=$(date +%s)

echo "== 1. coordinator rollout (Docker DNS left as it is: --skip-node-dns)"
"$C" rollout -c "$CONFIG" --inventory "$INV" --crypto-dir "$LAB/crypto-config" --skip-node-dns --timeout 300

echo "== 2. chaincode deploy BEFORE the DNS fix: the peer builds and launches simple, which cannot reach its peer"
if "$C" chaincode deploy -c "$CONFIG" --path "$CHAINCODE/cmd" --lang golang --label simple_1.0 --init-args "$INIT" --timeout 300; then
  echo "UNEXPECTED: the chaincode answered before the DNS fix"; exit 1
fi
echo "-- what the chaincode container on each node printed:"
for n in $(seq 1 "$NODES"); do
  ids=$("$C" lab exec --dir "$LAB" "node$n" -- docker ps -aq --filter name=dev-peer 2>/dev/null || true)
  for id in $ids; do
    echo "  node$n: $("$C" lab exec --dir "$LAB" "node$n" -- docker logs "$id" 2>&1 | grep -iE 'lookup|no such host|error' | tail -1)"
  done
done

echo "== 3. coordinator dns apply: kube-dns first on every node's Docker"
"$C" dns apply --inventory "$INV" --kubeconfig "$KUBECONFIG"

echo "== 4. chaincode deploy again: installed/approved/committed is skipped; init now answers"
"$C" chaincode deploy -c "$CONFIG" --path "$CHAINCODE/cmd" --lang golang --label simple_1.0 --init-args "$INIT" --timeout 300
"$C" chaincode invoke -c "$CONFIG" --name simple --args '{"Args":["invoke","a","b","10"]}'
# Every peer answers (each launches its own chaincode container through its node's Docker): on every node.
for target in "Org1 peer0" "Org1 peer1" "Org2 peer0"; do
  set -- $target
  echo "query a on $2 of $1: $("$C" chaincode query -c "$CONFIG" --name simple --args '{"Args":["query","a"]}' --org "$1" --peer "$2" 2>/dev/null)"
done

echo "== 5. chaincode containers per node (the DNS each one sees), and status"
"$C" chaincode list --inventory "$INV"
"$C" status --inventory "$INV" || true
end=$(date +%s)
echo
echo "demo done in $((end - start)) s ($((end - built)) s from rollout to the answered query)"
echo "The lab is still running. Explore it:"
echo "  KUBECONFIG=$KUBECONFIG kubectl get pods -A          (if kubectl is installed)"
echo "  $C lab exec --dir $LAB node1 -- docker ps"
echo "Take it down with:"
echo "  sudo $C lab down --dir $LAB"
