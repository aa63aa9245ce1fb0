/**
 * The ovnic CNI operations, dispatched by skel.ts. What every NIC type shares lives here —
 * delegated IPAM, the OVSDB connection, ownership lookups, unplugging, the OVN binding wait,
 * the result and rollback; the NIC specifics are in src/nic/<type>.ts (see src/nic/types.ts).
 *
 *  ADD    IPAM (a child process) runs while OVSDB is connected and the driver checks its
 *         preconditions; then the driver creates and plugs the NIC; then ADD waits for
 *         `external_ids:ovn-installed=true` (ovnWait) or for ovs-vswitchd to attach the port.
 *         Any failure undoes every step done so far, including the IPAM allocation.
 *  DEL    a function of (CNI_CONTAINERID, CNI_IFNAME) only: OVS ports found by external_ids,
 *         links by deterministic names, IPAM DEL. Idempotent; CNI_NETNS may be empty or gone.
 *  CHECK  prevResult's part for this attachment against the netns, the OVS port and the OVN binding.
 *  GC     every ovnic port of this network not in cni.dev/valid-attachments: port, links, IPAM
 *         allocation; continues past failures and reports all of them.
 *  STATUS 50 when OVSDB is unreachable, the bridge or ovsNetns is missing.
 */
import { existsSync } from 'node:fs';
import { CniError, CniErrorCode, invalidConfig, toCniError } from './errors.js';
import { appendResult, isDnsEmpty, type CniResult } from './result.js';
import { attachmentKey, buildExternalIds, isStale } from './ownership.js';
import { IpamDelegate } from './ipam.js';
import type { NicType } from './config.js';
import type { AttachmentContext, CniHandlers, NetworkContext, OvsConnector } from './skel.js';
import {
  BridgeMissingError,
  OvnBindingTimeoutError,
  OvnicErrorCode,
  OvsPorts,
  PortNameTakenError,
  UndoStack,
  createNicDriver,
  faultHookFromEnv,
  type NicDriver,
  type NicEnv,
  type NicPlan,
  type PortRecord,
} from '../nic/index.js';
import { isOvsdbTransient, ovsdbUnavailable } from '../nic/errors.js';
import { addressesWithoutIpam, generateMac, ownPartOf, routesFor } from '../nic/plan.js';

const STATUS_CONNECT_TIMEOUT_MS = 2000;

/** Milliseconds per phase, for the operation's log line. */
class Phases {
  private last = process.hrtime.bigint();
  readonly ms: Record<string, number> = {};

  mark(name: string): void {
    const now = process.hrtime.bigint();
    this.ms[name] = Math.round(Number(now - this.last) / 1e4) / 100;
    this.last = now;
  }
}

/** The operation's OVSDB connection: the node daemon's shared one when it lends it, else a new one. */
async function connectOvs(ctx: { connectOvs?: OvsConnector }, remote: string, timeoutMs?: number): Promise<OvsPorts> {
  try {
    if (ctx.connectOvs) return await ctx.connectOvs(remote, timeoutMs);
    return await OvsPorts.connect(remote, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (err) {
    throw ovsdbUnavailable(remote, err);
  }
}

/** Lower-layer failures as CNI errors with codes a runtime can act on. */
function asCniError(err: unknown, ctx: { conf: { bridge: string; ovsdb: string } }): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof BridgeMissingError) {
    return new CniError(CniErrorCode.TryAgainLater, `OVS bridge "${err.bridge}" does not exist`, `create it (ovn-controller does for br-int) or fix "bridge"; OVSDB ${ctx.conf.ovsdb}`);
  }
  if (err instanceof PortNameTakenError) return new CniError(OvnicErrorCode.Conflict, err.message);
  if (err instanceof OvnBindingTimeoutError) {
    return new CniError(
      CniErrorCode.TryAgainLater,
      `timed out after ${err.timeoutMs} ms waiting for OVN to bind the port`,
      `${err.message}. Check that logical switch port "${err.ifaceId ?? '?'}" exists in the OVN northbound database and ` +
        'ovn-controller runs on this node; where no ovn-controller runs, set "ovnWait": {"enabled": false}',
    );
  }
  if (isOvsdbTransient(err)) return new CniError(CniErrorCode.TryAgainLater, `OVSDB at ${ctx.conf.ovsdb} failed`, (err as Error).message);
  return toCniError(err);
}

function nicEnv(ctx: AttachmentContext, ovs: OvsPorts, fault = faultHookFromEnv(ctx.rawEnv)): NicEnv {
  return { conf: ctx.conf, identity: ctx.identity, netns: ctx.env.netns, ifname: ctx.env.ifname, ovs, log: ctx.log, fault };
}

