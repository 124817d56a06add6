#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests against real dockerd, dnsmasq, sshd,
# network namespaces and TLS (they need root). Installs what it needs first (idempotent).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
export PATH=/opt/swift/usr/bin:$PATH
log=$(mktemp /tmp/bok-build.XXXXXX.log)
echo "== swift build --build-tests (log: $log)"
swift build --build-tests >"$log" 2>&1
build=$?
grep -E "(error|warning):" "$log" | sort -u | head -50
if [ "$build" -ne 0 ]; then tail -40 "$log"; echo "build failed"; exit "$build"; fi
echo "== swift test"
# No --parallel: XCTest's closing summary line must stay intact for CI.
swift test 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] '
exit "${PIPESTATUS[0]}"
