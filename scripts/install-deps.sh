#!/usr/bin/env bash
# Installs everything BoK's build, lab, tests and benchmarks need on a fresh Debian 12 machine.
# Idempotent: re-running it only installs what is missing.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (it installs Debian packages). Re-run with sudo." >&2
  exit 1
fi

packages=(
  libcurl4-openssl-dev libssh2-1-dev
  docker.io openssh-server openssh-client dnsmasq-base iproute2 iptables procps util-linux
  python3-pip openssl busybox-static
  debootstrap systemd-container
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # --no-install-recommends keeps the lab small; policy-rc.d stops Debian from starting services.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
fi

if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  echo "install-deps: installing kubernetes-validate from PyPI"
  python3 -m pip install -q kubernetes-validate
fi
export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "install-deps: swift not found at /opt/swift/usr/bin" >&2; exit 1; }
echo "install-deps: ok"
