/**
 * What the node daemon remembers between requests: the attachments being worked on (the periodic
 * GC leaves them alone) and, per network, the last configuration a request carried (the periodic GC
 * removes a stale port with its network's settings and releases its delegated IPAM allocation).
 */
import { attachmentKey } from '../cni/ownership.js';
import type { OvnicNetConf } from '../cni/config.js';
import type { RawEnv } from '../cni/env.js';

export class InFlightAttachments {
  private readonly counts = new Map<string, number>();

  begin(containerId: string, ifname: string): () => void {
    const key = attachmentKey(containerId, ifname);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.counts.get(key) ?? 1) - 1;
      if (n <= 0) this.counts.delete(key);
      else this.counts.set(key, n);
    };
  }

  has(containerId: string, ifname: string): boolean {
    return this.counts.has(attachmentKey(containerId, ifname));
  }
}

export interface RememberedNetwork {
  conf: OvnicNetConf;
  /** stdin of the request (for the delegated IPAM plugin). */
  rawConfig: Buffer;
  /** CNI_PATH of the request. */
  cniPath: string[];
  /** The request's environment (without attachment variables). */
  env: RawEnv;
}

export class NetworkConfigs {
  private readonly byName = new Map<string, RememberedNetwork>();

  remember(entry: RememberedNetwork): void {
    this.byName.set(entry.conf.name, entry);
  }

  get(network: string): RememberedNetwork | undefined {
    return this.byName.get(network);
  }
}
