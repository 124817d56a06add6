#!/usr/bin/env bash
# Builds the agent binary that `coordinator agents install` ships to worker nodes: a release build
# with the Swift runtime linked statically (--static-swift-stdlib), stripped, so it starts on a plain
# Debian/Ubuntu node that has no Swift toolchain. The agent links no full Foundation (only
# FoundationEssentials: no ICU data) and no libcurl (Docker is spoken over NIO), so what stays
# dynamic is what every such node has: glibc (libc, libm, ld.so), libstdc++ and libgcc_s.
# `coordinator agents install` checks on the node that each of them is there before it swaps the
# binary in.
#
# Optimised for size (-Osize: the agent is never CPU-bound; smaller code is less memory). Linked with lld: no exported dynamic symbols (--no-export-dynamic: a stripped static executable
# needs none) and packed relative relocations (-z pack-relative-relocs, glibc ≥ 2.36): the loader
# no longer reads 2.7 MB of relocations at every start, and they no longer sit in the idle agent's
# memory (BENCHMARKS.md, "Agent idle").
#
# It builds in its own scratch path (.build-agent/), so it never fights the debug build in .build/.
# Re-running is incremental. The LAST line of stdout is the binary's path (scripts read it with
# `tail -n 1`); everything else (swift build's output) goes to stderr.
#
#   bash scripts/build-agent.sh            # → .../.build-agent/release/agent
build_name=build-agent
# shellcheck source=scripts/static-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/static-build.sh"

scratch="$root/.build-agent"
# -Xlinker -s: the linker drops the symbol tables (the binary is stripped as it is linked).
# -Osize for Swift and -Os for the C code (two BoringSSL copies: swift-crypto's and swift-nio-ssl's), identical code
# folded (--icf=all): 27.9 -> 26.8 MB; every function in its own section (-function-sections for Swift,
# -ffunction-sections/-fdata-sections for C), so the linker's --gc-sections drops the unused functions of objects it
# keeps (most of both BoringSSL copies): 26.8 -> 23.8 MB. See BENCHMARKS.md.
flags=(-c release --product agent --static-swift-stdlib --scratch-path "$scratch"
       -Xswiftc -Osize -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -Os -Xcc -ffunction-sections -Xcc -fdata-sections
       -Xswiftc -use-ld=lld -Xlinker -s -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs
       -Xlinker --icf=all)
echo "build-agent: swift build ${flags[*]}" >&2
swift build "${flags[@]}" >&2
bin=$(swift build "${flags[@]}" --show-bin-path)/agent
[ -x "$bin" ] || { echo "build-agent: swift build succeeded but $bin is missing" >&2; exit 1; }

# Belt and braces: strip whatever the linker kept (a no-op when -s already did it).
if command -v strip >/dev/null; then strip --strip-all "$bin" 2>/dev/null || true; fi

# A binary that still needs the Swift runtime's shared libraries would fail on every real node
# ("libswiftCore.so: cannot open shared object file"): refuse to hand it out.
if command -v readelf >/dev/null && readelf -d "$bin" | grep -E 'NEEDED.*(libswift|libFoundation|libdispatch|libBlocksRuntime)' >&2; then
  echo "build-agent: $bin still links the Swift runtime dynamically (above); it would not start on a node without Swift" >&2
  exit 1
fi
# The agent speaks to Docker over NIO: libcurl (and the second TLS stack behind it) must not come back.
if command -v readelf >/dev/null && readelf -d "$bin" | grep -E 'NEEDED.*libcurl' >&2; then
  echo "build-agent: $bin links libcurl (above); the agent's Docker client is DockerEngine's NIO transport — find the module that imports CurlHTTP or FoundationNetworking" >&2
  exit 1
fi
version=$("$bin" --version) || { echo "build-agent: $bin --version failed" >&2; exit 1; }
size=$(stat -c %s "$bin")
echo "build-agent: agent $version, $((size / 1024)) KiB, built in $(( $(date +%s) - started )) s" >&2
# The stable name (`release` is SwiftPM's link to the triple's directory): what
# `coordinator agents install` looks for.
stable="$scratch/release/agent"
if [ "$stable" -ef "$bin" ]; then echo "$stable"; else echo "$bin"; fi
