/**
 * Turning external holders of addresses into rebuild entries: Kube-OVN `IP` objects
 * (ips.kubeovn.io) and OVN NB logical switch port `addresses`.
 */
import { tryParseIp } from './ip.js';
import { isValidMac, normalizeMac } from './mac.js';
import { ownerKey } from './owner.js';
import type { RebuildEntry } from './registry.js';

export interface LspAddress {
  readonly mac: string;
  readonly ips: readonly string[];
}

/**
 * Parses one element of a Logical_Switch_Port `addresses` column: "MAC [IP...]". Keyword forms
 * ("router", "unknown", "dynamic") hold no fixed address and give undefined; so does garbage.
 * A "dynamic" keyword after the MAC is skipped.
 */
export function parseLspAddresses(entry: string): LspAddress | undefined {
  const tokens = entry.trim().split(/\s+/).filter((t) => t !== '');
  const first = tokens[0];
  if (first === undefined || !isValidMac(first)) return undefined;
  const ips: string[] = [];
  for (const token of tokens.slice(1)) {
    const ip = tryParseIp(token);
    if (ip) ips.push(token);
  }
  return { mac: normalizeMac(first), ips };
}

/** Rebuild entries for an LSP of `subnet`'s logical switch. */
export function rebuildEntriesFromLsp(
  lsp: { readonly name: string; readonly addresses: readonly string[] },
  subnet: string,
  owner: string = ownerKey.lsp(lsp.name),
  source = 'nb-lsp',
): RebuildEntry[] {
  const out: RebuildEntry[] = [];
  for (const entry of lsp.addresses) {
    const parsed = parseLspAddresses(entry);
    if (parsed) out.push({ owner, source, subnet, ips: parsed.ips, mac: parsed.mac });
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function splitIps(...texts: string[]): string[] {
  const out: string[] = [];
  for (const t of texts) {
    for (const part of t.split(',')) {
      const p = part.trim();
      if (p !== '' && !out.includes(p)) out.push(p);
    }
  }
  return out;
}

/**
 * Rebuild entries for a kubeovn.io/v1 IP object: its primary subnet (ipAddress, v4IpAddress,
 * v6IpAddress, macAddress) and each attachSubnets[i] with attachIps[i] / attachMacs[i].
 * Addresses are passed on as found; rebuild() rejects malformed ones with a reason.
 */
export function rebuildEntriesFromKubeOvnIp(obj: unknown, owner?: string, source = 'kube-ovn-ip'): RebuildEntry[] {
  if (!isRecord(obj) || !isRecord(obj.spec)) return [];
  const metadata = isRecord(obj.metadata) ? obj.metadata : {};
  const key = owner ?? ownerKey.kubeOvn(str(metadata.name));
  const spec = obj.spec;
  const out: RebuildEntry[] = [];
  const subnet = str(spec.subnet);
  const ips = splitIps(str(spec.ipAddress), str(spec.v4IpAddress), str(spec.v6IpAddress));
  const mac = str(spec.macAddress);
  if (subnet !== '' && (ips.length > 0 || mac !== '')) out.push({ owner: key, source, subnet, ips, ...(mac ? { mac } : {}) });
  const attachSubnets = Array.isArray(spec.attachSubnets) ? spec.attachSubnets : [];
  const attachIps = Array.isArray(spec.attachIps) ? spec.attachIps : [];
  const attachMacs = Array.isArray(spec.attachMacs) ? spec.attachMacs : [];
  attachSubnets.forEach((s, i) => {
    const name = str(s);
    const list = splitIps(str(attachIps[i]));
    const m = str(attachMacs[i]);
    if (name !== '' && (list.length > 0 || m !== '')) out.push({ owner: key, source, subnet: name, ips: list, ...(m ? { mac: m } : {}) });
  });
  return out;
}
