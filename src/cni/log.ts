/**
 * The CNI-path logger: pino-compatible JSON lines (level numbers, time, pid, msg, bindings),
 * written synchronously to a log file or stderr — never stdout, which carries the CNI result.
 *
 * It exists so a CNI invocation does not load pino (~15 ms of start-up) just to maybe log a line:
 * the long-running daemon and controller use src/util/log.ts.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogLevel } from './config.js';

const LEVEL_VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

type LogFn = {
  (msg: string): void;
  (fields: Record<string, unknown>, msg?: string): void;
};

export interface CniLogger {
  readonly level: LogLevel;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  isLevelEnabled(level: LogLevel): boolean;
  child(bindings: Record<string, unknown>): CniLogger;
}

export interface CniLoggerOptions {
  level: LogLevel;
  /** Absolute path to append to; undefined = stderr. */
  file?: string;
  bindings?: Record<string, unknown>;
}

/** One destination (fd) shared by a logger and its children; opened on the first enabled line. */
class Sink {
  private fd: number | undefined;
  constructor(private readonly file: string | undefined) {}

  write(line: string): void {
    if (this.fd === undefined) {
      if (this.file) {
        try {
          mkdirSync(dirname(this.file), { recursive: true });
          this.fd = openSync(this.file, 'a');
        } catch {
          this.fd = 2;
        }
      } else {
        this.fd = 2;
      }
    }
    try {
      writeSync(this.fd, line);
    } catch {
      // logging must never fail a CNI operation
    }
  }

  close(): void {
    if (this.fd !== undefined && this.fd > 2) closeSync(this.fd);
    this.fd = undefined;
  }
}

function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  const extra = err as unknown as Record<string, unknown>;
  for (const key of ['code', 'msg', 'details']) if (extra[key] !== undefined) out[key] = extra[key];
  return out;
}

function makeLogger(sink: Sink, level: LogLevel, bindings: Record<string, unknown>): CniLogger {
  const threshold = LEVEL_VALUES[level];
  const emit = (lvl: LogLevel) =>
    ((a: string | Record<string, unknown>, b?: string): void => {
      const value = LEVEL_VALUES[lvl];
      if (value < threshold) return;
      const entry: Record<string, unknown> = { level: value, time: Date.now(), pid: process.pid, ...bindings };
      if (typeof a === 'string') entry.msg = a;
      else {
        for (const [k, v] of Object.entries(a)) entry[k] = v instanceof Error ? serializeError(v) : v;
        if (b !== undefined) entry.msg = b;
      }
      let line: string;
      try {
        line = JSON.stringify(entry);
      } catch {
        line = JSON.stringify({ level: value, time: entry.time, pid: process.pid, msg: String(entry.msg ?? '') });
      }
      sink.write(`${line}\n`);
    }) as LogFn;
  return {
    level,
    trace: emit('trace'),
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    isLevelEnabled: (l) => LEVEL_VALUES[l] >= threshold,
    child: (more) => makeLogger(sink, level, { ...bindings, ...more }),
  };
}

export function createCniLogger(options: CniLoggerOptions): CniLogger & { close(): void } {
  const sink = new Sink(options.file);
  return Object.assign(makeLogger(sink, options.level, options.bindings ?? {}), { close: () => sink.close() });
}

export const silentCniLogger: CniLogger = makeLogger(new Sink(undefined), 'silent', {});

export function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in LEVEL_VALUES;
}
