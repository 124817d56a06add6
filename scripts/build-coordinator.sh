#!/usr/bin/env bash
# Builds the coordinator as BoK ships it to an admin machine: a release build with the Swift runtime and Foundation
# linked statically (--static-swift-stdlib: no Swift toolchain needed there), linked with lld (no exported dynamic
# symbols, packed relative relocations, identical code folded) and stripped, with `bok-crypto`
# (scripts/build-crypto.sh) beside it: `coordinator crypto …` hands over to it (BENCHMARKS.md, "Crypto material").
# What stays dynamic: glibc, libstdc++, libcurl and libssh2 (Debian: libcurl4, libssh2-1).
#
# Its own scratch path (.build-coordinator/), incremental. The LAST line of stdout is the coordinator's path
# (.build-coordinator/coordinator); everything else goes to stderr.
#
#   bash scripts/build-coordinator.sh       # → .build-coordinator/coordinator and .build-coordinator/bok-crypto
build_name=build-coordinator
# shellcheck source=scripts/static-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/static-build.sh"

scratch="$root/.build-coordinator"
flags=(-c release --product coordinator --static-swift-stdlib --scratch-path "$scratch"
       -Xswiftc -use-ld=lld -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --icf=all)
echo "build-coordinator: swift build ${flags[*]}" >&2
swift build "${flags[@]}" >&2
bin=$(swift build "${flags[@]}" --show-bin-path)/coordinator
[ -x "$bin" ] || { echo "build-coordinator: swift build succeeded but $bin is missing" >&2; exit 1; }
if command -v readelf >/dev/null && readelf -d "$bin" | grep -E 'NEEDED.*(libswift|libFoundation|libdispatch|libBlocksRuntime)' >&2; then
  echo "build-coordinator: $bin still links the Swift runtime dynamically (above)" >&2
  exit 1
fi
out="$scratch/coordinator"
strip --strip-all -o "$out" "$bin"
crypto=$(bash "$root/scripts/build-crypto.sh" | tail -n 1)
cp -f "$crypto" "$scratch/bok-crypto"
version=$("$out" version) || { echo "build-coordinator: $out version failed" >&2; exit 1; }
echo "build-coordinator: $version, $(( $(stat -c %s "$out") / 1024 )) KiB, with bok-crypto beside it, built in $(( $(date +%s) - started )) s" >&2
echo "$out"
