/**
 * NB writes of concurrent reconciles, batched: operations submitted in the same event-loop turn (up to
 * `maxOps`) go out as one transaction. If a batched transaction fails on an operation, each submission
 * is retried alone, so one bad port cannot fail the others. Every transaction is counted.
 */
import { NB, OvsdbOperationError, type Operation, type OvsdbClient } from '../ovs/index.js';

export interface NbWriterOptions {
  maxOps?: number;
  /** Called once per transaction sent: result "ok" or "error". */
  onTransaction?: (result: 'ok' | 'error', ops: number) => void;
  timeoutMs?: number;
}

interface Submission {
  ops: readonly Operation<unknown>[];
  resolve: (results: unknown[]) => void;
  reject: (err: unknown) => void;
}

export class NbWriter {
  private pending: Submission[] = [];
  private pendingOps = 0;
  private scheduled = false;
  private seq = 0;
  private readonly maxOps: number;

  constructor(
    private readonly client: OvsdbClient,
    private readonly opts: NbWriterOptions = {},
  ) {
    this.maxOps = opts.maxOps ?? 400;
  }

  /** A uuid-name unique across the batch a submission may land in. */
  uuidName(prefix = 'row'): string {
    return `${prefix}${++this.seq}`;
  }

  /** Queues `ops` for the next transaction; resolves with their results. */
  submit(ops: readonly Operation<unknown>[]): Promise<unknown[]> {
    if (ops.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, resolve, reject });
      this.pendingOps += ops.length;
      if (this.pendingOps >= this.maxOps) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingOps = 0;
    void this.send(batch);
  }

  private async send(batch: Submission[]): Promise<void> {
    const ops = batch.flatMap((s) => s.ops);
    try {
      const results = await this.transact(ops);
      let i = 0;
      for (const s of batch) {
        s.resolve(results.slice(i, i + s.ops.length));
        i += s.ops.length;
      }
    } catch (err) {
      if (batch.length > 1 && err instanceof OvsdbOperationError) {
        for (const s of batch) {
          this.transact(s.ops).then(s.resolve, s.reject);
        }
        return;
      }
      for (const s of batch) s.reject(err);
    }
  }

  private async transact(ops: readonly Operation<unknown>[]): Promise<unknown[]> {
    try {
      const r = await this.client.transact(NB, ops, this.opts.timeoutMs === undefined ? {} : { timeoutMs: this.opts.timeoutMs });
      this.opts.onTransaction?.('ok', ops.length);
      return r as unknown[];
    } catch (err) {
      this.opts.onTransaction?.('error', ops.length);
      throw err;
    }
  }
}
