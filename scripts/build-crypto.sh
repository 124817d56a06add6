#!/usr/bin/env bash
# Builds `bok-crypto` as BoK ships it: `coordinator crypto` (generate, status, renew) on its own, for a CA machine or
# a pipeline step, the counterpart of Fabric's `cryptogen`. A release build with the Swift runtime linked statically
# (--static-swift-stdlib: it runs where no Swift toolchain is), stripped, and laid out for a small memory footprint:
#
#   * -Osize, every function in its own section (-function-sections for Swift, -ffunction-sections for the C code),
#     identical code folded (--icf=all), no exported dynamic symbols, packed relative relocations (glibc >= 2.36);
#   * the functions a run executes placed side by side (`--symbol-ordering-file scripts/bok-crypto.order`, made by
#     `scripts/crypto-order.sh` from a profiled run). The kernel maps code in 64 KiB+ windows (fault-around, large
#     page-cache folios), so scattered code costs a window per function: ordered, the generation of 2,739 files
#     touches 2-3 MiB of code instead of 8-12 (BENCHMARKS.md, "Crypto material").
#
# Its own scratch path (.build-crypto/), incremental. The LAST line of stdout is the binary's path
# (.build-crypto/bok-crypto); everything else goes to stderr.
#
#   bash scripts/build-crypto.sh            # → .build-crypto/bok-crypto
#   bash scripts/build-crypto.sh --symbols  # → .build-crypto/bok-crypto.symbols (symbols kept, no debug info: profiling)
build_name=build-crypto
# shellcheck source=scripts/static-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/static-build.sh"
symbols=0
[ "${1:-}" = "--symbols" ] && symbols=1

scratch="$root/.build-crypto"
order="$root/scripts/bok-crypto.order"
[ -f "$order" ] || { echo "build-crypto: $order is missing (make it with scripts/crypto-order.sh)" >&2; exit 1; }
flags=(-c release --product bok-crypto --static-swift-stdlib --scratch-path "$scratch"
       -Xswiftc -Osize -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -Os -Xcc -ffunction-sections -Xcc -fdata-sections
       -Xswiftc -use-ld=lld -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --icf=all
       -Xlinker "--symbol-ordering-file=$order" -Xlinker --no-warn-symbol-ordering)
bin=$(swift build "${flags[@]}" --show-bin-path)/bok-crypto
# The order file is an input SwiftPM does not track: relink when it is newer than the binary.
if [ -e "$bin" ] && [ "$order" -nt "$bin" ]; then rm -f "$bin"; fi
echo "build-crypto: swift build ${flags[*]}" >&2
swift build "${flags[@]}" >&2
[ -x "$bin" ] || { echo "build-crypto: swift build succeeded but $bin is missing" >&2; exit 1; }

if command -v readelf >/dev/null && readelf -d "$bin" | grep -E 'NEEDED.*(libswift|libFoundation|libdispatch|libBlocksRuntime|libcurl|libssh2)' >&2; then
  echo "build-crypto: $bin links the libraries above dynamically; bok-crypto must need only glibc and libstdc++" >&2
  exit 1
fi
if [ "$symbols" = 1 ]; then
  out="$scratch/bok-crypto.symbols"
  objcopy --strip-debug "$bin" "$out"
else
  out="$scratch/bok-crypto"
  strip --strip-all -o "$out" "$bin"
fi
version=$("$out" --version) || { echo "build-crypto: $out --version failed" >&2; exit 1; }
echo "build-crypto: bok-crypto $version, $(( $(stat -c %s "$out") / 1024 )) KiB, built in $(( $(date +%s) - started )) s" >&2
echo "$out"
