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
  debootstrap systemd-container golang-go
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
# The reference parser of Prometheus' text format: MetricsWatchTests check the agent's /metrics with it.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  echo "install-deps: installing prometheus_client from PyPI"
  python3 -m pip install -q prometheus_client
fi
export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "install-deps: swift not found at /opt/swift/usr/bin" >&2; exit 1; }
echo "install-deps: ok"

# --- Fabric release (issue 10): unpack ../shared/fabric into the cache, as FabricRelease does ---
# The cache entry is named by the sha256 of the manifest (`sha256sum` of the release tarballs and of
# every file under chaincode/, in byte order of their paths), so FabricRelease finds the same entry;
# `current` points at it. Nothing is downloaded. Idempotent: an existing complete entry is kept.
bok_shared_fabric="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/fabric"
if [ -d "$bok_shared_fabric" ]; then
  bok_fabric_cache="${BOK_CACHE_DIR:-/var/cache/bok}/fabric"
  bok_fabric_tar=$(cd "$bok_shared_fabric" && ls -1 hyperledger-fabric-linux-amd64-*.tar.gz 2>/dev/null | sort -V -r | head -n 1 || true)
  bok_ca_tar=$(cd "$bok_shared_fabric" && ls -1 hyperledger-fabric-ca-linux-amd64-*.tar.gz 2>/dev/null | sort -V -r | head -n 1 || true)
  if [ -z "$bok_fabric_tar" ]; then
    echo "install-deps: $bok_shared_fabric holds no hyperledger-fabric-linux-amd64-*.tar.gz; skipping the Fabric release (pass --fabric-release to the coordinator instead)" >&2
  else
    bok_fabric_key=$(cd "$bok_shared_fabric" && { printf '%s\n' "$bok_fabric_tar" ${bok_ca_tar:+"$bok_ca_tar"}; if [ -d chaincode ]; then find chaincode -type f; fi; } \
      | LC_ALL=C sort | tr '\n' '\0' | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
    bok_fabric_dest="$bok_fabric_cache/$bok_fabric_key"
    if [ ! -f "$bok_fabric_dest/.bok-release" ]; then
      echo "install-deps: unpacking $bok_fabric_tar${bok_ca_tar:+ and $bok_ca_tar} from $bok_shared_fabric into $bok_fabric_dest"
      mkdir -p "$bok_fabric_cache"
      bok_partial="$bok_fabric_cache/.partial-$$"
      rm -rf "$bok_partial" && mkdir -p "$bok_partial"
      tar -xzf "$bok_shared_fabric/$bok_fabric_tar" -C "$bok_partial" --no-same-owner -m
      [ -z "$bok_ca_tar" ] || tar -xzf "$bok_shared_fabric/$bok_ca_tar" -C "$bok_partial" --no-same-owner -m
      if [ -d "$bok_shared_fabric/chaincode" ]; then
        cp -R "$bok_shared_fabric/chaincode" "$bok_partial/chaincode" && chmod -R u+w "$bok_partial/chaincode"
      fi
      for b in peer orderer osnadmin configtxgen; do
        [ -x "$bok_partial/bin/$b" ] || { echo "install-deps: $bok_fabric_tar has no executable bin/$b; replace it with the hyperledger-fabric-linux-amd64-2.5.x.tar.gz release" >&2; rm -rf "$bok_partial"; exit 1; }
      done
      for c in core.yaml orderer.yaml; do
        [ -f "$bok_partial/config/$c" ] || { echo "install-deps: $bok_fabric_tar has no config/$c; replace it with the hyperledger-fabric-linux-amd64-2.5.x.tar.gz release" >&2; rm -rf "$bok_partial"; exit 1; }
      done
      printf 'source: %s\nfabric: %s\nfabric-ca: %s\nmanifest-sha256: %s\n' "$bok_shared_fabric" "$bok_fabric_tar" "${bok_ca_tar:-none}" "$bok_fabric_key" > "$bok_partial/.bok-release"
      if ! mv -T "$bok_partial" "$bok_fabric_dest" 2>/dev/null; then
        rm -rf "$bok_partial"  # another installer got there first
      fi
    fi
    ln -sfn "$bok_fabric_key" "$bok_fabric_cache/.current-$$" && mv -T "$bok_fabric_cache/.current-$$" "$bok_fabric_cache/current"
    echo "install-deps: Fabric release $("$bok_fabric_dest/bin/peer" version 2>/dev/null | sed -n 's/^ *Version: *//p') in $bok_fabric_dest ($bok_fabric_cache/current)"
  fi
fi
