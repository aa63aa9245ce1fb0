/**
 * The pod annotation `k8s.v1.cni.cncf.io/networks`: parsing both forms Multus accepts (a JSON list of
 * network selection elements, or the short `[ns/]name[@ifname], …` list), and adding/removing one
 * attachment while keeping every other element exactly as it was.
 */

/** One Multus network selection element; fields ovnic does not use are kept as they are. */
export interface NetworkSelectionElement {
  name: string;
  namespace?: string;
  interface?: string;
  mac?: string;
  ips?: string[];
  [other: string]: unknown;
}

export class NetworksAnnotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworksAnnotationError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseShortElement(text: string): NetworkSelectionElement {
  const at = text.indexOf('@');
  const ref = at === -1 ? text : text.slice(0, at);
  const ifName = at === -1 ? undefined : text.slice(at + 1);
  const slash = ref.indexOf('/');
  const namespace = slash === -1 ? undefined : ref.slice(0, slash);
  const name = slash === -1 ? ref : ref.slice(slash + 1);
  if (name === '' || namespace === '' || ifName === '' || name.includes('/') || ifName?.includes('@') === true) {
    throw new NetworksAnnotationError(`invalid network reference "${text}" (expected [namespace/]name[@interface])`);
  }
  const out: NetworkSelectionElement = { name };
  if (namespace !== undefined) out.namespace = namespace;
  if (ifName !== undefined) out.interface = ifName;
  return out;
}

/** The elements of a networks annotation value; undefined or blank → []. Bad JSON/shape → NetworksAnnotationError. */
export function parseNetworksAnnotation(value: string | undefined): NetworkSelectionElement[] {
  const text = (value ?? '').trim();
  if (text === '') return [];
  if (/[[{"]/.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new NetworksAnnotationError(`networks annotation is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new NetworksAnnotationError('networks annotation is not a JSON list');
    return parsed.map((el, i) => {
      if (!isRecord(el) || typeof el.name !== 'string' || el.name === '') {
        throw new NetworksAnnotationError(`networks annotation element ${i} has no "name"`);
      }
      return el as NetworkSelectionElement;
    });
  }
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(parseShortElement);
}

/** The JSON list form (always used once ovnic writes the annotation: the short form cannot carry a MAC). */
export function formatNetworksAnnotation(elements: readonly NetworkSelectionElement[]): string {
  return JSON.stringify(elements);
}

/**
 * The element standing for the same attachment: with an interface name, the element with that pod
 * interface (unique within a pod, whatever NAD it names); without one, the same NAD (namespace defaulting
 * to the pod's) and no interface either.
 */
export function sameAttachment(el: NetworkSelectionElement, want: NetworkSelectionElement, podNamespace: string): boolean {
  if (want.interface !== undefined) return el.interface === want.interface;
  return el.interface === undefined && el.name === want.name && (el.namespace ?? podNamespace) === (want.namespace ?? podNamespace);
}

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export interface NetworksChange {
  elements: NetworkSelectionElement[];
  changed: boolean;
}

/**
 * Ensures `want` is attached: the element for the same attachment gets `want`'s NAD, mac and ips with its
 * other fields kept; without one, `want` is appended. Unchanged when already equal.
 */
export function upsertAttachment(elements: readonly NetworkSelectionElement[], want: NetworkSelectionElement, podNamespace: string): NetworksChange {
  const idx = elements.findIndex((el) => sameAttachment(el, want, podNamespace));
  if (idx === -1) return { elements: [...elements, { ...want }], changed: true };
  const current = elements[idx] as NetworkSelectionElement;
  const upToDate = current.name === want.name
    && (current.namespace ?? podNamespace) === (want.namespace ?? podNamespace)
    && current.mac?.toLowerCase() === want.mac?.toLowerCase()
    && sameStrings(current.ips, want.ips);
  if (upToDate) return { elements: [...elements], changed: false };
  const merged: NetworkSelectionElement = { ...current, name: want.name };
  delete merged.namespace;
  delete merged.mac;
  delete merged.ips;
  if (want.namespace !== undefined) merged.namespace = want.namespace;
  if (want.mac !== undefined) merged.mac = want.mac;
  if (want.ips !== undefined) merged.ips = [...want.ips];
  const out = [...elements];
  out[idx] = merged;
  return { elements: out, changed: true };
}

/** Removes every element for the same attachment as `want`. */
export function removeAttachment(elements: readonly NetworkSelectionElement[], want: NetworkSelectionElement, podNamespace: string): NetworksChange {
  const kept = elements.filter((el) => !sameAttachment(el, want, podNamespace));
  return { elements: kept, changed: kept.length !== elements.length };
}
