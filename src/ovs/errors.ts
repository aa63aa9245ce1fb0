/** Errors raised by the OVSDB client. All extend OvsdbError. */

export class OvsdbError extends Error {
  override name = 'OvsdbError';
}

/** The connection is closed or was lost; the request's outcome is unknown. */
export class OvsdbDisconnectedError extends OvsdbError {
  override name = 'OvsdbDisconnectedError';
}

export class OvsdbTimeoutError extends OvsdbError {
  override name = 'OvsdbTimeoutError';
}

/** The server answered a JSON-RPC request with a non-null `error`. */
export class OvsdbRpcError extends OvsdbError {
  override name = 'OvsdbRpcError';
  constructor(
    readonly method: string,
    readonly error: unknown,
  ) {
    super(`${method}: ${typeof error === 'string' ? error : JSON.stringify(error)}`);
  }
}

/**
 * One operation of a transaction failed (RFC 7047 §5.2). `index` is the operation's position;
 * `index === operations.length` means the commit itself failed (e.g. "constraint violation",
 * "referential integrity violation"), reported by the server after the last operation.
 */
export class OvsdbOperationError extends OvsdbError {
  override name = 'OvsdbOperationError';
  constructor(
    readonly db: string,
    readonly index: number,
    /** The failing operation's `op` (undefined for a commit error). */
    readonly op: string | undefined,
    readonly error: string,
    readonly details: string | undefined,
    readonly results: readonly unknown[],
  ) {
    super(
      `${db}: ${op === undefined ? 'commit' : `operation ${index} (${op})`} failed: ${error}` +
        (details ? `: ${details}` : ''),
    );
  }
}

/** The requested lock id or monitor id was refused by the client before sending. */
export class OvsdbUsageError extends OvsdbError {
  override name = 'OvsdbUsageError';
}
