/**
 * The three PATCH formats kube-apiserver accepts from JSON clients:
 * - JSON merge patch (RFC 7386), `application/merge-patch+json`;
 * - JSON patch (RFC 6902, all six ops incl. `test`), `application/json-patch+json`;
 * - strategic merge patch, `application/strategic-merge-patch+json`, for built-in kinds only: merge-patch
 *   semantics, except that lists named in STRATEGIC_LIST_KEYS are merged element by element by their merge
 *   key and primitive lists in STRATEGIC_PRIMITIVE_MERGE are unioned. Directives `$patch: delete|replace|merge`
 *   and `$deleteFromPrimitiveList/<field>` are honoured; `$setElementOrder/<field>` and `$retainKeys` are dropped.
 * Decoding errors are 400; a patch that cannot be applied (missing path, failed `test`) is 422, as upstream.
 */
import { ApiError, badRequest } from './status.js';
import { deepEqual, jsonClone } from './json.js';
import { isObject, type JsonObject } from './types.js';

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';

/** RFC 7386: objects merge recursively, `null` deletes a key, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return jsonClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

function unprocessable(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer "${path}"`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = JsonObject | unknown[];

/** Walks to the parent of the pointer's last token; throws 422 when a step is missing. */
function parentOf(doc: unknown, tokens: string[], op: string, path: string): { parent: Container; last: string } {
  let cur: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      const idx = arrayIndex(token, cur.length - 1, op, path);
      cur = cur[idx];
    } else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, token)) {
      cur = cur[token];
    } else {
      throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
    }
  }
  if (!Array.isArray(cur) && !isObject(cur)) {
    throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
  }
  return { parent: cur, last: tokens[tokens.length - 1] as string };
}

function arrayIndex(token: string, max: number, op: string, path: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw unprocessable(`${op} operation does not apply: invalid array index "${token}" in "${path}"`);
  const idx = Number(token);
  if (idx > max) throw unprocessable(`${op} operation does not apply: array index out of bounds in "${path}"`);
  return idx;
}

function getAt(doc: unknown, path: string, op: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return doc;
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length - 1, op, path)];
  if (!Object.prototype.hasOwnProperty.call(parent, last)) {
    throw unprocessable(`${op} operation does not apply: doc is missing key: ${path}: missing value`);
  }
  return parent[last];
}

function removeAt(doc: unknown, path: string, op: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw unprocessable(`${op} operation does not apply: cannot remove the whole document`);
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) {
    const idx = arrayIndex(last, parent.length - 1, op, path);
    return parent.splice(idx, 1)[0];
  }
  if (!Object.prototype.hasOwnProperty.call(parent, last)) {
    throw unprocessable(`${op} operation does not apply: doc is missing key: ${path}: missing value`);
  }
  const value = parent[last];
  delete parent[last];
  return value;
}

/** Returns the new document (the root may be replaced). */
function addAt(doc: unknown, path: string, value: unknown, op: string, replace: boolean): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) {
    if (replace) {
      parent[arrayIndex(last, parent.length - 1, op, path)] = value;
    } else if (last === '-') {
      parent.push(value);
    } else {
      parent.splice(arrayIndex(last, parent.length, op, path), 0, value);
    }
  } else {
    if (replace && !Object.prototype.hasOwnProperty.call(parent, last)) {
      throw unprocessable(`replace operation does not apply: doc is missing key: ${path}: missing value`);
    }
    parent[last] = value;
  }
  return doc;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function decodeJsonPatch(patch: unknown): JsonPatchOp[] {
  if (!Array.isArray(patch)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return patch.map((raw, i) => {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest(`invalid JSON patch operation at index ${i}: "op" and "path" are required strings`);
    }
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(raw.op)) throw badRequest(`Unexpected kind: ${raw.op}`);
    if ((raw.op === 'move' || raw.op === 'copy') && typeof raw.from !== 'string') throw badRequest(`${raw.op} operation at index ${i} needs "from"`);
    if ((raw.op === 'add' || raw.op === 'replace' || raw.op === 'test') && !('value' in raw)) throw badRequest(`${raw.op} operation at index ${i} needs "value"`);
    return raw as unknown as JsonPatchOp;
  });
}

