/**
 * Periodic GC of the node daemon: OVS ports ovnic made for Kubernetes pods (those recording
 * `ovnic_pod_uid`) whose pod is gone — not in the pod cache, or re-created with another uid —
 * are removed with what hangs off them (links, sockets), and their delegated IPAM allocation is
 * released when the network's configuration is known. This catches what a missed CNI DEL left
 * (kubelet restarts, node reboots, a DEL that failed for good).
 *
 * Safety: never before the pod cache's first full list, never while its watch is broken (a pod
 * created meanwhile would look gone), never for an attachment a request is working on, and only
 * for ports seen orphaned in two consecutive passes (a pod whose watch event is late survives).
 * Ports created without a pod uid (podman, plain runtimes) are never touched.
 */
import { parseNetConf, type OvnicNetConf } from '../cni/config.js';
import { IpamDelegate } from '../cni/ipam.js';
import { createCniLogger, type CniLogger } from '../cni/log.js';
import { EXTERNAL_ID, OVNIC_VENDOR } from '../cni/ownership.js';
import { createNicDriver } from '../nic/index.js';
import type { NicType } from '../cni/config.js';
import type { OvsPorts, PortRecord } from '../nic/ovs-port.js';
import { OVS, ovsOps } from '../ovs/index.js';
import type { Logger } from '../util/log.js';
import type { DaemonMetrics } from './metrics.js';
import type { OvsdbPool } from './ovsdb-pool.js';
import type { PodCache } from './pods.js';
import type { InFlightAttachments, NetworkConfigs } from './state.js';

export interface PortGcOptions {
  pool: OvsdbPool;
  pods: PodCache;
  /** The OVSDB whose ports are collected (the daemon's --ovsdb). */
  remote: string;
  /** Time between passes; 0 disables the timer (runOnce() still works). */
  intervalMs: number;
  inFlight: InFlightAttachments;
  networks: NetworkConfigs;
  metrics: DaemonMetrics;
  log: Logger;
  /** ovsNetns for networks no request has shown the configuration of since the daemon started. */
  ovsNetns?: string;
}

export interface GcPass {
  /** Why nothing was looked at. */
  skipped?: string;
  /** Ports whose pod is gone, seen for the first time in this pass (removed by the next one if still gone). */
  suspects: string[];
  /** Ports removed, by name. */
  removed: string[];
  /** Ports that could not be removed, with the reason. */
  failed: string[];
}

interface Candidate {
  interfaceUuid: string;
  network: string;
  containerId: string;
  ifname: string;
  podNamespace: string;
  podName: string;
  podUid: string;
}

export class PortGc {
  /** interface uuid → number of the pass that first saw its pod gone. */
  private readonly suspects = new Map<string, number>();
  private pass = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<GcPass> | undefined;
  private stopped = false;

