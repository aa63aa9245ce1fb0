/** vhost-user (OVS-DPDK `dpdkvhostuserclient`) attachments: socket directories, port description, OVS state. */
export { DpdkError, type DpdkErrorCode } from './errors.js';
export {
  DEFAULT_VHOST_SOCKET_BASE,
  MAX_SOCKET_PATH_BYTES,
  OWNER_FILE,
  SUN_PATH_SIZE,
  assertSocketPathFits,
  ensureVhostSocketDir,
  listOrphanVhostSocketDirs,
  removeVhostSocketDir,
  vhostSocketDirName,
  vhostSocketLocation,
  type OrphanSocketDir,
  type VhostAttachment,
  type VhostSocketDirOptions,
  type VhostSocketLocation,
} from './socket-dir.js';
export {
  MAX_TX_RETRIES,
  VHOST_USER_CLIENT_TYPE,
  vhostUserPortSpec,
  vsctlInterfaceSettings,
  type VhostUserPortInput,
  type VhostUserPortSpec,
} from './port.js';
export {
  assertVhostUserBridge,
  dpdkSupportProblem,
  interpretVhostUserInterface,
  type BridgeObservation,
  type InterfaceObservation,
  type OvsDpdkCapabilities,
  type VhostUserPortPhase,
  type VhostUserPortState,
} from './state.js';
