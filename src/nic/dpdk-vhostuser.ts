/**
 * dpdk-vhostuser NIC (NFV VMs on OVS-DPDK): an OVS `dpdkvhostuserclient` port whose
 * `options:vhost-server-path` is a socket in a per-attachment directory under `vhostSocketDir`.
 * The VM (qemu, vhost-user server) creates the socket; ovs-vswitchd connects to it as the client,
 * so either side can restart. Nothing is created in CNI_NETNS: the guest owns its addresses, the
 * result still carries the IPAM addresses and the MAC for it to use.
 *
 * ADD refuses, before creating anything, a bridge that is not on the userspace datapath and an
 * ovs-vswitchd without DPDK (Open_vSwitch iface_types / dpdk_version / dpdk_initialized); after
 * plugging it waits for ovs-vswitchd to configure the port and turns an Interface `error` into a
 * CNI error (rolled back). Fault steps: 'link' (socket directory), 'container-config' (nothing
 * to do in the netns), 'ovs-port'.
 *
 * Errors: 50 OVS has no DPDK · 7 bridge not netdev, socket path too long · 100 socket directory
 * of another attachment.
 */
import { stat } from 'node:fs/promises';
import { CniError, CniErrorCode, invalidConfig } from '../cni/errors.js';
import { hostLinkName } from '../cni/ownership.js';
import type { CniInterface } from '../cni/result.js';
import {
  DpdkError,
  assertVhostUserBridge,
  dpdkSupportProblem,
  ensureVhostSocketDir,
  interpretVhostUserInterface,
  listOrphanVhostSocketDirs,
  removeVhostSocketDir,
  vhostSocketLocation,
  vhostUserPortSpec,
  type VhostAttachment,
} from '../dpdk/index.js';
import { OVS, ovsOps } from '../ovs/index.js';
import { BridgeMissingError, type OvsPorts, type PortRecord } from './ovs-port.js';
import { OvnicErrorCode } from './errors.js';
import type { NicAdded, NicDelEnv, NicDriver, NicEnv, NicExpectation, NicGcEnv, NicPlan, NicPrepareEnv } from './types.js';
import type { UndoStack } from './undo.js';

const VHOST_USER_CLIENT = 'dpdkvhostuserclient';

export class DpdkVhostUserDriver implements NicDriver {
  readonly type = 'dpdk-vhostuser' as const;

  /** Checks that the socket path can work; changes nothing. */
  async prepare(env: NicPrepareEnv): Promise<void> {
    location(env, attachment(env));
  }

  async add(env: NicEnv, plan: NicPlan, undo: UndoStack): Promise<NicAdded> {
    const { conf } = env;
    const att = attachment(env);
    const portName = hostLinkName(env.identity.containerId, env.ifname);
    await assertOvsCanServe(env.ovs, conf.bridge);

    const dir = await guard(() => ensureVhostSocketDir(att, { baseDir: conf.vhostSocketDir }));
    undo.push(`remove vhost-user socket directory ${dir.dir}`, () => removeVhostSocketDir(att, { baseDir: conf.vhostSocketDir }));
    env.fault('link');
    env.fault('container-config');

    const spec = guardSync(() =>
      vhostUserPortSpec({
        name: portName,
        socketPath: dir.socketPath,
        externalIds: plan.externalIds(),
        ...(plan.mtu !== undefined ? { mtuRequest: plan.mtu } : {}),
      }),
    );
    const plugged = await env.ovs.plug({
      bridge: conf.bridge,
      name: spec.name,
      type: spec.type,
      options: spec.options,
      externalIds: spec.externalIds,
      ...(spec.mtuRequest !== undefined ? { mtuRequest: spec.mtuRequest } : {}),
    });
    undo.push(`remove OVS port ${portName}`, () => env.ovs.unplug([plugged.portUuid]));
    if (plugged.clearedIfaceIdFrom.length > 0) {
      env.log.info({ interfaces: plugged.clearedIfaceIdFrom }, 'took iface-id away from stale OVS interfaces');
    }
    await waitConfigured(env.ovs, portName, conf.ovnWait.timeoutMs);
    env.fault('ovs-port');

    const hostIface: CniInterface = { name: portName, socketPath: dir.socketPath };
    const vmIface: CniInterface = { name: env.ifname, mac: plan.mac, sandbox: env.netns, socketPath: dir.socketPath };
    if (plan.mtu !== undefined) vmIface.mtu = plan.mtu;
    return { interfaces: [hostIface, vmIface], ipInterface: 1, portName };
  }

  async del(env: NicDelEnv): Promise<void> {
    await guard(() => removeVhostSocketDir(attachment(env), { baseDir: env.conf.vhostSocketDir }));
  }