async function add(ctx: AttachmentContext): Promise<CniResult> {
  const { conf, env, identity, log } = ctx;
  const fault = faultHookFromEnv(ctx.rawEnv);
  const ipam = ctx.ipam();
  const driver = createNicDriver(conf.nicType);
  const undo = new UndoStack(log);
  const phases = new Phases();
  let ovs: OvsPorts | undefined;
  // IPAM is a child process and the OVSDB connection is asynchronous: start both, then let the
  // driver check its preconditions (and load netlink) while they run.
  const allocation = ipam?.add();
  allocation?.catch(() => undefined);
  const connecting = connectOvs(ctx, conf.ovsdb);
  connecting.catch(() => undefined);
  try {
    // let the IPAM child be spawned before prepare() blocks the thread loading netlink
    await new Promise((resolve) => setImmediate(resolve));
    await driver.prepare?.({ conf, identity, netns: env.netns, ifname: env.ifname, log, fault });
    phases.mark('prepare');
    ovs = await connecting;
    phases.mark('connect');
    const nic = nicEnv(ctx, ovs, fault);
    const allocated = allocation ? await allocation : undefined;
    phases.mark('ipam');
    const ips = allocated ? allocated.ips : addressesWithoutIpam(ctx.requested.ips);
    fault('ipam');

    const routes = routesFor(allocated?.routes ?? [], ips);
    const mac = ctx.requested.mac ?? generateMac(ips, identity.containerId, env.ifname);
    const plan: NicPlan = {
      mac,
      ips: conf.guestOwnsAddresses ? [] : ips,
      routes: conf.guestOwnsAddresses ? [] : routes,
      externalIds: (extra) =>
        buildExternalIds({
          identity,
          netns: env.netns,
          nicType: conf.nicType,
          ...(conf.ipam ? { ipamType: conf.ipam.type } : {}),
          ips: ips.map((ip) => ip.address),
          ...(extra ? { extra } : {}),
        }),
    };
    if (conf.mtu !== undefined) plan.mtu = conf.mtu;

    const added = await driver.add(nic, plan, undo);
    phases.mark('nic');
    if (conf.ovnWait.enabled) await ovs.waitOvnInstalled(added.portName, conf.ovnWait.timeoutMs);
    else await ovs.waitAttached(added.portName, conf.ovnWait.timeoutMs);
    phases.mark(conf.ovnWait.enabled ? 'ovnBinding' : 'attach');
    fault('ovn-binding');

    const own: CniResult = {
      interfaces: added.interfaces,
      ips: ips.map((ip) => ({ ...ip, interface: added.ipInterface })),
      routes,
      dns: conf.dns && !isDnsEmpty(conf.dns) ? conf.dns : (allocated?.dns ?? {}),
    };
    if (added.resultExtensions) own.extensions = added.resultExtensions;
    const result = conf.prevResult ? appendResult(conf.prevResult, own) : own;
    fault('result');
    undo.clear();
    log.info({ port: added.portName, ifaceId: identity.ifaceId, mac, ips: ips.map((ip) => ip.address), phasesMs: phases.ms }, 'attachment added');
    return result;
  } catch (err) {
    const failures = await undo.unwind();
    if (allocation && ipam) {
      await allocation.catch(() => undefined);
      try {
        await ipam.del();
      } catch (delErr) {
        failures.push(`IPAM DEL: ${(delErr as Error).message}`);
        log.warn({ err: delErr }, 'IPAM DEL during ADD rollback failed');
      }
    }
    const cniErr = asCniError(err, ctx);
    if (failures.length > 0) log.error({ failures }, 'ADD rollback incomplete: DEL of this attachment will retry');
    throw cniErr;
  } finally {
    driver.close();
    if (ovs) ovs.close();
    else void connecting.then((late) => late.close(), () => undefined);
  }
}

/** Drivers for the NIC types recorded on the found ports, plus the configured one (for deterministic names). */
function driversFor(conf: { nicType: NicType }, recorded: readonly PortRecord[]): Map<NicType, PortRecord[]> {
  const byType = new Map<NicType, PortRecord[]>([[conf.nicType, []]]);
  for (const rec of recorded) {
    const type = (rec.owner?.nicType ?? conf.nicType) as NicType;
    const list = byType.get(type) ?? [];
    list.push(rec);
    byType.set(type, list);
  }
  return byType;
}

