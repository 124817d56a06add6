#!/usr/bin/env bash
# Builds the agent binary that `coordinator agents install` ships to worker nodes: a release build
# with the Swift runtime and Foundation linked statically (--static-swift-stdlib), stripped, so it
# starts on a plain Debian/Ubuntu node that has no Swift toolchain. What stays dynamic is what every
# such node has (glibc, libstdc++, libgcc_s, zlib) plus libcurl (FoundationNetworking and CCurl);
# `coordinator agents install` checks on the node that each of them is there before it swaps the
# binary in.
#
# It builds in its own scratch path (.build-agent/), so it never fights the debug build in .build/.
# Re-running is incremental. The LAST line of stdout is the binary's path (scripts read it with
# `tail -n 1`); everything else (swift build's output) goes to stderr.
#
#   bash scripts/build-agent.sh            # → .../.build-agent/release/agent
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "build-agent: swift not found (expected under /opt/swift/usr/bin)" >&2; exit 1; }

scratch="$root/.build-agent"
started=$(date +%s)
echo "build-agent: swift build -c release --product agent --static-swift-stdlib (scratch $scratch)" >&2
# -Xlinker -s: the linker drops the symbol tables (the binary is stripped as it is linked).
swift build -c release --product agent --static-swift-stdlib --scratch-path "$scratch" -Xlinker -s >&2
bin=$(swift build -c release --product agent --static-swift-stdlib --scratch-path "$scratch" -Xlinker -s --show-bin-path)/agent
[ -x "$bin" ] || { echo "build-agent: swift build succeeded but $bin is missing" >&2; exit 1; }

# Belt and braces: strip whatever the linker kept (a no-op when -s already did it).
if command -v strip >/dev/null; then strip --strip-all "$bin" 2>/dev/null || true; fi

# A binary that still needs the Swift runtime's shared libraries would fail on every real node
# ("libswiftCore.so: cannot open shared object file"): refuse to hand it out.
if command -v readelf >/dev/null && readelf -d "$bin" | grep -E 'NEEDED.*(libswift|libFoundation|libdispatch|libBlocksRuntime)' >&2; then
  echo "build-agent: $bin still links the Swift runtime dynamically (above); it would not start on a node without Swift" >&2
  exit 1
fi
version=$("$bin" --version) || { echo "build-agent: $bin --version failed" >&2; exit 1; }
size=$(stat -c %s "$bin")
echo "build-agent: agent $version, $((size / 1024)) KiB, built in $(( $(date +%s) - started )) s" >&2
# The stable name (`release` is SwiftPM's link to the triple's directory): what
# `coordinator agents install` looks for.
stable="$scratch/release/agent"
if [ "$stable" -ef "$bin" ]; then echo "$stable"; else echo "$bin"; fi
