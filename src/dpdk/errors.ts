/** Why a vhost-user attachment cannot be made; callers map `code` to a CNI error code. */
export type DpdkErrorCode =
  /** A name, path or option given by the caller is malformed. */
  | 'INVALID_ARGUMENT'
  /** The socket path does not fit in `sockaddr_un.sun_path`. */
  | 'SOCKET_PATH_TOO_LONG'
  /** The per-attachment socket directory is owned by another attachment or is not a directory. */
  | 'SOCKET_DIR_CONFLICT'
  /** ovs-vswitchd has no DPDK support (not a DPDK build, or DPDK not initialized). */
  | 'DPDK_UNSUPPORTED'
  /** The bridge is not on the userspace (netdev) datapath. */
  | 'BRIDGE_NOT_NETDEV'
  /** OVS reported an error for the vhost-user interface. */
  | 'PORT_FAILED';

export class DpdkError extends Error {
  override readonly name = 'DpdkError';

  constructor(
    readonly code: DpdkErrorCode,
    message: string,
  ) {
    super(message);
  }
}