async function del(ctx: AttachmentContext): Promise<void> {
  const { conf, env, log } = ctx;
  const failures: CniError[] = [];
  const phases = new Phases();
  const nicEnv = { conf, identity: ctx.identity, netns: env.netns, ifname: env.ifname, log };
  const removeNics = async (recorded: readonly PortRecord[]): Promise<void> => {
    for (const [type, records] of driversFor(conf, recorded)) {
      let driver: NicDriver | undefined;
      try {
        driver = createNicDriver(type);
        await driver.del(nicEnv, records);
      } catch (err) {
        failures.push(asCniError(err, ctx));
      } finally {
        driver?.close();
      }
    }
  };

  // Three independent parts run at once: the IPAM release (a child process), the OVS lookup and
  // unplug, and the removal of the links by their deterministic names.
  const ipamDel = (async () => ctx.ipam()?.del())().catch((err: unknown) => {
    failures.push(toCniError(err));
  });
  const unplugged = (async (): Promise<PortRecord[]> => {
    let ovs: OvsPorts | undefined;
    try {
      ovs = await connectOvs(ctx, conf.ovsdb);
      const recorded = await ovs.findByAttachment(env.containerId, env.ifname);
      await ovs.unplug(recorded.flatMap((r) => (r.portUuid ? [r.portUuid] : [])));
      return recorded;
    } catch (err) {
      failures.push(asCniError(err, ctx));
      return [];
    } finally {
      ovs?.close();
    }
  })();
  await removeNics([]);
  phases.mark('nic');
  const recorded = await unplugged;
  phases.mark('ovs');
  // links recorded under another name than the deterministic one (normally none)
  if (recorded.length > 0) await removeNics(recorded);
  await ipamDel;
  phases.mark('ipam');

  if (failures.length > 0) {
    const [first] = failures as [CniError, ...CniError[]];
    throw new CniError(first.code, first.msg, failures.map((f) => f.message).join('; '));
  }
  log.info({ ports: recorded.map((r) => r.name), phasesMs: phases.ms }, 'attachment deleted');
}

async function check(ctx: AttachmentContext): Promise<void> {
  const { conf, env, identity } = ctx;
  const prev = conf.prevResult;
  if (!prev) throw invalidConfig('CHECK needs prevResult', 'the runtime must pass the result of ADD as prevResult');
  const own = ownPartOf(prev, env.ifname, env.netns);
  const problems: string[] = [];
  if (!own.iface) problems.push(`prevResult lists no interface "${env.ifname}" in ${env.netns}`);

  const ovs = await connectOvs(ctx, conf.ovsdb);
  const driver = createNicDriver(conf.nicType);
  try {
    const recorded = await ovs.findByAttachment(env.containerId, env.ifname);
    if (recorded.length === 0) {
      problems.push(`no OVS port is recorded for container ${env.containerId} ifname ${env.ifname}`);
    } else {
      if (recorded.length > 1) problems.push(`${recorded.length} OVS ports are recorded for this attachment: ${recorded.map((r) => r.name).join(', ')}`);
      const rec = recorded[0] as PortRecord;
      const ifaceId = rec.externalIds['iface-id'];
      if (ifaceId !== identity.ifaceId) {
        problems.push(ifaceId ? `OVS port "${rec.name}" has iface-id "${ifaceId}", expected "${identity.ifaceId}"` : `OVS port "${rec.name}" has no iface-id (taken by another interface?), expected "${identity.ifaceId}"`);
      }
      const bridge = rec.portUuid ? await ovs.bridgeOf(rec.portUuid) : undefined;
      if (bridge !== conf.bridge) problems.push(`OVS port "${rec.name}" is ${bridge ? `on bridge "${bridge}"` : 'on no bridge'}, expected "${conf.bridge}"`);
      if (rec.error) problems.push(`OVS reports an error on "${rec.name}": ${rec.error}`);
      else if (rec.ofport === undefined || rec.ofport < 0) problems.push(`OVS has not attached "${rec.name}" (ofport ${rec.ofport ?? 'unset'})`);
      if (conf.ovnWait.enabled && rec.externalIds['ovn-installed'] !== 'true') {
        problems.push(`OVN has not bound "${rec.name}" (external_ids:ovn-installed is not "true")`);
      }
      const expected = { iface: own.iface, ips: conf.guestOwnsAddresses ? [] : own.ips, routes: conf.guestOwnsAddresses ? [] : own.routes, ...(conf.mtu !== undefined ? { mtu: conf.mtu } : {}) };
      problems.push(...(await driver.check(nicEnv(ctx, ovs), expected, rec)));
    }
  } catch (err) {
    throw asCniError(err, ctx);
  } finally {
    driver.close();
    ovs.close();
  }
  if (problems.length > 0) throw new CniError(OvnicErrorCode.CheckFailed, `CHECK failed for ${env.ifname} of container ${env.containerId}`, problems.join('; '));
  await ctx.ipam()?.check();
}

