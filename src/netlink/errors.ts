/**
 * Typed errors of the netlink layer. The kernel's answer is kept as `code` (errno name such as
 * EEXIST, ENODEV, EADDRNOTAVAIL) and `errno`, and the message says what was being done.
 */
import { constants } from 'node:os';

const ERRNO_BY_NAME = constants.errno as Record<string, number>;

export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';

  constructor(
    /** errno name, e.g. "EEXIST"; "ETIMEDOUT" when the kernel did not answer in time. */
    readonly code: string,
    /** positive errno value (0 when unknown). */
    readonly errno: number,
    /** what was attempted, e.g. `create veth "h1" (peer "eth0")`. */
    readonly operation: string,
    detail?: string,
  ) {
    super(`${operation}: ${detail ?? describeErrno(code)}`);
  }
}

/** True when `error` is a NetlinkError, optionally with one of the given codes. */
export function isNetlinkError(error: unknown, ...codes: string[]): error is NetlinkError {
  return error instanceof NetlinkError && (codes.length === 0 || codes.includes(error.code));
}

const DESCRIPTIONS: Record<string, string> = {
  EEXIST: 'already exists (EEXIST)',
  ENODEV: 'no such device (ENODEV)',
  ENOENT: 'not found (ENOENT)',
  ESRCH: 'no such route (ESRCH)',
  EADDRNOTAVAIL: 'address not assigned (EADDRNOTAVAIL)',
  EINVAL: 'invalid argument (EINVAL)',
  EOPNOTSUPP: 'operation not supported (EOPNOTSUPP)',
  ENETUNREACH: 'gateway unreachable: no route to it on that interface (ENETUNREACH)',
  EACCES: 'permission denied; for IPv6 this usually means disable_ipv6=1 on the interface (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  EBUSY: 'device or resource busy (EBUSY)',
  ERANGE: 'value out of range, e.g. MTU above the lower device or below the minimum (ERANGE)',
  ETIMEDOUT: 'no answer from the kernel (ETIMEDOUT)',
};

function describeErrno(code: string): string {
  return DESCRIPTIONS[code] ?? code;
}

const REJECTED = /^Request rejected: (-?\w+)$/;

/**
 * Converts what the `netlink` package throws (plain Errors such as "Request rejected: EEXIST"
 * or "Timeout has been reached", ErrnoExceptions from the socket) into a NetlinkError.
 */
export function toNetlinkError(error: unknown, operation: string): NetlinkError {
  if (error instanceof NetlinkError) return error;
  if (error instanceof Error) {
    const rejected = REJECTED.exec(error.message);
    if (rejected?.[1]) {
      const raw = rejected[1];
      const numeric = Number(raw);
      if (Number.isInteger(numeric)) return new NetlinkError(`E${Math.abs(numeric)}`, Math.abs(numeric), operation);
      return new NetlinkError(raw, ERRNO_BY_NAME[raw] ?? 0, operation);
    }
    if (error.message === 'Timeout has been reached') {
      return new NetlinkError('ETIMEDOUT', ERRNO_BY_NAME.ETIMEDOUT ?? 0, operation);
    }
    const errnoError = error as Error & { code?: unknown; errno?: unknown };
    if (typeof errnoError.code === 'string') {
      const errno = typeof errnoError.errno === 'number' ? Math.abs(errnoError.errno) : ERRNO_BY_NAME[errnoError.code] ?? 0;
      return new NetlinkError(errnoError.code, errno, operation, error.message);
    }
    return new NetlinkError('EUNKNOWN', 0, operation, error.message);
  }
  return new NetlinkError('EUNKNOWN', 0, operation, String(error));
}
