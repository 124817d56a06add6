#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests against real dockerd, dnsmasq, sshd,
# network namespaces and TLS (they need root). Installs what it needs first (idempotent).
#
#   scripts/test.sh                      every tier (what CI runs)
#   scripts/test.sh --tier unit          no root, no system daemons: pure logic, in-process servers on loopback,
#                                        BoK's own executables
#   scripts/test.sh --tier integration   real sshd, dnsmasq, dockerd, network namespaces, systemd-nspawn, Fabric:
#                                        the test classes named *IntegrationTests and *LabTests
# The tiers are test-class name suffixes, so `swift test --filter '(Integration|Lab)Tests'` and
# `swift test --skip '(Integration|Lab)Tests'` select them directly too.
set -uo pipefail
cd "$(dirname "$0")/.."
tier=all
while [ $# -gt 0 ]; do
    case "$1" in
        --tier) tier="${2:-}"; shift 2 ;;
        --tier=*) tier="${1#--tier=}"; shift ;;
        *) echo "scripts/test.sh: unknown argument '$1' (use --tier unit|integration|all)" >&2; exit 2 ;;
    esac
done
integration='(Integration|Lab)Tests'
case "$tier" in
    all) select=() ;;
    unit) select=(--skip "$integration") ;;
    integration) select=(--filter "$integration") ;;
    *) echo "scripts/test.sh: --tier must be unit, integration or all, got '$tier'" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh || exit 1
export PATH=/opt/swift/usr/bin:$PATH
echo "== swift format lint (the code must be formatted: .swift-format)"
if ! swift format lint --strict --recursive --parallel Sources Tests Package.swift; then
    echo "unformatted code: run 'swift format -i -r -p Sources Tests Package.swift' and commit the result" >&2
    exit 1
fi
log=$(mktemp /tmp/bok-build.XXXXXX.log)
echo "== swift build --build-tests (log: $log)"
swift build --build-tests >"$log" 2>&1
build=$?
grep -E "(error|warning):" "$log" | sort -u | head -50
if [ "$build" -ne 0 ]; then tail -40 "$log"; echo "build failed"; exit "$build"; fi
echo "== swift test (tier: $tier)"
# No --parallel: XCTest's closing summary line must stay intact for CI.
start=$(date +%s)
swift test --skip-build "${select[@]}" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] '
status=${PIPESTATUS[0]}
echo "== tier $tier took $(($(date +%s) - start)) s"
exit "$status"
