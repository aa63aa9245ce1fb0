/**
 * Events are sent in the background with bounded concurrency and a bounded backlog: a burst of
 * thousands of NicPorts must not hold thousands of HTTP requests (and their buffers) in memory, nor slow
 * the reconciles. When the backlog is full the oldest event is dropped (events are best effort).
 */
import type { EventSink, EventSubject } from './reconciler.js';

interface Pending {
  subject: EventSubject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export class EventQueue {
  private readonly backlog: Pending[] = [];
  private head = 0;
  private running = 0;
  private idle: Array<() => void> = [];
  dropped = 0;

  constructor(
    private readonly sink: EventSink,
    private readonly concurrency = 4,
    private readonly maxBacklog = 2000,
  ) {}

  push(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.backlog.length - this.head >= this.maxBacklog) {
      this.head++;
      this.dropped++;
    }
    this.backlog.push({ subject, type, reason, message });
    this.pump();
  }

  get size(): number {
    return this.backlog.length - this.head + this.running;
  }

  /** Resolves when every queued event was sent (or failed). */
  flush(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.head < this.backlog.length) {
      const e = this.backlog[this.head++] as Pending;
      if (this.head > 256 && this.head * 2 > this.backlog.length) {
        this.backlog.splice(0, this.head);
        this.head = 0;
      }
      this.running++;
      this.sink.record(e.subject, e.type, e.reason, e.message).catch(() => undefined).finally(() => {
        this.running--;
        this.pump();
        if (this.size === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }
}
