/** List/watch query parameters and the object filter they describe. */
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { badRequest } from './status.js';
import type { KubeObject, ResourceDefinition } from './types.js';

export interface ListOptions {
  labelSelector: string;
  fieldSelector: string;
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
  watch: boolean;
  allowWatchBookmarks: boolean;
  timeoutSeconds?: number;
  sendInitialEvents: boolean;
  matches: (obj: KubeObject) => boolean;
}

function flag(value: string | null): boolean {
  return value === 'true' || value === '1';
}

function nonNegativeInt(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name}: Invalid value: "${raw}": must be a non-negative integer`);
  return Number(raw);
}

/** Reads a dotted path of an object as a field-selector string (booleans and numbers stringified). */
export function readPath(obj: unknown, path: string): string | undefined {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return undefined;
  return typeof cur === 'object' ? undefined : String(cur);
}

export function supportedFields(def: ResourceDefinition): Set<string> {
  return new Set(['metadata.name', 'metadata.namespace', ...Object.keys(def.fieldLabels)]);
}

/** Builds the filter of a list/watch request; namespace scoping is applied by the caller. */
export function parseListOptions(def: ResourceDefinition, params: URLSearchParams, nameFromPath?: string): ListOptions {
  const labelSelector = params.get('labelSelector') ?? '';
  let fieldSelector = params.get('fieldSelector') ?? '';
  if (nameFromPath !== undefined) fieldSelector = fieldSelector === '' ? `metadata.name=${nameFromPath}` : `${fieldSelector},metadata.name=${nameFromPath}`;
  const labelReqs = parseLabelSelector(labelSelector);
  const fieldReqs = parseFieldSelector(fieldSelector, supportedFields(def));
  const readField = (obj: KubeObject) => (field: string): string | undefined => {
    const reader = def.fieldLabels[field];
    return reader !== undefined ? reader(obj) : readPath(obj, field);
  };
  const matches = (obj: KubeObject): boolean =>
    matchesLabels(labelReqs, obj.metadata.labels) && (fieldReqs.length === 0 || matchesFields(fieldReqs, readField(obj)));
  const rv = params.get('resourceVersion');
  if (rv !== null && rv !== '' && !/^\d+$/.test(rv)) throw badRequest(`resourceVersion: Invalid value: "${rv}": must be an unsigned integer`);
  const opts: ListOptions = {
    labelSelector,
    fieldSelector,
    watch: flag(params.get('watch')),
    allowWatchBookmarks: flag(params.get('allowWatchBookmarks')),
    sendInitialEvents: flag(params.get('sendInitialEvents')),
    matches,
  };
  const limit = nonNegativeInt(params, 'limit');
  if (limit !== undefined && limit > 0) opts.limit = limit;
  const cont = params.get('continue');
  if (cont !== null && cont !== '') opts.continueToken = cont;
  if (rv !== null && rv !== '') opts.resourceVersion = rv;
  const timeout = nonNegativeInt(params, 'timeoutSeconds');
  if (timeout !== undefined) opts.timeoutSeconds = timeout;
  return opts;
}

export interface ContinueToken {
  rv: number;
  start: string;
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.rv, start: token.start })).toString('base64url');
}

export function decodeContinue(text: string): ContinueToken {
  try {
    const raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as { rv?: unknown; start?: unknown };
    if (typeof raw.rv === 'number' && typeof raw.start === 'string') return { rv: raw.rv, start: raw.start };
  } catch {
    // fall through to the error below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}
