/**
 * rtnetlink sockets bound to a network namespace, and the one wrapper through which every
 * request goes (timeout, typed errors).
 */
import rtlib from 'netlink/dist/rt/rt.js';
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js';
import { toNetlinkError } from './errors.js';
import { inNetns, type Netns } from './netns.js';

export type { RtNetlinkSocket };

/** The kernel answers rtnetlink at once; this only guards against a lost reply. */
export const REQUEST_TIMEOUT_MS = 5000;
/** Request options every call passes. */
export const WAIT = { timeout: REQUEST_TIMEOUT_MS } as const;

/** NLM_F_* request flags. */
export const NLM_F = { REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800 } as const;

/**
 * An rtnetlink socket in `netns` (own netns when undefined). The socket is created while the
 * thread is switched into the namespace and stays bound to it for its whole life. It does not
 * keep the event loop alive while idle.
 */
export function openSocket(netns?: Netns): RtNetlinkSocket {
  return inNetns(netns, () => rtlib.createRtNetlink());
}

/** Runs one request; any failure becomes a NetlinkError naming `operation`. */
export async function request<T>(operation: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw toNetlinkError(error, operation);
  }
}
