/**
 * What an ADD has done so far, to be undone in reverse order when a later step fails.
 * Undo steps are best effort: a failing step is logged and the rest still run.
 */
import type { CniLogger } from '../cni/log.js';

interface UndoStep {
  what: string;
  run: () => Promise<unknown>;
}

export class UndoStack {
  private readonly steps: UndoStep[] = [];

  constructor(private readonly log: CniLogger) {}

  /** Registers the inverse of something just done; `what` names it in logs. */
  push(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  get size(): number {
    return this.steps.length;
  }

  /** Runs every step, newest first; returns the failures (already logged). */
  async unwind(): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop() as UndoStep;
      try {
        await step.run();
        this.log.debug({ undo: step.what }, 'rolled back');
      } catch (err) {
        const message = `${step.what}: ${(err as Error).message}`;
        failures.push(message);
        this.log.warn({ undo: step.what, err }, 'rollback step failed');
      }
    }
    return failures;
  }

  /** Forget everything (the operation succeeded). */
  clear(): void {
    this.steps.length = 0;
  }
}
