/**
 * rtnetlink sockets bound to a network namespace, and the one wrapper through which every
 * request goes (timeout, typed errors).
 */
import { createRequire } from 'node:module';
import type * as RtModule from 'netlink/dist/rt/rt.js';
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js';
import type * as RtStructsModule from 'netlink/dist/rt/structs.js';
import { toNetlinkError } from './errors.js';
import { inNetns, type Netns } from './netns.js';

export type { RtNetlinkSocket };

// Loaded with require, on first use, and only the rtnetlink part: an ESM import of these CJS
// files costs ~60 ms of export scanning at startup, require ~10 ms; nl80211/genl/wg are skipped.
const load = createRequire(import.meta.url);
let rtModule: typeof RtModule | undefined;
let rtStructsModule: typeof RtStructsModule | undefined;

function rtlib(): typeof RtModule {
  rtModule ??= load('netlink/dist/rt/rt.js') as typeof RtModule;
  return rtModule;
}

/** The `netlink` package's rtnetlink struct definitions (enums such as RouteProtocol). */
export function rtStructs(): typeof RtStructsModule {
  rtStructsModule ??= load('netlink/dist/rt/structs.js') as typeof RtStructsModule;
  return rtStructsModule;
}

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
  const lib = rtlib();
  return inNetns(netns, () => lib.createRtNetlink());
}

/** Runs one request; any failure becomes a NetlinkError naming `operation`. */
export async function request<T>(operation: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw toNetlinkError(error, operation);
  }
}
