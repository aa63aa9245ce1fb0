/** Reading client-node 1.4 ApiException errors in tests: `code` plus the Status body (sent as a string). */
import { ApiException } from '@kubernetes/client-node';
import type { StatusBody } from './status.js';

export interface CaughtStatus {
  code: number;
  status: StatusBody | undefined;
}

/** The code and parsed Status of an ApiException; rethrows anything else. */
export function statusOf(err: unknown): CaughtStatus {
  if (!(err instanceof ApiException)) throw err;
  const raw: unknown = err.body;
  let status: StatusBody | undefined;
  try {
    const parsed: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
    if (typeof parsed === 'object' && parsed !== null && (parsed as { kind?: unknown }).kind === 'Status') status = parsed as StatusBody;
  } catch {
    status = undefined;
  }
  return { code: err.code, status };
}

/** Awaits `promise`, expecting it to fail with an ApiException; returns its code and Status. */
export async function caughtStatus(promise: Promise<unknown>): Promise<CaughtStatus> {
  try {
    await promise;
  } catch (err) {
    return statusOf(err);
  }
  throw new Error('expected the request to fail with an ApiException, but it succeeded');
}
