#!/usr/bin/env bash
# What a Swift process costs in resident memory before any BoK code runs: trivial programs with
# and without Foundation, linked against the shared or the static Swift runtime. Each is started,
# left idle for 2 s, its /proc/PID/status read, and stopped by its PID.
#   scripts/rss-baseline.sh            (needs swiftc on PATH: export PATH=/opt/swift/usr/bin:$PATH)
set -euo pipefail
dir=$(mktemp -d /tmp/bok-rss-baseline.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

cat > plain.swift <<'EOF'
#if canImport(Glibc)
import Glibc
#endif
print("ready"); fflush(stdout)
sleep(30)
EOF
cat > essentials.swift <<'EOF'
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
print("ready \(Date().timeIntervalSince1970)"); fflush(stdout)
sleep(30)
EOF
cat > foundation.swift <<'EOF'
import Foundation
print("ready \(Date().timeIntervalSince1970) \(ProcessInfo.processInfo.hostName)"); fflush(stdout)
sleep(30)
EOF

measure() {
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 2
  awk -v name="$(basename "$1")" '
    /^VmRSS:/ {rss=$2} /^RssAnon:/ {anon=$2} /^RssFile:/ {file=$2}
    END {printf "%-40s %8.1f %9.1f %9.1f\n", name, rss/1024, anon/1024, file/1024}' "/proc/$pid/status"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

printf "%-40s %8s %9s %9s\n" "program" "RSS MiB" "anon MiB" "file MiB"
for p in plain essentials foundation; do
  swiftc -O "$p.swift" -o "$p (shared runtime)" 2>/dev/null
  swiftc -O -static-stdlib "$p.swift" -o "$p (-static-stdlib)" 2>/dev/null
  measure "./$p (shared runtime)"
  measure "./$p (-static-stdlib)"
done
