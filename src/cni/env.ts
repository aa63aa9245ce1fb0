/**
 * The CNI environment (spec section 2 "Parameters"), validated per command the way
 * containernetworking/cni's skel does it:
 *
 * | var             | ADD | DEL | CHECK | GC  | STATUS | VERSION |
 * |-----------------|-----|-----|-------|-----|--------|---------|
 * | CNI_COMMAND     | req | req | req   | req | req    | req     |
 * | CNI_CONTAINERID | req | req | req   |  –  |   –    |   –     |
 * | CNI_NETNS       | req | opt | req   |  –  |   –    |   –     |
 * | CNI_IFNAME      | req | req | req   |  –  |   –    |   –     |
 * | CNI_ARGS        | opt | opt | opt   |  –  |   –    |   –     |
 * | CNI_PATH        | req | req | req   | req | req    |   –     |
 *
 * The spec prose lists CNI_PATH as optional for ADD/DEL/STATUS, but every reference plugin
 * (skel) requires it and every runtime sends it; ovnic needs it to find the IPAM plugin.
 * An unset or empty required variable is "missing" → code 4 naming all of them at once.
 * CNI_ARGS is parsed here too: a malformed CNI_ARGS is an invalid environment variable → 4.
 */
import { CniError, CniErrorCode, invalidEnv } from './errors.js';
import { formatRequestedIp, parseAssignableMac, parseRequestedIp, type RequestedIp } from './addr.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** Commands that act on one attachment (containerID, ifname). */
export const ATTACHMENT_COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK'];

export type RawEnv = Readonly<Record<string, string | undefined>>;

export interface CniEnv {
  command: CniCommand;
  /** '' for GC, STATUS and VERSION. */
  containerId: string;
  /** '' when not given (always allowed for DEL). */
  netns: string;
  /** '' for GC, STATUS and VERSION. */
  ifname: string;
  /** CNI_ARGS verbatim. */
  argsText: string;
  /** CNI_PATH split on ':' with empty entries dropped. */
  path: string[];
  /** libcni test hook CNI_NETNS_OVERRIDE: skip the "CNI_NETNS is my own netns" check. */
  netnsOverride: boolean;
}

type Need = 'req' | 'opt' | 'ignored';

const NEEDS: Record<CniCommand, Record<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_ARGS' | 'CNI_PATH', Need>> = {
  ADD: { CNI_CONTAINERID: 'req', CNI_NETNS: 'req', CNI_IFNAME: 'req', CNI_ARGS: 'opt', CNI_PATH: 'req' },
  DEL: { CNI_CONTAINERID: 'req', CNI_NETNS: 'opt', CNI_IFNAME: 'req', CNI_ARGS: 'opt', CNI_PATH: 'req' },
  CHECK: { CNI_CONTAINERID: 'req', CNI_NETNS: 'req', CNI_IFNAME: 'req', CNI_ARGS: 'opt', CNI_PATH: 'req' },
  GC: { CNI_CONTAINERID: 'ignored', CNI_NETNS: 'ignored', CNI_IFNAME: 'ignored', CNI_ARGS: 'ignored', CNI_PATH: 'req' },
  STATUS: { CNI_CONTAINERID: 'ignored', CNI_NETNS: 'ignored', CNI_IFNAME: 'ignored', CNI_ARGS: 'ignored', CNI_PATH: 'req' },
  VERSION: { CNI_CONTAINERID: 'ignored', CNI_NETNS: 'ignored', CNI_IFNAME: 'ignored', CNI_ARGS: 'ignored', CNI_PATH: 'ignored' },
};

export function isCniCommand(value: string): value is CniCommand {
  return (CNI_COMMANDS as readonly string[]).includes(value);
}

/** Parse and validate the CNI_* variables for the command in CNI_COMMAND. Throws CniError (4, or 3). */
export function parseCniEnv(env: RawEnv): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw invalidEnv('required env variables [CNI_COMMAND] missing');
  if (!isCniCommand(command)) {
    throw invalidEnv(`unknown CNI_COMMAND: ${command}`, `CNI_COMMAND must be one of ${CNI_COMMANDS.join(', ')}`);
  }
  const needs = NEEDS[command];
  const value = (name: keyof typeof needs): string => (needs[name] === 'ignored' ? '' : (env[name] ?? ''));
  const missing = (Object.keys(needs) as (keyof typeof needs)[]).filter((name) => needs[name] === 'req' && value(name) === '');
  if (missing.length > 0) throw invalidEnv(`required env variables [${missing.join(',')}] missing`);

  const containerId = value('CNI_CONTAINERID');
  const ifname = value('CNI_IFNAME');
  if (needs.CNI_CONTAINERID === 'req') validateContainerId(containerId);
  if (needs.CNI_IFNAME === 'req') validateIfname(ifname);

  const override = (env.CNI_NETNS_OVERRIDE ?? '').toLowerCase();
  return {
    command,
    containerId,
    netns: value('CNI_NETNS'),
    ifname,
    argsText: value('CNI_ARGS'),
    path: value('CNI_PATH').split(':').filter((dir) => dir !== ''),
    netnsOverride: override === 'true' || override === '1',
  };
}

