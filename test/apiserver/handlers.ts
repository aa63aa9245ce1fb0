/** HTTP front end: reads the request, logs it, applies injected failures, dispatches, answers JSON or Status. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Operations, WriteOptions } from './operations.js';
import { decodeContinue, encodeContinue, parseListOptions, type ListOptions } from './query.js';
import type { ResourceRegistry } from './registry.js';
import type { Failure, RequestRecord, Verb } from './requests.js';
import { route, type Route } from './router.js';
import {
  ApiError, badRequest, expired, methodNotAllowed, pathNotFound, reasonForCode, successStatus, unsupportedMediaType,
} from './status.js';
import { objectKey, type ObjectStore } from './store.js';
import { groupResource, groupVersion, type KubeObject, type ResourceDefinition } from './types.js';
import type { WatchHub } from './watch.js';

const MAX_BODY_BYTES = 3 * 1024 * 1024;
const JSON_TYPES = new Set(['application/json', '']);

export interface FrontendDeps {
  registry: ResourceRegistry;
  ops: Operations;
  store: ObjectStore;
  hub: WatchHub;
  record(entry: RequestRecord): void;
  /** The failure injected for this request, if one matches (consumed). */
  takeFailure(entry: RequestRecord): Failure | undefined;
}

type ResourceRoute = Extract<Route, { type: 'resource' }>;

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function verbFor(method: string, r: ResourceRoute, watch: boolean): Verb {
  switch (method) {
    case 'GET': return watch ? 'watch' : r.name === undefined ? 'list' : 'get';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return r.name === undefined ? 'deletecollection' : 'delete';
    default: return 'other';
  }
}

