/**
 * The netlink sockets and namespace handles one driver invocation uses: a socket in ovsNetns,
 * the pod netns and a socket in it, opened once and closed together by close().
 */
import { Netns, Rtnl } from '../netlink/index.js';
import { invalidNetns } from './errors.js';
import type { NicPrepareEnv } from './types.js';

export interface AttachmentHandles {
  host: Rtnl;
  podNs: Netns;
  pod: Rtnl;
}

export class NetnsHandles {
  private opened: AttachmentHandles | undefined;
  private readonly toClose: Array<{ close(): void }> = [];

  /** The handles opened by an earlier open(), if any. */
  get current(): AttachmentHandles | undefined {
    return this.opened;
  }

  open(env: NicPrepareEnv): AttachmentHandles {
    if (this.opened) return this.opened;
    const host = this.keep(Rtnl.open(env.conf.ovsNetns));
    let podNs: Netns;
    try {
      podNs = this.keep(Netns.open(env.netns));
    } catch (err) {
      throw invalidNetns(env.netns, err);
    }
    const pod = this.keep(Rtnl.open(podNs));
    this.opened = { host, podNs, pod };
    return this.opened;
  }

  /** Closes `handle` together with the others. */
  keep<T extends { close(): void }>(handle: T): T {
    this.toClose.push(handle);
    return handle;
  }

  close(): void {
    for (const c of this.toClose.splice(0).reverse()) c.close();
    this.opened = undefined;
  }
}
