/**
 * The logical switch port of a NicPort: what it should look like, how the current row differs, and the
 * NB operations that converge it (none when nothing differs). Only what ovnic owns is compared:
 * `addresses`, `port_security`, `type` and ovnic's external_ids keys; other columns and other
 * external_ids keys (added by other tools) are left alone.
 */
import { nbOps, namedUuid, type Operation } from '../ovs/index.js';
import { canonicalIp, tryParseIp } from '../ipam/ip.js';
import { isValidMac, normalizeMac } from '../ipam/mac.js';
import { EXT_LS, EXT_OWNER, EXT_VENDOR, VENDOR } from './constants.js';
import type { Ls, Lsp } from './nb-state.js';

export interface DesiredPort {
  name: string;
  /** Logical switch name (= Kube-OVN Subnet name). */
  switchName: string;
  addresses: string[];
  portSecurity: string[];
  externalIds: Record<string, string>;
}

export function desiredPort(owner: string, name: string, switchName: string, mac: string, ips: readonly string[]): DesiredPort {
  const entry = [mac, ...ips].join(' ');
  return {
    name,
    switchName,
    addresses: [entry],
    portSecurity: [entry],
    externalIds: { [EXT_VENDOR]: VENDOR, [EXT_OWNER]: owner, [EXT_LS]: switchName },
  };
}

export type PortDrift = 'missing' | 'switch' | 'addresses' | 'port_security' | 'type' | 'external_ids';

/** Canonical form of an `addresses`/`port_security` entry, so "MAC v6 v4" equals "mac v4 v6". */
function canonicalEntry(entry: string): string {
  const tokens = entry.trim().split(/\s+/).filter((t) => t !== '');
  const [first, ...rest] = tokens;
  if (first === undefined) return '';
  const mac = isValidMac(first) ? normalizeMac(first) : first;
  const ips = rest.map((t) => (tryParseIp(t) ? canonicalIp(t) : t)).sort();
  return [mac, ...ips].join(' ');
}

function sameEntries(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const ca = a.map(canonicalEntry).sort();
  const cb = b.map(canonicalEntry).sort();
  return ca.every((v, i) => v === cb[i]);
}

export function portDrift(want: DesiredPort, lsp: Lsp | undefined, ls: Ls | undefined): PortDrift[] {
  if (!lsp) return ['missing'];
  const out: PortDrift[] = [];
  if (!ls || ls.name !== want.switchName) out.push('switch');
  if (!sameEntries(lsp.addresses, want.addresses)) out.push('addresses');
  if (!sameEntries(lsp.port_security, want.portSecurity)) out.push('port_security');
  if (lsp.type !== '') out.push('type');
  for (const [k, v] of Object.entries(want.externalIds)) {
    if (lsp.external_ids[k] !== v) {
      out.push('external_ids');
      break;
    }
  }
  return out;
}

export interface PortPlan {
  drift: PortDrift[];
  ops: Operation<unknown>[];
}

/**
 * Operations converging `lsp` (on `currentLs`) to `want` on switch `targetLs`. A missing port is
 * inserted and added to the switch; a port on another switch is moved; differing columns are set.
 */
export function planPort(
  want: DesiredPort,
  lsp: Lsp | undefined,
  currentLs: Ls | undefined,
  targetLs: Ls,
  uuidName: () => string,
): PortPlan {
  const drift = portDrift(want, lsp, currentLs);
  if (drift.length === 0) return { drift, ops: [] };
  if (!lsp) {
    const row = uuidName();
    return {
      drift,
      ops: [
        nbOps.insert('Logical_Switch_Port', {
          name: want.name,
          addresses: want.addresses,
          port_security: want.portSecurity,
          external_ids: want.externalIds,
        }, row),
        nbOps.mutate('Logical_Switch', [['_uuid', '==', targetLs._uuid]], [['ports', 'insert', [namedUuid(row)]]]),
      ],
    };
  }
  const where: [['_uuid', '==', string]] = [['_uuid', '==', lsp._uuid]];
  const ops: Operation<unknown>[] = [];
  const columns: { addresses?: string[]; port_security?: string[]; type?: string } = {};
  if (drift.includes('addresses')) columns.addresses = want.addresses;
  if (drift.includes('port_security')) columns.port_security = want.portSecurity;
  if (drift.includes('type')) columns.type = '';
  if (Object.keys(columns).length > 0) ops.push(nbOps.update('Logical_Switch_Port', where, columns));
  if (drift.includes('external_ids')) {
    ops.push(nbOps.mutate('Logical_Switch_Port', where, [
      ['external_ids', 'delete', Object.keys(want.externalIds)],
      ['external_ids', 'insert', want.externalIds],
    ]));
  }
  if (drift.includes('switch')) {
    if (currentLs) ops.push(nbOps.mutate('Logical_Switch', [['_uuid', '==', currentLs._uuid]], [['ports', 'delete', [lsp._uuid]]]));
    ops.push(nbOps.mutate('Logical_Switch', [['_uuid', '==', targetLs._uuid]], [['ports', 'insert', [lsp._uuid]]]));
  }
  return { drift, ops };
}

/** Removes a port: taking it off its switch deletes it (Logical_Switch_Port is not a root table). */
export function deletePortOps(lsp: Lsp, ls: Ls | undefined): Operation<unknown>[] {
  if (ls) return [nbOps.mutate('Logical_Switch', [['_uuid', '==', ls._uuid]], [['ports', 'delete', [lsp._uuid]]])];
  // Not referenced by any switch we know of: an explicit delete is then allowed.
  return [nbOps.delete('Logical_Switch_Port', [['_uuid', '==', lsp._uuid]])];
}
