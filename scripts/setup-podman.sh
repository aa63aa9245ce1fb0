#!/usr/bin/env bash
# Installs what the opt-in podman test (npm run test:podman) needs on Debian 12 and prepares a
# PRIVATE podman configuration; /etc/containers and /etc/cni/net.d are never changed:
#   - podman 4.3 (CNI network backend: netavark is not installed), runc, the reference CNI plugins
#     (host-local IPAM) and busybox-static;
#   - $OVNIC_PODMAN_DIR/containers.conf, used with `CONTAINERS_CONF=<that file> podman ...`: the
#     CNI backend, a private network_config_dir ($OVNIC_PODMAN_DIR/net.d), cni_plugin_dirs with the
#     repository's bin/ (bin/ovnic) before /usr/lib/cni, and two workarounds for sandboxes without
#     CAP_SYS_RESOURCE or with a cgroup v1/v2 hybrid layout (rlimits below the hard limits; runc,
#     since crun refuses hybrid cgroups);
#   - the image localhost/bb: busybox-static as a one-binary root filesystem (no registry needed).
# Idempotent. test/harness/podman.ts writes its own containers.conf per test run with the same
# settings and a temporary network_config_dir.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

PODMAN_DIR="${OVNIC_PODMAN_DIR:-/var/lib/ovnic-podman}"
IMAGE=localhost/bb

DEBS=(podman runc containernetworking-plugins busybox-static)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
fi

# Hard limits podman may ask for: its rootful default (1048576) fails with EPERM where the
# process lacks CAP_SYS_RESOURCE; podman also clamps its own nproc to kernel.pid_max.
nofile="$(ulimit -Hn)"
[ "$nofile" = unlimited ] && nofile=1048576
nproc="$(cat /proc/sys/kernel/pid_max)"
hard_nproc="$(ulimit -Hu)"
[ "$hard_nproc" != unlimited ] && [ "$hard_nproc" -lt "$nproc" ] && nproc="$hard_nproc"

mkdir -p "$PODMAN_DIR/net.d"
cat > "$PODMAN_DIR/containers.conf" <<EOF
# Written by scripts/setup-podman.sh. Use: CONTAINERS_CONF=$PODMAN_DIR/containers.conf podman ...
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"

[network]
network_backend = "cni"
network_config_dir = "$PODMAN_DIR/net.d"
cni_plugin_dirs = ["$REPO/bin", "/usr/lib/cni"]
EOF

export CONTAINERS_CONF="$PODMAN_DIR/containers.conf"
if ! podman image exists "$IMAGE"; then
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,run,var,www}
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    # the list contains "busybox" itself: linking it would replace the binary with a loop
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  tar -C "$rootfs" -cf "$rootfs.tar" .
  podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$rootfs.tar" "$IMAGE" >/dev/null
  rm -f "$rootfs.tar"
fi

echo "podman $(podman version --format '{{.Client.Version}}'), network backend $(podman info --format '{{.Host.NetworkBackend}}'), image $IMAGE ready"
echo "CONTAINERS_CONF=$PODMAN_DIR/containers.conf"
