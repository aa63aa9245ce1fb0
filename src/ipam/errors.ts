/**
 * Every IPAM failure is an IpamError with a machine-readable `reason` (usable as a Kubernetes
 * condition reason as is) and a message a human can act on.
 */
export type IpamErrorReason =
  /** Malformed input: an IP, CIDR, MAC or request string that does not parse. */
  | 'InvalidInput'
  /** The Subnet definition itself is unusable (bad cidrBlock, gateway outside, ...). */
  | 'InvalidSubnet'
  | 'UnknownSubnet'
  /** An address of a family the subnet does not have (IPv6 in an IPv4-only subnet). */
  | 'FamilyNotInSubnet'
  /** Outside the subnet's CIDR. */
  | 'OutOfRange'
  /** Inside the CIDR but never assignable: IPv4 network/broadcast, IPv6 subnet-router anycast or last address. */
  | 'NotAssignable'
  | 'IsGateway'
  | 'Excluded'
  /** Held by another owner (`detail.holder`). */
  | 'InUse'
  /** No free address (or MAC) left. */
  | 'Exhausted'
  /** A release naming an owner that does not hold the address. */
  | 'NotOwner';

export interface IpamErrorDetail {
  readonly subnet?: string;
  readonly ip?: string;
  readonly mac?: string;
  /** Owner on whose behalf the operation ran. */
  readonly owner?: string;
  /** Current holder, for InUse and NotOwner. */
  readonly holder?: string;
}

export class IpamError extends Error {
  override readonly name = 'IpamError';
  constructor(
    readonly reason: IpamErrorReason,
    message: string,
    readonly detail: IpamErrorDetail = {},
  ) {
    super(message);
  }
}

export function isIpamError(err: unknown, reason?: IpamErrorReason): err is IpamError {
  return err instanceof IpamError && (reason === undefined || err.reason === reason);
}

export function invalidInput(message: string, detail: IpamErrorDetail = {}): IpamError {
  return new IpamError('InvalidInput', message, detail);
}
