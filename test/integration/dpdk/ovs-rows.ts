/** Reads the OVS rows src/dpdk interprets, through `ovs-vsctl --format=json` of a test stack. */
import type { OvnStack } from '../../../src/sandbox/stack.js';
import type { BridgeObservation, InterfaceObservation, OvsDpdkCapabilities } from '../../../src/dpdk/index.js';

type Datum = unknown;

interface VsctlTable {
  headings: string[];
  data: Datum[][];
}

async function listRows(stack: OvnStack, table: string, columns: string[], record?: string): Promise<Map<string, Datum>[]> {
  const args = ['--format=json', `--columns=${columns.join(',')}`, 'list', table];
  if (record) args.push(record);
  const parsed = JSON.parse(await stack.vsctl(...args)) as VsctlTable;
  return parsed.data.map((row) => new Map(parsed.headings.map((h, i) => [h, row[i]])));
}

/** An OVSDB optional/scalar datum: `["set", []]` is empty. */
function atom(d: Datum): string | number | boolean | undefined {
  if (Array.isArray(d)) {
    if (d[0] === 'set') {
      const items = d[1] as Datum[];
      return items.length === 0 ? undefined : atom(items[0]);
    }
    if (d[0] === 'uuid') return String(d[1]);
  }
  return d as string | number | boolean;
}

function stringSet(d: Datum): string[] {
  if (Array.isArray(d) && d[0] === 'set') return (d[1] as Datum[]).map((x) => String(atom(x)));
  const a = atom(d);
  return a === undefined ? [] : [String(a)];
}

function stringMap(d: Datum): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(d) && d[0] === 'map') for (const [k, v] of d[1] as [Datum, Datum][]) out[String(atom(k))] = String(atom(v));
  return out;
}

export async function readInterface(stack: OvnStack, name: string): Promise<InterfaceObservation> {
  const [row] = await listRows(stack, 'Interface', ['name', 'type', 'error', 'ofport', 'link_state', 'status'], name);
  if (!row) throw new Error(`no Interface ${name}`);
  const error = atom(row.get('error'));
  const ofport = atom(row.get('ofport'));
  const linkState = atom(row.get('link_state'));
  return {
    name,
    type: String(atom(row.get('type')) ?? ''),
    error: error === undefined ? undefined : String(error),
    ofport: ofport === undefined ? undefined : Number(ofport),
    linkState: linkState === undefined ? undefined : String(linkState),
    status: stringMap(row.get('status')),
  };
}

export async function readDpdkCapabilities(stack: OvnStack): Promise<OvsDpdkCapabilities> {
  const [row] = await listRows(stack, 'Open_vSwitch', ['iface_types', 'dpdk_initialized', 'dpdk_version']);
  if (!row) throw new Error('no Open_vSwitch row');
  const version = atom(row.get('dpdk_version'));
  return {
    ifaceTypes: stringSet(row.get('iface_types')),
    dpdkInitialized: atom(row.get('dpdk_initialized')) === true,
    dpdkVersion: version === undefined ? undefined : String(version),
  };
}

export async function readBridge(stack: OvnStack, name: string): Promise<BridgeObservation> {
  const [row] = await listRows(stack, 'Bridge', ['datapath_type'], name);
  if (!row) throw new Error(`no Bridge ${name}`);
  return { name, datapathType: String(atom(row.get('datapath_type')) ?? '') };
}

/** Polls the Interface row until `pred` holds. */
export async function waitForInterface(
  stack: OvnStack,
  name: string,
  pred: (i: InterfaceObservation) => boolean,
  timeoutMs = 10_000,
): Promise<InterfaceObservation> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const iface = await readInterface(stack, name);
    if (pred(iface)) return iface;
    if (Date.now() > deadline) throw new Error(`Interface ${name} did not reach the expected state: ${JSON.stringify(iface)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