/** RFC 6902 on a copy of `target`; the whole patch applies or nothing does. */
export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  const ops = decodeJsonPatch(patch);
  let doc = jsonClone(target);
  for (const op of ops) {
    switch (op.op) {
      case 'add': doc = addAt(doc, op.path, jsonClone(op.value), 'add', false); break;
      case 'replace': doc = addAt(doc, op.path, jsonClone(op.value), 'replace', true); break;
      case 'remove': removeAt(doc, op.path, 'remove'); break;
      case 'move': {
        const value = removeAt(doc, op.from as string, 'move');
        doc = addAt(doc, op.path, value, 'move', false);
        break;
      }
      case 'copy': doc = addAt(doc, op.path, jsonClone(getAt(doc, op.from as string, 'copy')), 'copy', false); break;
      case 'test': {
        let actual: unknown;
        try {
          actual = getAt(doc, op.path, 'test');
        } catch {
          actual = undefined;
        }
        const expected = op.value;
        const same = actual === undefined ? expected === null : deepEqual(actual, expected);
        if (!same) throw unprocessable(`testing value ${op.path} failed: test failed`);
        break;
      }
    }
  }
  return doc;
}

/** Merge keys of object lists, by field name (built-in Kubernetes types, and KubeVirt's for non-custom registrations). */
export const STRATEGIC_LIST_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  hostAliases: 'ip',
  ownerReferences: 'uid',
  conditions: 'type',
  interfaces: 'name',
  networks: 'name',
  disks: 'name',
};

/** Primitive lists whose patch strategy is "merge" (union) instead of replace. */
export const STRATEGIC_PRIMITIVE_MERGE: ReadonlySet<string> = new Set(['finalizers']);

const DIRECTIVE = '$patch';
const DELETE_FROM_PRIMITIVE = '$deleteFromPrimitiveList/';
const SET_ELEMENT_ORDER = '$setElementOrder/';
const RETAIN_KEYS = '$retainKeys';

function strategicMergeList(field: string, original: unknown, patch: unknown[]): unknown {
  const key = STRATEGIC_LIST_KEYS[field];
  const patchHasObjects = patch.some(isObject);
  if (patch.some((item) => isObject(item) && item[DIRECTIVE] === 'replace')) {
    return patch.filter((item) => !(isObject(item) && item[DIRECTIVE] === 'replace')).map(stripDirectives);
  }
  if (key !== undefined && patchHasObjects) {
    const result: unknown[] = Array.isArray(original) ? [...original] : [];
    for (const item of patch) {
      if (!isObject(item)) throw badRequest(`strategic merge patch: list "${field}" mixes objects and primitives`);
      if (!(key in item)) throw badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
      const idx = result.findIndex((cur) => isObject(cur) && deepEqual(cur[key], item[key]));
      if (item[DIRECTIVE] === 'delete') {
        if (idx !== -1) result.splice(idx, 1);
      } else if (idx !== -1) {
        result[idx] = applyStrategicMergePatch(result[idx], item);
      } else {
        result.push(stripDirectives(item));
      }
    }
    return result;
  }
  if (STRATEGIC_PRIMITIVE_MERGE.has(field) && !patchHasObjects) {
    const result: unknown[] = Array.isArray(original) ? [...original] : [];
    for (const item of patch) if (!result.some((cur) => deepEqual(cur, item))) result.push(item);
    return result;
  }
  return patch.map(stripDirectives);
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ELEMENT_ORDER) || k.startsWith(DELETE_FROM_PRIMITIVE)) continue;
    if (v === null) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

/** Strategic merge patch (the subset described at the top of this module). */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) {
    if (Array.isArray(patch)) throw badRequest('strategic merge patch must be a JSON object');
    return jsonClone(patch);
  }
  if (patch[DIRECTIVE] === 'replace') return stripDirectives(patch);
  if (patch[DIRECTIVE] === 'delete') return undefined;
  if (patch[DIRECTIVE] !== undefined && patch[DIRECTIVE] !== 'merge') throw badRequest(`unknown patch type: ${String(patch[DIRECTIVE])}`);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === DIRECTIVE || key === RETAIN_KEYS || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (key.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE.length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) result[field] = current.filter((v) => !value.some((d) => deepEqual(d, v)));
      continue;
    }
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = jsonClone(strategicMergeList(key, result[key], value));
    } else {
      const merged = applyStrategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  return result;
}
