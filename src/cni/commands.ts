/**
 * The ovnic CNI operations, dispatched by skel.ts.
 *
 * Placeholder: every operation answers code 50 "not implemented" until the NIC/OVS
 * implementations land here. Contract for the implementations:
 *  - add: create the NIC for ctx.identity (ctx.env.ifname in ctx.env.netns), bind it to OVS with
 *    buildExternalIds() from ownership.ts, allocate through ctx.ipam()?.addWithRollback(),
 *    undo everything on failure, and return the full result (appendResult(ctx.conf.prevResult, own)
 *    when a prevResult was given).
 *  - del: idempotent, a pure function of (ctx.env.containerId, ctx.env.ifname) found in OVSDB
 *    external_ids; ctx.env.netns may be '' or gone; always forwards DEL to ctx.ipam().
 *  - check: verify against ctx.conf.prevResult; forward CHECK to ctx.ipam().
 *  - gc: remove ovnic ports of network ctx.conf.name not in ctx.conf.validAttachments (see
 *    isStale()), continue past errors, report them all; forward GC to ctx.ipam().
 *  - status: 50/51 when OVSDB is unreachable or the bridge is missing; forward STATUS to ctx.ipam().
 * Heavy or native modules (netlink, OVSDB client) must be loaded with `await import()` inside
 * the handlers so VERSION and rejected requests stay fast.
 */
import { CniError, CniErrorCode } from './errors.js';
import type { CniHandlers } from './skel.js';

const notImplemented = (op: string): Promise<never> =>
  Promise.reject(new CniError(CniErrorCode.NotAvailable, 'not implemented', `ovnic ${op} is not available in this build`));

export const handlers: CniHandlers = {
  add: () => notImplemented('ADD'),
  del: () => notImplemented('DEL'),
  check: () => notImplemented('CHECK'),
  gc: () => notImplemented('GC'),
  status: () => notImplemented('STATUS'),
};
