/**
 * Kubernetes Events (core/v1) about objects the controller manages. Repeats of the same event (same
 * object, type, reason and message) are aggregated into one Event whose `count` and `lastTimestamp` are
 * patched, as client-go's recorder does. Recording never throws: an API failure is logged and dropped.
 */
import { hostname } from 'node:os';
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { silentLogger, type Logger } from '../util/log.js';

export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  /** Logger for dropped events; default silent. */
  log?: Logger;
  /** Distinct events remembered for aggregation (oldest forgotten first). Default 4096. */
  cacheSize?: number;
  /** `reportingInstance` and `source.host`. Default the host name. */
  instance?: string;
  /** Clock, for tests. */
  now?: () => Date;
}

/** core/v1 Event messages are cut to this many characters. */
export const MAX_MESSAGE_LENGTH = 1024;

interface Aggregate {
  namespace: string;
  name: string;
  count: number;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function apiCode(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly log: Logger;
  private readonly cacheSize: number;
  private readonly instance: string;
  private readonly now: () => Date;
  private readonly seen = new Map<string, Aggregate>();
  /** Per-key chains so concurrent repeats aggregate instead of racing to create. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private sequence = 0;

  constructor(kc: KubeConfig, private readonly component: string, options: EventRecorderOptions = {}) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.log = options.log ?? silentLogger;
    this.cacheSize = options.cacheSize ?? 4096;
    this.instance = options.instance ?? hostname();
    this.now = options.now ?? (() => new Date());
  }

  record(obj: EventSubject, type: EventType, reason: string, message: string): Promise<void> {
    const msg = message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : message;
    const namespace = obj.metadata.namespace ?? 'default';
    const key = [namespace, obj.kind, obj.metadata.name, obj.metadata.uid ?? '', type, reason, msg].join('\u0000');
    const previous = this.inFlight.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.emit(key, obj, namespace, type, reason, msg)).catch((err: unknown) => {
      this.log.warn({ err, reason, object: `${namespace}/${obj.metadata.name}` }, 'event dropped');
    });
    this.inFlight.set(key, next);
    void next.then(() => {
      if (this.inFlight.get(key) === next) this.inFlight.delete(key);
    });
    return next;
  }

  private async emit(key: string, obj: EventSubject, namespace: string, type: EventType, reason: string, message: string): Promise<void> {
    const now = this.now();
    const seen = this.seen.get(key);
    if (seen !== undefined) {
      try {
        await this.api.patchNamespacedEvent(
          { namespace: seen.namespace, name: seen.name, body: { count: seen.count + 1, lastTimestamp: now.toISOString() } },
          mergePatch,
        );
        seen.count += 1;
        this.touch(key, seen);
        return;
      } catch (err) {
        if (apiCode(err) !== 404) throw err;
        this.seen.delete(key); // the Event expired (TTL) or was deleted: start a new one
      }
    }
    const name = this.eventName(obj.metadata.name, now);
    const body: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        ...(obj.metadata.namespace === undefined ? {} : { namespace: obj.metadata.namespace }),
        ...(obj.metadata.uid === undefined ? {} : { uid: obj.metadata.uid }),
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component, host: this.instance },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
    await this.api.createNamespacedEvent({ namespace, body });
    this.touch(key, { namespace, name, count: 1 });
  }

  /** `<object>.<hex nanoseconds>` as client-go names Events, plus a sequence so one millisecond never collides. */
  private eventName(objectName: string, now: Date): string {
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
    const suffix = `.${nanos.toString(16)}`;
    return `${objectName.slice(0, 253 - suffix.length)}${suffix}`;
  }

  private touch(key: string, agg: Aggregate): void {
    this.seen.delete(key);
    this.seen.set(key, agg);
    while (this.seen.size > this.cacheSize) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
  }
}
