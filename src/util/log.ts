/**
 * Structured logging (pino). Every component gets a child logger with `component` set.
 * Level from OVNIC_LOG_LEVEL (default info); destination from OVNIC_LOG_FILE or the
 * `dest` argument (a path), else stderr — never stdout, which belongs to the CNI result.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

let root: Logger | undefined;

export function rootLogger(dest?: string): Logger {
  if (!root) {
    const file = dest ?? process.env.OVNIC_LOG_FILE;
    root = pino(
      { level: process.env.OVNIC_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
      file ? pino.destination({ dest: file, mkdir: true, sync: true }) : pino.destination(2),
    );
  }
  return root;
}

export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ component, ...bindings });
}

/** A logger that drops everything: for libraries used where no logger was given. */
export const silentLogger: Logger = pino({ level: 'silent' });
