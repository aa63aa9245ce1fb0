/**
 * Structured logging (pino). Every component gets a child logger with `component` set.
 * Level from OVNIC_LOG_LEVEL (default info); destination from OVNIC_LOG_FILE or the
 * `dest` argument (a path), else stderr — never stdout, which belongs to the CNI result.
 *
 * pino is loaded on the first real logger (require, ~10 ms): libraries that only ever see
 * `silentLogger` (the OVSDB client inside a CNI invocation) never load it.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type pinoModule from 'pino';

export type { Logger };

type Pino = typeof pinoModule;

let pinoFactory: Pino | undefined;

function pino(): Pino {
  pinoFactory ??= createRequire(import.meta.url)('pino') as Pino;
  return pinoFactory;
}

let root: Logger | undefined;

export function rootLogger(dest?: string): Logger {
  if (!root) {
    const file = dest ?? process.env.OVNIC_LOG_FILE;
    const p = pino();
    root = p(
      { level: process.env.OVNIC_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
      file ? p.destination({ dest: file, mkdir: true, sync: true }) : p.destination(2),
    );
  }
  return root;
}

export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ component, ...bindings });
}

const noop = (): void => undefined;
const SILENT_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/**
 * A logger that drops everything: for libraries used where no logger was given. The logging
 * methods, `level`, `isLevelEnabled` and `child` answer without pino; anything else is
 * delegated to a real silent pino logger, created on first use.
 */
export const silentLogger: Logger = (() => {
  let real: Logger | undefined;
  const proxy: Logger = new Proxy({} as Logger, {
    get(_target, prop) {
      if (typeof prop === 'string' && SILENT_METHODS.has(prop)) return noop;
      if (prop === 'level') return 'silent';
      if (prop === 'isLevelEnabled') return () => false;
      if (prop === 'child') return () => proxy;
      real ??= pino()({ level: 'silent' });
      const value: unknown = Reflect.get(real, prop, real);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value;
    },
  });
  return proxy;
})();
