#!/usr/bin/env bash
# BoK's built-in demo on the local lab: 3 worker nodes with real dockerd, dnsmasq as kube-dns,
# an agent per node over mutual TLS. Shows a chaincode container failing to resolve peer0,
# runs the DNS rollout, shows that it now resolves, and prints the status table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH=/opt/swift/usr/bin:$PATH
echo "== building"
swift build --product agent 2>&1 | tail -1
swift build --product coordinator 2>&1 | tail -1
bin=$(swift build --show-bin-path)
C="$bin/coordinator"
LAB=${BOK_LAB_DIR:-/var/tmp/bok-lab}
NODES=${BOK_LAB_NODES:-3}

echo "== lab: removing any earlier lab, then bringing up $NODES nodes"
"$C" lab down --dir "$LAB" >/dev/null
"$C" lab up --dir "$LAB" --nodes "$NODES"
INV="$LAB/inventory.yaml"
IMAGE=$("$C" lab status --dir "$LAB" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chaincodeImage"])')

probe() {
  for n in $(seq 1 "$NODES"); do
    out=$("$C" lab exec --dir "$LAB" "node$n" -- docker run --rm --pull never "$IMAGE" ping -c1 -W1 peer0.org1-f-1 2>&1 || true)
    if echo "$out" | grep -q "^PING peer0.org1-f-1 ("; then
      echo "  node$n: chaincode container resolves peer0.org1-f-1 -> $(echo "$out" | sed -n 's/^PING peer0.org1-f-1 (\([^)]*\)).*/\1/p')"
    else
      echo "  node$n: chaincode container CANNOT resolve peer0.org1-f-1 ($(echo "$out" | tail -1))"
    fi
  done
}

echo "== before: can a chaincode container on each node resolve its peer?"
probe
echo "== the plan (first node)"
"$C" dns plan --inventory "$INV" --nodes node1
echo "== rollout: kube-dns + each node's upstream DNS, node by node"
"$C" dns apply --inventory "$INV"
echo "== after"
probe
echo "== a second rollout changes nothing and restarts nothing"
"$C" dns apply --inventory "$INV" 2>/dev/null | tail -1
echo "== status"
"$C" status --inventory "$INV" || true
echo
echo "The lab is still running. Explore it:"
echo "  $C status --inventory $INV"
echo "  $C lab exec --dir $LAB node1 -- docker ps"
echo "Take it down with:"
echo "  sudo $C lab down --dir $LAB"
