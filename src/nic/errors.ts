/**
 * ovnic's plugin-specific CNI error codes (the spec reserves 0-99; 100+ belong to the plugin),
 * and the mapping of lower-layer failures to CNI errors.
 */
import { CniError, CniErrorCode } from '../cni/errors.js';
import { OvsdbDisconnectedError, OvsdbTimeoutError, OvsdbUsageError } from '../ovs/index.js';
import { isNetlinkError } from '../netlink/errors.js';

export const OvnicErrorCode = {
  /** Something with the attachment's name is already there: CNI_IFNAME in the netns, the host link, an OVS port of another owner. */
  Conflict: 100,
  /** CHECK found the attachment different from what ADD made. */
  CheckFailed: 101,
  /** GC could not remove everything; details list each failure. */
  GcIncomplete: 102,
} as const;

export function conflict(msg: string, details = ''): CniError {
  return new CniError(OvnicErrorCode.Conflict, msg, details);
}

/** An OVSDB connection failure as "try again later" (11), naming the remote. */
export function ovsdbUnavailable(remote: string, err: unknown): CniError {
  if (err instanceof OvsdbUsageError) {
    return new CniError(CniErrorCode.InvalidNetworkConfig, `invalid network config: "ovsdb" remote ${remote} is not supported`, (err as Error).message);
  }
  return new CniError(CniErrorCode.TryAgainLater, `OVSDB at ${remote} is not reachable`, (err as Error).message);
}

/** Connection lost or timed out mid-operation: worth retrying. */
export function isOvsdbTransient(err: unknown): boolean {
  return err instanceof OvsdbDisconnectedError || err instanceof OvsdbTimeoutError;
}

/** Opening CNI_NETNS failed: code 8 (invalid netns) for a missing path or a file that is not a netns. */
export function invalidNetns(path: string, err: unknown): CniError {
  if (isNetlinkError(err, 'ENOENT', 'EINVAL', 'ENOTDIR', 'EACCES')) {
    return new CniError(CniErrorCode.InvalidNetns, `failed to open netns "${path}"`, (err as Error).message);
  }
  return new CniError(CniErrorCode.Internal, `failed to open netns "${path}"`, (err as Error).message);
}