  constructor(private readonly opts: PortGcOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass now (passes never overlap: a call during a pass waits for it and returns its report). */
  runOnce(): Promise<GcPass> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped || this.opts.intervalMs <= 0) return;
    this.timer = setTimeout(() => {
      this.runOnce()
        .catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'GC pass failed'))
        .finally(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private async sweep(): Promise<GcPass> {
    const { pods, metrics, log } = this.opts;
    const report: GcPass = { suspects: [], removed: [], failed: [] };
    if (!pods.synced || !pods.healthy) {
      report.skipped = pods.synced ? `pod watch broken: ${pods.error ?? 'restarting'}` : 'pod cache not synced yet';
      this.suspects.clear();
      metrics.gcRuns.inc({ outcome: 'skipped' });
      return report;
    }
    this.pass++;
    const ovs = await this.opts.pool.ports(this.opts.remote, 2000);
    const candidates = await this.orphanCandidates(ovs);
    const confirmed: Candidate[] = [];
    const seen = new Set<string>();
    for (const c of candidates) {
      seen.add(c.interfaceUuid);
      const first = this.suspects.get(c.interfaceUuid);
      if (first === undefined) {
        this.suspects.set(c.interfaceUuid, this.pass);
        report.suspects.push(`${c.podNamespace}/${c.podName} ${c.ifname}`);
      } else if (first < this.pass) {
        confirmed.push(c);
      }
    }
    for (const uuid of [...this.suspects.keys()]) if (!seen.has(uuid)) this.suspects.delete(uuid);

    const byNetwork = new Map<string, Candidate[]>();
    for (const c of confirmed) byNetwork.set(c.network, [...(byNetwork.get(c.network) ?? []), c]);
    for (const [network, list] of byNetwork) {
      const records = await ovs.findByNetwork(network);
      for (const c of list) {
        const rec = records.find((r) => r.interfaceUuid === c.interfaceUuid);
        this.suspects.delete(c.interfaceUuid);
        if (!rec) continue; // removed meanwhile (a CNI DEL)
        if (this.opts.inFlight.has(c.containerId, c.ifname)) continue;
        try {
          await this.remove(ovs, network, rec);
          report.removed.push(rec.name);
          metrics.gcPorts.inc({ result: 'removed' });
          log.info({ port: rec.name, pod: `${c.podNamespace}/${c.podName}`, podUid: c.podUid, containerId: c.containerId, ifname: c.ifname }, 'removed the port of a deleted pod');
        } catch (err) {
          report.failed.push(`${rec.name}: ${(err as Error).message}`);
          metrics.gcPorts.inc({ result: 'failed' });
          log.warn({ port: rec.name, err: (err as Error).message }, 'GC could not remove the port of a deleted pod');
        }
      }
    }
    metrics.gcRuns.inc({ outcome: 'done' });
    return report;
  }

  /** ovnic ports of Kubernetes pods whose pod is not in the cache (or is another pod of the same name), not being worked on. */
  private async orphanCandidates(ovs: OvsPorts): Promise<Candidate[]> {
    const [rows] = await ovs.client.transact(OVS, [
      ovsOps.select('Interface', [['external_ids', 'includes', { [EXTERNAL_ID.vendor]: OVNIC_VENDOR }]], ['_uuid', 'external_ids']),
    ]);
    const out: Candidate[] = [];
    for (const row of rows) {
      const ids = row.external_ids;
      const c: Candidate = {
        interfaceUuid: row._uuid,
        network: ids[EXTERNAL_ID.network] ?? '',
        containerId: ids[EXTERNAL_ID.containerId] ?? '',
        ifname: ids[EXTERNAL_ID.ifname] ?? '',
        podNamespace: ids[EXTERNAL_ID.podNamespace] ?? '',
        podName: ids[EXTERNAL_ID.podName] ?? '',
        podUid: ids[EXTERNAL_ID.podUid] ?? '',
      };
      if (!c.network || !c.containerId || !c.ifname || !c.podNamespace || !c.podName || !c.podUid) continue;
      if (this.opts.inFlight.has(c.containerId, c.ifname)) continue;
      const pod = this.opts.pods.get(c.podNamespace, c.podName);
      if (pod && pod.metadata?.uid === c.podUid) continue;
      out.push(c);
    }
    return out;
  }

  private async remove(ovs: OvsPorts, network: string, rec: PortRecord): Promise<void> {
    const remembered = this.opts.networks.get(network);
    const conf = remembered?.conf ?? this.fallbackConf(network);
    const owner = rec.owner;
    const log: CniLogger & { close(): void } = createCniLogger({ level: conf.logLevel ?? 'info', file: conf.logFile, bindings: { component: 'daemon-gc', network } });
    try {
      if (rec.portUuid) await ovs.unplug([rec.portUuid]);
      const driver = createNicDriver((owner?.nicType ?? conf.nicType) as NicType);
      try {
        await driver.gc({ conf, ovs, log }, rec);
      } finally {
        driver.close();
      }
      if (remembered?.conf.ipam && owner) {
        await new IpamDelegate({
          type: remembered.conf.ipam.type,
          cniPath: remembered.cniPath,
          env: { ...remembered.env, CNI_CONTAINERID: owner.containerId, CNI_IFNAME: owner.ifname, CNI_NETNS: '' },
          stdin: remembered.rawConfig,
          cniVersion: remembered.conf.cniVersion,
          log,
        }).del();
      }
    } finally {
      log.close();
    }
  }

  /** The settings of a network no request has shown since the daemon started: the defaults, the daemon's OVSDB and ovsNetns. */
  private fallbackConf(network: string): OvnicNetConf {
    const raw: Record<string, unknown> = { cniVersion: '1.1.0', name: network, type: 'ovnic', ovsdb: this.opts.remote };
    if (this.opts.ovsNetns) raw.ovsNetns = this.opts.ovsNetns;
    return parseNetConf(raw, '1.1.0', 'DEL');
  }
}