async function gc(ctx: NetworkContext): Promise<void> {
  const { conf, env, log } = ctx;
  const valid = new Set((conf.validAttachments ?? []).map((a) => attachmentKey(a.containerID, a.ifname)));
  const failures: string[] = [];
  let removed = 0;
  let orphans = 0;
  let stale: PortRecord[] = [];
  const ovs = await connectOvs(ctx, conf.ovsdb);
  try {
    stale = (await ovs.findByNetwork(conf.name)).filter((r) => r.owner !== undefined && isStale(r.owner, conf.name, valid));
    for (const rec of stale) {
      const owner = rec.owner as NonNullable<PortRecord['owner']>;
      const label = `container ${owner.containerId} ifname ${owner.ifname} (port ${rec.name})`;
      let driver: NicDriver | undefined;
      try {
        if (rec.portUuid) await ovs.unplug([rec.portUuid]);
        driver = createNicDriver((owner.nicType ?? conf.nicType) as NicType);
        await driver.gc({ conf, ovs, log }, rec);
        if (conf.ipam) {
          await new IpamDelegate({
            type: conf.ipam.type,
            cniPath: env.path,
            env: { ...ctx.rawEnv, CNI_CONTAINERID: owner.containerId, CNI_IFNAME: owner.ifname, CNI_NETNS: '' },
            stdin: ctx.rawConfig,
            cniVersion: conf.cniVersion,
            log,
          }).del();
        }
        removed++;
        log.info({ port: rec.name, containerId: owner.containerId, ifname: owner.ifname }, 'stale attachment removed');
      } catch (err) {
        failures.push(`${label}: ${(err as Error).message}`);
        log.warn({ port: rec.name, err }, 'GC of a stale attachment failed');
      } finally {
        driver?.close();
      }
    }
    // what the NIC type keeps outside OVS for attachments whose port is gone already
    const orphanDriver = createNicDriver(conf.nicType);
    try {
      orphans = (await orphanDriver.gcOrphans?.({ conf, ovs, log }, (containerId, ifname) => valid.has(attachmentKey(containerId, ifname)))) ?? 0;
    } catch (err) {
      failures.push(`${conf.nicType} leftovers: ${(err as Error).message}`);
    } finally {
      orphanDriver.close();
    }
  } catch (err) {
    throw asCniError(err, ctx);
  } finally {
    ovs.close();
  }
  try {
    await ctx.ipam()?.gc();
  } catch (err) {
    failures.push(`IPAM GC: ${(err as Error).message}`);
  }
  log.info({ stale: stale.length, removed, orphans, failures: failures.length }, 'GC done');
  if (failures.length > 0) {
    throw new CniError(OvnicErrorCode.GcIncomplete, `GC removed ${removed} of ${stale.length} stale attachments, ${failures.length} failures`, failures.join('; '));
  }
}

async function status(ctx: NetworkContext): Promise<void> {
  const { conf } = ctx;
  let ovs: OvsPorts;
  try {
    ovs = ctx.connectOvs ? await ctx.connectOvs(conf.ovsdb, STATUS_CONNECT_TIMEOUT_MS) : await OvsPorts.connect(conf.ovsdb, { timeoutMs: STATUS_CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw new CniError(CniErrorCode.NotAvailable, `OVSDB at ${conf.ovsdb} is not reachable`, (err as Error).message);
  }
  try {
    if (!(await ovs.bridgeExists(conf.bridge))) {
      throw new CniError(CniErrorCode.NotAvailable, `OVS bridge "${conf.bridge}" does not exist`, `OVSDB ${conf.ovsdb}`);
    }
    const driver = createNicDriver(conf.nicType);
    try {
      await driver.status?.({ conf, ovs, log: ctx.log });
    } finally {
      driver.close();
    }
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw new CniError(CniErrorCode.NotAvailable, `OVSDB at ${conf.ovsdb} did not answer`, (err as Error).message);
  } finally {
    ovs.close();
  }
  if (conf.ovsNetns && !existsSync(conf.ovsNetns)) {
    throw new CniError(CniErrorCode.NotAvailable, `ovsNetns ${conf.ovsNetns} does not exist`);
  }
  await ctx.ipam()?.status();
}

export const handlers: CniHandlers = { add, del, check, gc, status };