const CNI_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Spec rule for CNI_CONTAINERID: empty → 3 (unknown container), bad characters → 4. */
export function validateContainerId(containerId: string): void {
  if (containerId === '') throw new CniError(CniErrorCode.UnknownContainer, 'missing containerID');
  if (!CNI_NAME_RE.test(containerId)) {
    throw invalidEnv('invalid characters in CNI_CONTAINERID', `"${containerId}" must match ${CNI_NAME_RE.source}`);
  }
}

/** Linux interface name rules (dev_valid_name): 1..15 bytes, not "." or "..", no '/', ':' or whitespace → else 4. */
export function validateIfname(ifname: string): void {
  if (ifname === '') throw invalidEnv('CNI_IFNAME is empty');
  if (Buffer.byteLength(ifname) > 15) {
    throw invalidEnv('CNI_IFNAME is too long', `"${ifname}" has more than 15 bytes`);
  }
  if (ifname === '.' || ifname === '..') throw invalidEnv('CNI_IFNAME is "." or ".."');
  if (/[/:\s]/u.test(ifname)) {
    throw invalidEnv('CNI_IFNAME contains "/", ":" or whitespace', JSON.stringify(ifname));
  }
}

/** Network names (the conf `name`) share the container ID alphabet; invalid → 7 (checked in config.ts). */
export function isValidCniName(name: string): boolean {
  return CNI_NAME_RE.test(name);
}

// ---------------------------------------------------------------------------------------------
// CNI_ARGS

export interface CniArgs {
  /** `IgnoreUnknown=1|true`: unknown keys are kept in `extra` instead of failing. */
  ignoreUnknown: boolean;
  /** `IP=a[,b]`: requested addresses, each with an optional prefix (host-local takes one plain IP, static CIDRs). */
  ips: RequestedIp[];
  /** `MAC=`: normalised to lower-case colon form. */
  mac?: string;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  podInfraContainerId?: string;
  /** Every pair as given (known keys included), in order. */
  pairs: Array<[string, string]>;
  /** Keys ovnic does not interpret (only possible with IgnoreUnknown). */
  extra: Record<string, string>;
}

const KNOWN_ARGS = new Set([
  'IgnoreUnknown',
  'IP',
  'MAC',
  'K8S_POD_NAME',
  'K8S_POD_NAMESPACE',
  'K8S_POD_UID',
  'K8S_POD_INFRA_CONTAINER_ID',
]);

/** Pod names, namespaces and podman container names: must be safe inside an OVS iface-id. */
const POD_REF_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const UID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Parse CNI_ARGS (`K=V;K2=V2`). As libcni's LoadArgs: every pair needs '=', unknown keys are an
 * error unless IgnoreUnknown is true (kubelet, CRI-O, podman and Multus always send IgnoreUnknown=1).
 * Any problem → CniError 4 naming CNI_ARGS.
 */
export function parseCniArgs(text: string): CniArgs {
  const out: CniArgs = { ignoreUnknown: false, ips: [], pairs: [], extra: {} };
  if (text.trim() === '') return out;
  const bad = (what: string): CniError => invalidEnv(`invalid CNI_ARGS: ${what}`, text);

  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(`pair "${pair}" is not KEY=VALUE`);
    out.pairs.push([pair.slice(0, eq), pair.slice(eq + 1)]);
  }
  const ignore = out.pairs.find(([k]) => k === 'IgnoreUnknown');
  if (ignore) {
    const v = ignore[1].toLowerCase();
    if (v === '1' || v === 'true') out.ignoreUnknown = true;
    else if (v !== '0' && v !== 'false') throw bad(`IgnoreUnknown="${ignore[1]}" is not a boolean`);
  }

  for (const [key, value] of out.pairs) {
    switch (key) {
      case 'IgnoreUnknown':
        break;
      case 'IP':
        for (const item of value.split(',')) {
          const ip = parseRequestedIp(item.trim());
          if (!ip) throw bad(`IP="${value}": "${item}" is not an IP address or CIDR`);
          if (out.ips.some((seen) => formatRequestedIp(seen) === formatRequestedIp(ip))) continue;
          out.ips.push(ip);
        }
        break;
      case 'MAC': {
        const mac = parseAssignableMac(value);
        if (!mac) throw bad(`MAC="${value}" is not a unicast 48-bit MAC address`);
        out.mac = mac;
        break;
      }
      case 'K8S_POD_NAME':
      case 'K8S_POD_NAMESPACE':
      case 'K8S_POD_INFRA_CONTAINER_ID':
        if (value === '') break;
        if (!POD_REF_RE.test(value)) throw bad(`${key}="${value}" has characters outside [A-Za-z0-9_.-]`);
        if (key === 'K8S_POD_NAME') out.podName = value;
        else if (key === 'K8S_POD_NAMESPACE') out.podNamespace = value;
        else out.podInfraContainerId = value;
        break;
      case 'K8S_POD_UID':
        if (value === '') break;
        if (!UID_RE.test(value)) throw bad(`K8S_POD_UID="${value}" is not a UID`);
        out.podUid = value;
        break;
      default:
        if (!KNOWN_ARGS.has(key) && !out.ignoreUnknown) {
          throw bad(`unknown key "${key}" (set IgnoreUnknown=1 to allow it)`);
        }
        out.extra[key] = value;
    }
  }
  return out;
}
