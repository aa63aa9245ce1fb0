#!/usr/bin/env bash
# Installs what the OVS-DPDK (vhost-user) tests need on Debian 12, without hugepages or NICs:
#   - Debian's DPDK build of ovs-vswitchd and the DPDK drivers for vdev/virtio_user/vhost;
#   - dpdk-testpmd (the vhost-user server peer standing in for a VM). It only ships in dpdk-dev,
#     whose dependencies pull ~200 packages and upgrade systemd, so the binary and the few runtime
#     libraries it lacks are unpacked (dpkg-deb -x) into a private directory instead of installed.
# Idempotent. Prints the environment under which dpdk-testpmd runs and writes it to
# $OVNIC_DPDK_TOOLS_DIR/testpmd.env (sourceable), which test/harness/testpmd.ts reads.
set -euo pipefail

TOOLS_DIR="${OVNIC_DPDK_TOOLS_DIR:-/var/cache/ovnic-dpdk}"
ROOT="$TOOLS_DIR/testpmd"
ENV_FILE="$TOOLS_DIR/testpmd.env"
ARCH_LIB="usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"

DEBS=(openvswitch-switch-dpdk dpdk librte-mempool-ring23 librte-net-virtio23 librte-net-vhost23
      librte-bus-vdev23)
# Libraries dpdk-testpmd links against that the packages above do not bring (found with ldd on the
# unpacked binary). DPDK libraries are taken at exactly the version of the installed librte-eal23.
TESTPMD_RTE_DEBS=(dpdk-dev librte-cmdline23 librte-crypto-scheduler23 librte-reorder23
      librte-bitratestats23 librte-metrics23 librte-bpf23 librte-gro23 librte-gso23
      librte-latencystats23 librte-pdump23 librte-pcapng23 librte-net-bnxt23 librte-net-i40e23
      librte-net-ixgbe23 librte-security23 librte-bus-dpaa23 librte-common-dpaax23 librte-eventdev23
      librte-timer23 librte-mempool-dpaa23 librte-net-dpaa23 librte-net-bond23 librte-sched23
      librte-ip-frag23 librte-net-ice23 librte-common-iavf23 librte-net-mlx5-23 librte-common-mlx5-23
      librte-bus-auxiliary23)
TESTPMD_OTHER_DEBS=(libibverbs1 ibverbs-providers libnl-3-200 libnl-route-3-200)

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
}

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Packaged daemons must never start on their own: the tests run private copies.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ -x /etc/init.d/openvswitch-switch ] && /etc/init.d/openvswitch-switch stop >/dev/null 2>&1 || true
fi

RTE_VERSION="$(dpkg-query -W -f='${Version}' librte-eal23)"
LD_PATH="$ROOT/$ARCH_LIB:$ROOT/lib/${ARCH_LIB#usr/lib/}"
TESTPMD="$ROOT/usr/bin/dpdk-testpmd"

download_testpmd_debs() {
  local pinned=() p
  for p in "${TESTPMD_RTE_DEBS[@]}"; do pinned+=("$p=$RTE_VERSION"); done
  rm -f "$TOOLS_DIR"/debs/*.deb
  (cd "$TOOLS_DIR/debs" && apt-get download -qq -o APT::Sandbox::User=root \
      "${pinned[@]}" "${TESTPMD_OTHER_DEBS[@]}")
}

unresolved() {
  LD_LIBRARY_PATH="$LD_PATH" ldd "$TESTPMD" | awk '/not found/ { print $1 }'
}

if [ ! -x "$TESTPMD" ] || [ "$(cat "$ROOT/.version" 2>/dev/null)" != "$RTE_VERSION" ] || [ -n "$(unresolved)" ]; then
  rm -rf "$ROOT" "$TOOLS_DIR/debs"
  mkdir -p "$TOOLS_DIR/debs" "$ROOT"
  apt_update_once
  if ! download_testpmd_debs; then
    # The archive no longer has the installed DPDK version: move the installed runtime to the
    # archive's version so dpdk-testpmd and the librte libraries match again.
    mapfile -t installed_rte < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'librte-*' | awk '$1 == "ii" { print $2 }')
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --only-upgrade \
      "${installed_rte[@]}" "${DEBS[@]}"
    RTE_VERSION="$(dpkg-query -W -f='${Version}' librte-eal23)"
    download_testpmd_debs
  fi
  for deb in "$TOOLS_DIR"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  rm -rf "$TOOLS_DIR/debs"
  left="$(unresolved)"
  if [ -n "$left" ]; then
    echo "setup-dpdk: dpdk-testpmd still lacks libraries: $(echo "$left" | tr '\n' ' ')" >&2
    exit 1
  fi
  echo "$RTE_VERSION" > "$ROOT/.version"
fi

cat > "$ENV_FILE" <<EOF
OVNIC_TESTPMD=$TESTPMD
LD_LIBRARY_PATH=$LD_PATH
EOF
echo "dpdk-testpmd ready ($RTE_VERSION); run it with:"
echo "export OVNIC_TESTPMD=$TESTPMD"
echo "export LD_LIBRARY_PATH=$LD_PATH"
