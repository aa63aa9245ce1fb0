#!/usr/bin/env bash
# Installs everything ovnic's build, tests and sandbox need on a fresh Debian 12 machine, then builds.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(openvswitch-switch openvswitch-common ovn-central ovn-host ovn-common
      iproute2 ethtool iputils-ping tcpdump netcat-openbsd containernetworking-plugins
      kmod procps python3 gcc make)
# kubectl for the deploy/ dry-run tests; Debian's would clash with a kubectl already installed
command -v kubectl >/dev/null || DEBS+=(kubernetes-client)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Packaged daemons must never start on their own: the test bed runs private copies.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Stop any system-wide copy a package may have started anyway.
for svc in ovn-central ovn-host openvswitch-switch; do
  [ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