  async check(env: NicEnv, _expected: NicExpectation, recorded: PortRecord): Promise<string[]> {
    const problems: string[] = [];
    const { socketPath, dir } = location(env, attachment(env));
    if (recorded.type !== VHOST_USER_CLIENT) problems.push(`OVS port "${recorded.name}" has type "${recorded.type}", expected "${VHOST_USER_CLIENT}"`);
    const server = recorded.options['vhost-server-path'];
    if (server !== socketPath) problems.push(`OVS port "${recorded.name}" has vhost-server-path ${server ?? '(none)'}, expected ${socketPath}`);
    const state = interpretVhostUserInterface({ name: recorded.name, type: recorded.type, ...(recorded.error ? { error: recorded.error } : {}) });
    if (state.phase === 'failed') problems.push(state.message);
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (!isDir) problems.push(`vhost-user socket directory ${dir} is missing`);
    return problems;
  }

  async gc(env: NicGcEnv, stale: PortRecord): Promise<void> {
    const owner = stale.owner;
    if (!owner) return;
    const att = { containerId: owner.containerId, ifName: owner.ifname };
    await guard(() => removeVhostSocketDir(att, { baseDir: env.conf.vhostSocketDir }));
  }

  async gcOrphans(env: NicGcEnv, isValid: (containerId: string, ifname: string) => boolean): Promise<number> {
    const baseDir = env.conf.vhostSocketDir;
    const orphans = await listOrphanVhostSocketDirs([], { baseDir, network: env.conf.name });
    let removed = 0;
    for (const orphan of orphans) {
      if (isValid(orphan.containerId, orphan.ifName)) continue;
      if (await removeVhostSocketDir(orphan, { baseDir })) removed++;
    }
    return removed;
  }

  /** 50 when the bridge is not netdev or OVS has no DPDK. */
  async status(env: NicGcEnv): Promise<void> {
    try {
      await assertOvsCanServe(env.ovs, env.conf.bridge);
    } catch (err) {
      if (err instanceof CniError && err.code !== CniErrorCode.NotAvailable) throw new CniError(CniErrorCode.NotAvailable, err.msg, err.details);
      throw err;
    }
  }

  close(): void {
    // nothing held between calls
  }
}

function attachment(env: Pick<NicDelEnv, 'identity' | 'ifname' | 'conf'>): VhostAttachment {
  return { containerId: env.identity.containerId, ifName: env.ifname, network: env.conf.name };
}

function location(env: Pick<NicEnv, 'conf'>, att: VhostAttachment): { dir: string; socketPath: string } {
  return guardSync(() => vhostSocketLocation(att, { baseDir: env.conf.vhostSocketDir }));
}

/** Bridge on the userspace datapath and an ovs-vswitchd that can create vhost-user client ports. */
async function assertOvsCanServe(ovs: OvsPorts, bridge: string): Promise<void> {
  const [bridges, roots] = await ovs.client.transact(OVS, [
    ovsOps.select('Bridge', [['name', '==', bridge]], ['name', 'datapath_type']),
    ovsOps.select('Open_vSwitch', [], ['iface_types', 'dpdk_initialized', 'dpdk_version']),
  ]);
  const row = bridges[0];
  if (!row) throw new BridgeMissingError(bridge);
  guardSync(() => assertVhostUserBridge({ name: row.name, datapathType: row.datapath_type }));
  const root = roots[0];
  if (!root) return;
  const problem = dpdkSupportProblem({
    ifaceTypes: root.iface_types,
    dpdkInitialized: root.dpdk_initialized,
    ...(root.dpdk_version !== undefined ? { dpdkVersion: root.dpdk_version } : {}),
  });
  if (problem) throw asCniError(problem);
}

/**
 * Waits for ovs-vswitchd to configure the port (ofport set) and fails with what OVS reports when
 * it could not. A port waiting for its server (the VM is not running yet) is fine.
 */
async function waitConfigured(ovs: OvsPorts, name: string, timeoutMs: number): Promise<void> {
  let waitError: unknown;
  try {
    await ovs.waitAttached(name, timeoutMs);
  } catch (err) {
    waitError = err;
  }
  const rec = await ovs.findByName(name);
  if (rec) {
    const state = interpretVhostUserInterface({
      name,
      type: rec.type,
      ...(rec.error ? { error: rec.error } : {}),
      ...(rec.ofport !== undefined ? { ofport: rec.ofport } : {}),
    });
    if (state.error) throw asCniError(state.error);
  }
  if (waitError) throw waitError;
}

function asCniError(err: DpdkError): CniError {
  switch (err.code) {
    case 'DPDK_UNSUPPORTED':
      return new CniError(CniErrorCode.NotAvailable, 'OVS has no DPDK support', err.message);
    case 'BRIDGE_NOT_NETDEV':
      return invalidConfig('invalid network config: "bridge" is not a userspace (netdev) bridge', err.message);
    case 'SOCKET_PATH_TOO_LONG':
    case 'INVALID_ARGUMENT':
      return invalidConfig('invalid network config: "vhostSocketDir" cannot hold this attachment', err.message);
    case 'SOCKET_DIR_CONFLICT':
      return new CniError(OvnicErrorCode.Conflict, 'vhost-user socket directory belongs to another attachment', err.message);
    case 'PORT_FAILED':
      return new CniError(CniErrorCode.Internal, 'OVS could not create the vhost-user port', err.message);
  }
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof DpdkError ? asCniError(err) : err;
  }
}

function guardSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof DpdkError ? asCniError(err) : err;
  }
}
