/**
 * CNI error results (spec section 5 "Error"): a plugin that fails prints
 * `{cniVersion, code, msg, details}` on stdout and exits non-zero.
 */

/** Well-known codes (0-99 are reserved by the spec; 100+ are plugin specific). */
export const CniErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  /** libcni constant, not in the spec table: CNI_NETNS is the plugin's own netns. */
  InvalidNetns: 8,
  TryAgainLater: 11,
  NotAvailable: 50,
  NotAvailableLimitedConnectivity: 51,
  /** libcni's code for unexpected failures; used for anything that is not a CniError. */
  Internal: 999,
} as const;

export type CniErrorCodeValue = (typeof CniErrorCode)[keyof typeof CniErrorCode] | number;

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details: string;

  constructor(code: CniErrorCodeValue, msg: string, details = '', options?: { cause?: unknown }) {
    super(details ? `${msg}: ${details}` : msg, options);
    this.name = 'CniError';
    this.code = code;
    this.msg = msg;
    this.details = details;
  }

  toJson(cniVersion: string): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.code, msg: this.msg };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Any thrown value as a CniError: CniErrors pass through, everything else becomes code 999. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(CniErrorCode.Internal, err.message, '', { cause: err });
  return new CniError(CniErrorCode.Internal, String(err));
}

export const invalidConfig = (msg: string, details = ''): CniError =>
  new CniError(CniErrorCode.InvalidNetworkConfig, msg, details);

export const invalidEnv = (msg: string, details = ''): CniError =>
  new CniError(CniErrorCode.InvalidEnvironment, msg, details);
