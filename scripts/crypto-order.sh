#!/usr/bin/env bash
# Regenerates scripts/bok-crypto.order, the linker's symbol order for `bok-crypto` (scripts/build-crypto.sh): every
# function a real run executes, so they sit side by side in the binary. Run it when a dependency or the crypto code
# changed much (a stale order still works; only the memory figure drifts back towards the unordered one).
#
# The run is profiled with valgrind's callgrind (Debian package `valgrind`): `--help`, `generate` of the benchmark's
# topology (20 peer orgs x (10 peers + 5 users) + 3 orderers), a second `generate` over the tree (keys kept), `status`
# and `renew --all`. Names are mangled, one per line, in the order they first appear in callgrind's output.
#
#   bash scripts/crypto-order.sh     # then: bash scripts/build-crypto.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "crypto-order: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
bin=$(bash "$root/scripts/build-crypto.sh" --symbols | tail -n 1)
work=$(mktemp -d /tmp/bok-crypto-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
{
  printf 'Tenant: bench\nOrdererOrgs:\n- Name: OrdererOrg\n  Domain: orderer\n  Template:\n    Count: 3\nPeerOrgs:\n'
  for i in $(seq 1 20); do
    printf -- '- Name: Org%d\n  Domain: org%d\n  Template:\n    Count: 10\n  Users:\n    Count: 5\n' "$i" "$i"
  done
} >"$work/cluster-config.yaml"
n=0
profile() {
  n=$((n + 1))
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" --dump-instr=no --demangle=no "$bin" "$@" >/dev/null 2>"$work/log.$n" \
    || { [ "$1" = "status" ] || { cat "$work/log.$n" >&2; exit 1; }; }
}
profile --help
profile generate -c "$work/cluster-config.yaml" -o "$work/crypto"
profile generate -c "$work/cluster-config.yaml" -o "$work/crypto"
profile status -c "$work/cluster-config.yaml" --crypto "$work/crypto"
profile renew -c "$work/cluster-config.yaml" --crypto "$work/crypto" --all
python3 - "$root/scripts/bok-crypto.order" "$work"/cg.* <<'EOF'
import re, sys
names, seen = [], set()
for path in sys.argv[2:]:
    for line in open(path, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m and not m.group(1).startswith("0x") and m.group(1) not in seen:
            seen.add(m.group(1))
            names.append(m.group(1))
open(sys.argv[1], "w").write("\n".join(names) + "\n")
print(f"crypto-order: {len(names)} functions -> {sys.argv[1]}", file=sys.stderr)
EOF
