#!/usr/bin/env bash
# BoK's built-in demo on the local lab: 3 worker nodes with real dockerd and a real sshd each,
# dnsmasq as kube-dns, and the Kubernetes stand-in as the API server. Shows a chaincode container
# failing to resolve peer0, runs `coordinator rollout` (which installs the agents over SSH, fixes
# every node's Docker DNS, and rolls out the Fabric network), shows that it now resolves, runs the
# rollout again (nothing changes), and prints the status table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH=/opt/swift/usr/bin:$PATH
echo "== building"
for product in agent coordinator bok-bench; do swift build --product "$product" 2>&1 | tail -1; done
bin=$(swift build --show-bin-path)
C="$bin/coordinator"
LAB=${BOK_LAB_DIR:-/var/tmp/bok-lab}
NODES=${BOK_LAB_NODES:-3}
CONFIG=${BOK_CLUSTER_CONFIG:-configs/cluster-config.yaml}

echo "== lab: removing any earlier lab, then bringing up $NODES nodes (real dockerd + sshd each, no agents yet)"
"$C" lab down --dir "$LAB" >/dev/null
"$C" lab up --dir "$LAB" --nodes "$NODES" --ssh
INV="$LAB/inventory.yaml"
STATUS=$("$C" lab status --dir "$LAB" --json)
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <<<"$STATUS"; }
IMAGE=$(field 'd["chaincodeImage"]')
KUBEDNS=$(field 'd["kubeDNS"]')
NODEARGS=$(field '" ".join("--node %s=%s" % (n["name"], n["address"]) for n in d["nodes"])')

echo "== Kubernetes API: the stand-in (kube-dns ClusterIP $KUBEDNS, the lab's nodes, a default StorageClass)"
KUBECONFIG_FILE="$LAB/kubeconfig"
# shellcheck disable=SC2086
"$bin/bok-bench" kube-stand-in --cluster-dns "$KUBEDNS" $NODEARGS --default-storage-class standard \
    --readiness-delay 1 --kubeconfig-out "$KUBECONFIG_FILE" >"$LAB/stand-in.log" 2>&1 &
STANDIN=$!
trap 'kill "$STANDIN" 2>/dev/null || true; wait "$STANDIN" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$KUBECONFIG_FILE" ] && break; sleep 0.1; done
[ -s "$KUBECONFIG_FILE" ] || { echo "the Kubernetes stand-in did not start:"; cat "$LAB/stand-in.log"; exit 1; }

# ping resolves through the container's resolv.conf and its search list (busybox nslookup ignores
# the search list). "bad address" means the name did not resolve; ping statistics mean it did.
probe() {
  for n in $(seq 1 "$NODES"); do
    for attempt in 1 2; do
      out=$("$C" lab exec --dir "$LAB" "node$n" -- docker run --rm --pull never "$IMAGE" ping -c1 -W1 peer0.org1-f-1 2>&1 || true)
      if echo "$out" | grep -q "PING peer0.org1-f-1 ("; then
        echo "  node$n: chaincode container resolves peer0.org1-f-1 -> $(echo "$out" | sed -n 's/.*PING peer0.org1-f-1 (\([^)]*\)).*/\1/p')"
      elif echo "$out" | grep -q "bad address"; then
        echo "  node$n: chaincode container CANNOT resolve peer0.org1-f-1 ($(echo "$out" | grep "bad address" | head -1))"
      elif echo "$out" | grep -q "packets transmitted" && [ "$attempt" = 2 ]; then
        echo "  node$n: chaincode container resolves peer0.org1-f-1"
      elif [ "$attempt" = 2 ]; then
        echo "  node$n: could not run the probe container: $(echo "$out" | tail -1)"
      else
        continue
      fi
      break
    done
  done
}

ROLLOUT=("$C" rollout -c "$CONFIG" --kubeconfig "$KUBECONFIG_FILE" --inventory "$INV" --crypto-dir "$LAB/crypto-config"
         --install-agents --identity "$LAB/ssh/id_ed25519" --known-hosts "$LAB/ssh/known_hosts"
         --docker-restart-command "$LAB/bin/lab-dockerd restart" --docker-log-file /run/bok-lab-dockerd.log)

echo "== before: can a chaincode container on each node resolve its peer?"
probe
echo "== coordinator rollout: install agents over SSH, Docker DNS node by node, then the Fabric network"
"${ROLLOUT[@]}"
echo "== after"
probe
echo "== a second rollout changes nothing and restarts nothing"
"${ROLLOUT[@]}" 2>/dev/null | tail -1
echo "== status"
"$C" status --inventory "$INV" || true
echo
echo "The lab is still running (the Kubernetes stand-in stops with this script). Explore it:"
echo "  $C status --inventory $INV"
echo "  $C lab exec --dir $LAB node1 -- docker ps"
echo "Take it down with:"
echo "  sudo $C lab down --dir $LAB"
