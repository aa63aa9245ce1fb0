/**
 * Network namespace handles. A Netns holds an open fd on a netns (a bind mount such as
 * /run/netns/x, or /proc/<pid>/ns/net) and runs synchronous code inside it on the main thread.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { NetlinkError } from './errors.js';
import { setnsAddon } from './native.js';

const OWN_NETNS = '/proc/thread-self/ns/net';

export class Netns {
  private open_ = true;

  private constructor(
    /** The namespace fd; valid until close(). */
    readonly fd: number,
    readonly path: string,
    /** nsfs device and inode: equal for two handles on the same namespace. */
    readonly id: string,
  ) {}

  /** Opens a network namespace by path. Typed errors: ENOENT (no such path), EINVAL (not a netns). */
  static open(path: string): Netns {
    const operation = `open network namespace "${path}"`;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new NetlinkError(e.code ?? 'EUNKNOWN', Math.abs(e.errno ?? 0), operation, e.message);
    }
    try {
      const addon = setnsAddon();
      let type: number;
      try {
        type = addon.nsType(fd);
      } catch {
        throw new NetlinkError('EINVAL', 22, operation, 'not a namespace file');
      }
      if (type !== addon.CLONE_NEWNET) throw new NetlinkError('EINVAL', 22, operation, 'not a network namespace');
      const stat = fstatSync(fd);
      return new Netns(fd, path, `${stat.dev}:${stat.ino}`);
    } catch (error) {
      closeSync(fd);
      if (error instanceof NetlinkError) throw error;
      const e = error as NodeJS.ErrnoException;
      throw new NetlinkError(e.code ?? 'EUNKNOWN', Math.abs(e.errno ?? 0), operation, e.message);
    }
  }

  /** The network namespace this thread is in now. */
  static current(): Netns {
    return Netns.open(OWN_NETNS);
  }

  get closed(): boolean {
    return !this.open_;
  }

  /**
   * Runs `fn` synchronously with this thread inside the namespace; always switches back, also
   * when `fn` throws. Sockets created and /proc/sys files opened in `fn` belong to this netns.
   * `fn` must not be async: code after an await would run back in the original namespace.
   * Nor should it start asynchronous work: a thread spawned meanwhile (e.g. the first libuv
   * threadpool use) would stay in this namespace for good.
   */
  run<T>(fn: () => T): T {
    if (!this.open_) throw new Error(`network namespace "${this.path}" handle is closed`);
    const result = setnsAddon().runInNetns(this.fd, fn);
    if (result instanceof Promise) {
      throw new TypeError('Netns.run() takes a synchronous function; an async one would leave the namespace at its first await');
    }
    return result;
  }

  sameAs(other: Netns): boolean {
    return this.id === other.id;
  }

  /** Releases the fd. Idempotent. */
  close(): void {
    if (!this.open_) return;
    this.open_ = false;
    closeSync(this.fd);
  }
}

/** Runs `fn` inside `netns`, or right here when `netns` is undefined. */
export function inNetns<T>(netns: Netns | undefined, fn: () => T): T {
  return netns ? netns.run(fn) : fn();
}