export class HttpFrontend {
  constructor(private readonly deps: FrontendDeps) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) this.sendError(res, err);
      else res.destroy();
    });
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://apiserver.local');
    const method = (req.method ?? 'GET').toUpperCase();
    const r = route(url.pathname);
    const watchParam = url.searchParams.get('watch');
    const watch = method === 'GET' && r.type === 'resource' && (r.watchPrefix || watchParam === 'true' || watchParam === '1');
    const entry: RequestRecord = {
      method,
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers['content-type'],
      verb: r.type === 'resource' ? verbFor(method, r, watch) : r.type === 'unknown' ? 'other' : 'discovery',
      watch,
      status: 0,
      injected: false,
      time: new Date(),
    };
    let def: ResourceDefinition | undefined;
    if (r.type === 'resource') {
      def = this.deps.registry.lookup(r.group, r.version, r.plural);
      entry.resource = def !== undefined ? groupResource(def) : groupResource({ group: r.group, plural: r.plural });
      if (r.namespace !== undefined) entry.namespace = r.namespace;
      if (r.name !== undefined) entry.name = r.name;
      if (r.subresource !== undefined) entry.subresource = r.subresource;
    }
    this.deps.record(entry);
    res.on('finish', () => { entry.status = res.statusCode; });

    const failure = this.deps.takeFailure(entry);
    if (failure !== undefined) {
      entry.injected = true;
      if (failure === 'reset') {
        req.socket.destroy();
        return;
      }
      const spec = typeof failure === 'number' ? { code: failure } : failure;
      const details = spec.retryAfterSeconds !== undefined ? { retryAfterSeconds: spec.retryAfterSeconds } : undefined;
      const err = new ApiError(spec.code, spec.reason ?? reasonForCode(spec.code), spec.message ?? `injected failure (${spec.code})`, details);
      const headers: Record<string, string> = spec.retryAfterSeconds !== undefined ? { 'Retry-After': String(spec.retryAfterSeconds) } : {};
      send(res, spec.code, err.toStatus(), headers);
      return;
    }

    const body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
    try {
      this.dispatch(req, res, url, r, def, method, body, watch);
    } catch (err) {
      if (res.headersSent) res.destroy();
      else this.sendError(res, err);
    }
  }

  private sendError(res: ServerResponse, err: unknown): void {
    const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
    send(res, apiErr.code, apiErr.toStatus());
  }

  private dispatch(
    req: IncomingMessage, res: ServerResponse, url: URL, r: Route, def: ResourceDefinition | undefined, method: string, raw: Buffer, watch: boolean,
  ): void {
    const { registry } = this.deps;
    const discovery = (doc: object | undefined): void => {
      if (method !== 'GET') throw methodNotAllowed();
      if (doc === undefined) throw pathNotFound();
      send(res, 200, doc);
    };
    switch (r.type) {
      case 'root': return discovery({ paths: ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version'] });
      case 'health': res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok'); return;
      case 'version': return discovery({ major: '1', minor: '31', gitVersion: 'v1.31.0-ovnic-test', platform: 'linux/amd64' });
      case 'coreVersions': return discovery(registry.coreVersions());
      case 'groupList': return discovery(registry.groupList());
      case 'group': return discovery(registry.group(r.group));
      case 'resourceList': return discovery(registry.resourceList(r.group, r.version));
      case 'unknown': throw pathNotFound();
      case 'resource': break;
    }
    if (def === undefined) throw pathNotFound();
    if (r.namespace !== undefined && !def.namespaced) throw pathNotFound();
    if (r.subresource !== undefined && !(r.subresource === 'status' && def.statusSubresource)) throw pathNotFound();
    if (r.subresource !== undefined && (method === 'POST' || method === 'DELETE')) throw methodNotAllowed();
    const namespace = def.namespaced ? r.namespace : undefined;
    const opts: WriteOptions = { version: r.version, warnings: [] };
    const dryRun = url.searchParams.getAll('dryRun');
    if (dryRun.length > 0) {
      if (!dryRun.every((d) => d === 'All')) throw badRequest(`dryRun: Unsupported value: "${dryRun.join(',')}": supported values: "All"`);
      opts.dryRun = true;
    }
    const fieldValidation = url.searchParams.get('fieldValidation');
    if (fieldValidation !== null) opts.fieldValidation = fieldValidation;
    const warningHeaders = (): Record<string, string> =>
      (opts.warnings ?? []).length === 0 ? {} : { Warning: (opts.warnings ?? []).map((w) => `299 - ${JSON.stringify(w)}`).join(', ') };

    if (method === 'GET') {
      if (watch) return this.watch(req, res, def, r, namespace, url.searchParams);
      if (r.name !== undefined) return send(res, 200, this.deps.ops.present(def, this.deps.ops.get(def, namespace, r.name), r.version));
      return send(res, 200, this.list(def, r.version, namespace, parseListOptions(def, url.searchParams)));
    }
    if (r.namespace === undefined && def.namespaced && method !== 'DELETE') throw methodNotAllowed();
    const contentType = mediaType(req.headers['content-type']);
    const body = this.parseBody(raw);
    switch (method) {
      case 'POST': {
        if (r.name !== undefined) throw methodNotAllowed();
        this.requireJson(contentType);
        const created = this.deps.ops.create(def, namespace, body, opts);
        return send(res, 201, created, warningHeaders());
      }
      case 'PUT': {
        if (r.name === undefined) throw methodNotAllowed();
        this.requireJson(contentType);
        return send(res, 200, this.deps.ops.update(def, namespace, r.name, body, r.subresource, opts), warningHeaders());
      }
      case 'PATCH': {
        if (r.name === undefined) throw methodNotAllowed();
        if (body === undefined) throw badRequest('the body of the request is empty');
        return send(res, 200, this.deps.ops.patch(def, namespace, r.name, contentType, body, r.subresource, opts), warningHeaders());
      }
      case 'DELETE': {
        if (r.name === undefined) return send(res, 200, this.deleteCollection(def, r.version, namespace, url.searchParams, opts));
        const { object, deleted } = this.deps.ops.delete(def, namespace, r.name, body, opts);
        if (!deleted || def.returnDeletedObject) return send(res, 200, object);
        const details: { name: string; group?: string; kind: string; uid?: string } = { name: r.name, kind: def.plural };
        if (def.group !== '') details.group = def.group;
        if (object.metadata.uid !== undefined) details.uid = object.metadata.uid;
        return send(res, 200, successStatus(details));
      }
      default:
        throw methodNotAllowed();
    }
  }

  private requireJson(contentType: string): void {
    if (!JSON_TYPES.has(contentType)) throw unsupportedMediaType(contentType, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
  }

  private parseBody(raw: Buffer): unknown {
    if (raw.length === 0) return undefined;
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (err) {
      throw badRequest(`the body of the request could not be decoded as JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private listItem(def: ResourceDefinition, obj: KubeObject, version: string): KubeObject {
    const presented = this.deps.ops.present(def, obj, version);
    if (def.custom) return presented;
    // Built-in lists carry apiVersion/kind only on the list, not on each item.
    const { apiVersion: _a, kind: _k, ...rest } = presented;
    return rest as KubeObject;
  }

  private list(def: ResourceDefinition, version: string, namespace: string | undefined, opts: ListOptions): object {
    const resource = groupResource(def);
    let items = this.deps.store.list(resource, namespace).filter(opts.matches);
    let listRV = this.deps.store.currentRV();
    if (opts.continueToken !== undefined) {
      const token = decodeContinue(opts.continueToken);
      if (token.rv < this.deps.store.oldestWatchableRV(resource)) {
        throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      listRV = token.rv;
      items = items.filter((o) => objectKey(o.metadata.namespace, o.metadata.name as string) > token.start);
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(listRV) };
    if (opts.limit !== undefined && items.length > opts.limit) {
      const remaining = items.length - opts.limit;
      items = items.slice(0, opts.limit);
      const last = items[items.length - 1] as KubeObject;
      metadata.continue = encodeContinue({ rv: listRV, start: objectKey(last.metadata.namespace, last.metadata.name as string) });
      metadata.remainingItemCount = remaining;
    }
    return {
      apiVersion: groupVersion(def.group, version),
      kind: def.listKind,
      metadata,
      items: items.map((o) => this.listItem(def, o, version)),
    };
  }

  private deleteCollection(def: ResourceDefinition, version: string, namespace: string | undefined, params: URLSearchParams, opts: WriteOptions): object {
    const listOpts = parseListOptions(def, params);
    const items = this.deps.store.list(groupResource(def), namespace).filter(listOpts.matches);
    const out: KubeObject[] = [];
    for (const obj of items) {
      out.push(this.deps.ops.delete(def, obj.metadata.namespace, obj.metadata.name as string, undefined, opts).object);
    }
    return {
      apiVersion: groupVersion(def.group, version),
      kind: def.listKind,
      metadata: { resourceVersion: String(this.deps.store.currentRV()) },
      items: out.map((o) => this.listItem(def, o, version)),
    };
  }

  private watch(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, r: ResourceRoute, namespace: string | undefined, params: URLSearchParams): void {
    const opts = parseListOptions(def, params, r.name);
    const request: Parameters<WatchHub['serve']>[2] = {
      def,
      version: r.version,
      matches: opts.matches,
      allowWatchBookmarks: opts.allowWatchBookmarks,
      sendInitialEvents: opts.sendInitialEvents,
    };
    if (namespace !== undefined) request.namespace = namespace;
    if (opts.resourceVersion !== undefined) request.resourceVersion = opts.resourceVersion;
    if (opts.timeoutSeconds !== undefined) request.timeoutSeconds = opts.timeoutSeconds;
    this.deps.hub.serve(req, res, request);
  }
}
