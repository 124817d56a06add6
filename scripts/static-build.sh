# Sourced by scripts/build-agent.sh, build-crypto.sh and build-coordinator.sh (with `build_name` set): the start they
# share — strict mode, the repository root as working directory, the toolchain on PATH, the start time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "$build_name: swift not found (expected under /opt/swift/usr/bin)" >&2; exit 1; }
started=$(date +%s)
