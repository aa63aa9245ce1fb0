#!/bin/sh
# Init container of the ovnic-node DaemonSet: installs the CNI executable into the host's CNI
# binary directory and the network configuration(s) into its configuration directory.
# Both are replaced atomically (copy to a temp name in the same directory, then rename), so a
# runtime executing the plugin meanwhile runs either the old or the new file, never a partial one.
set -eu

SRC_BIN="${OVNIC_CNI_EXECUTABLE:-/opt/ovnic/dist/ovnic-sea}"
BIN_DIR="${CNI_BIN_DIR:-/host/opt/cni/bin}"
SRC_CONF_DIR="${OVNIC_CNI_CONF_SRC:-/etc/ovnic/cni}"
CONF_DIR="${CNI_CONF_DIR:-/host/etc/cni/net.d}"
INSTALL_CONFLIST="${INSTALL_CNI_CONFLIST:-true}"

log() { echo "install-cni: $*" >&2; }

install_atomic() { # source target mode
  tmp="$(dirname "$2")/.$(basename "$2").tmp.$$"
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$2"
}

[ -f "$SRC_BIN" ] || { log "executable $SRC_BIN not found"; exit 1; }
mkdir -p "$BIN_DIR"
install_atomic "$SRC_BIN" "$BIN_DIR/ovnic" 0755
# Runs the installed file once: proves it starts on this host and unpacks its native parts
# (single executable) into /var/lib/ovnic/sea before the first CNI call needs them.
version="$("$BIN_DIR/ovnic" version)" || { log "installed $BIN_DIR/ovnic does not run"; exit 1; }
log "installed $BIN_DIR/ovnic: $version"

case "$INSTALL_CONFLIST" in
  true)
    mkdir -p "$CONF_DIR"
    found=0
    for conf in "$SRC_CONF_DIR"/*.conflist "$SRC_CONF_DIR"/*.conf; do
      [ -f "$conf" ] || continue
      found=1
      install_atomic "$conf" "$CONF_DIR/$(basename "$conf")" 0644
      log "installed $CONF_DIR/$(basename "$conf")"
    done
    [ "$found" = 1 ] || log "no configuration in $SRC_CONF_DIR"
    ;;
  false) log "INSTALL_CNI_CONFLIST=false: no network configuration written" ;;
  *) log "INSTALL_CNI_CONFLIST must be true or false, not \"$INSTALL_CONFLIST\""; exit 1 ;;
esac
