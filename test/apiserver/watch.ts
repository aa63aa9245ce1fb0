/**
 * Watch streams: newline-delimited JSON events over a chunked 200 response, as kube-apiserver sends them.
 * - resourceVersion unset or "0": synthetic ADDED for the current state, then live events;
 * - resourceVersion N: every event after N from the resource's history, then live events; if the history no
 *   longer reaches N, a single ERROR event with a 410 Expired Status and the stream ends (or, in 'http'
 *   mode, an HTTP 410 answer);
 * - selector transitions like the watch cache: an object that stops matching is sent as DELETED, one that
 *   starts matching as ADDED;
 * - allowWatchBookmarks: BOOKMARK events with the current resourceVersion every bookmark interval;
 *   sendInitialEvents: the initial state then a BOOKMARK annotated `k8s.io/initial-events-end`;
 * - timeoutSeconds ends the stream cleanly.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expired, type StatusBody } from './status.js';
import type { ObjectStore } from './store.js';
import { groupResource, groupVersion, type KubeObject, type ResourceDefinition, type StoredEvent } from './types.js';

export type ExpiredWatchMode = 'event' | 'http';

export interface WatchRequest {
  def: ResourceDefinition;
  version: string;
  namespace?: string;
  matches: (obj: KubeObject) => boolean;
  resourceVersion?: string;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
}

const serialized = new WeakMap<KubeObject, string>();

function objectJson(obj: KubeObject, apiVersion: string): string {
  if (obj.apiVersion !== apiVersion) return JSON.stringify({ ...obj, apiVersion });
  let text = serialized.get(obj);
  if (text === undefined) {
    text = JSON.stringify(obj);
    serialized.set(obj, text);
  }
  return text;
}

class WatchSession {
  private unsubscribe: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  readonly resource: string;
  private readonly apiVersion: string;

  constructor(
    private readonly hub: WatchHub,
    readonly request: WatchRequest,
    private readonly res: ServerResponse,
  ) {
    this.resource = groupResource(request.def);
    this.apiVersion = groupVersion(request.def.group, request.version);
  }

  private visible(obj: KubeObject | undefined): boolean {
    if (obj === undefined) return false;
    if (this.request.namespace !== undefined && obj.metadata.namespace !== this.request.namespace) return false;
    return this.request.matches(obj);
  }

  /** Turns a storage event into what this watcher sees (or nothing). */
  deliver(event: StoredEvent): void {
    const now = this.visible(event.object);
    const before = this.visible(event.previous);
    let type: string | undefined;
    if (event.type === 'ADDED') type = now ? 'ADDED' : undefined;
    else if (event.type === 'DELETED') type = before ? 'DELETED' : undefined;
    else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) type = 'DELETED';
    if (type !== undefined) this.writeLine(`{"type":"${type}","object":${objectJson(event.object, this.apiVersion)}}\n`);
  }

  private writeLine(line: string): void {
    if (!this.closed) this.res.write(line);
  }

  bookmark(initialEventsEnd = false): void {
    const metadata: Record<string, unknown> = { resourceVersion: String(this.hub.store.currentRV()) };
    if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    const object = { kind: this.request.def.kind, apiVersion: this.apiVersion, metadata };
    this.writeLine(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
  }

  sendError(status: StatusBody): void {
    this.writeLine(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
  }

  /** Starts the stream with synthetic ADDED events for `initialObjects`, then `backlog`, then live events. */
  start(initialObjects: KubeObject[], backlog: StoredEvent[]): void {
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    this.res.flushHeaders();
    this.res.on('close', () => this.cleanup());
    this.unsubscribe = this.hub.store.subscribe(this.resource, (event) => this.deliver(event));
    for (const obj of initialObjects) {
      if (this.visible(obj)) this.writeLine(`{"type":"ADDED","object":${objectJson(obj, this.apiVersion)}}\n`);
    }
    if (this.request.sendInitialEvents && this.request.allowWatchBookmarks) this.bookmark(true);
    for (const event of backlog) this.deliver(event);
    if (this.request.allowWatchBookmarks && this.hub.bookmarkIntervalMs > 0) {
      this.timers.push(setInterval(() => this.bookmark(), this.hub.bookmarkIntervalMs));
    }
    if (this.request.timeoutSeconds !== undefined && this.request.timeoutSeconds > 0) {
      this.timers.push(setTimeout(() => this.end(), this.request.timeoutSeconds * 1000));
    }
  }

  /** Ends the stream cleanly (the client sees the body end). */
  end(): void {
    if (this.closed) return;
    this.cleanup();
    this.res.end();
  }

  /** Drops the connection without ending the chunked body (the client sees a broken stream). */
  destroy(): void {
    if (this.closed) return;
    this.cleanup();
    this.res.destroy();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.hub.sessions.delete(this);
  }
}

export class WatchHub {
  readonly sessions = new Set<WatchSession>();

  constructor(
    readonly store: ObjectStore,
    public bookmarkIntervalMs: number,
    public expiredMode: ExpiredWatchMode,
  ) {}

  /**
   * Serves one watch request. Throws an ApiError (answered as a Status by the caller) only before the stream
   * starts, i.e. in 'http' expired mode.
   */
  serve(_req: IncomingMessage, res: ServerResponse, request: WatchRequest): void {
    const resource = groupResource(request.def);
    const rv = request.resourceVersion;
    const session = new WatchSession(this, request, res);
    if (request.sendInitialEvents || rv === undefined || rv === '0') {
      this.sessions.add(session);
      session.start(this.store.list(resource, request.namespace), []);
      return;
    }
    const events = this.store.eventsSince(resource, Number(rv));
    if (events === 'expired') {
      const err = expired(`too old resource version: ${rv} (${this.store.oldestWatchableRV(resource)})`);
      if (this.expiredMode === 'http') throw err;
      session.start([], []);
      session.sendError(err.toStatus());
      session.end();
      return;
    }
    this.sessions.add(session);
    session.start([], events);
  }

  private select(resource?: string): WatchSession[] {
    return [...this.sessions].filter((s) => resource === undefined || s.resource === resource);
  }

  count(resource?: string): number {
    return this.select(resource).length;
  }

  /** Closes open watches: cleanly (`graceful`) or by dropping the connection. Returns how many. */
  breakAll(resource: string | undefined, graceful: boolean): number {
    const victims = this.select(resource);
    for (const s of victims) {
      if (graceful) s.end();
      else s.destroy();
    }
    return victims.length;
  }

  /** Sends each open watch a 410 Expired ERROR event and ends it, as after an etcd compaction. */
  expireAll(resource?: string): number {
    const victims = this.select(resource);
    for (const s of victims) {
      s.sendError(expired('The resourceVersion for the provided watch is too old.').toStatus());
      s.end();
    }
    return victims.length;
  }

  bookmarkAll(): void {
    for (const s of this.sessions) if (s.request.allowWatchBookmarks) s.bookmark();
  }

  closeAll(): void {
    for (const s of [...this.sessions]) s.destroy();
  }
}
