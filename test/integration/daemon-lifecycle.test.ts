/**
 * The node daemon over time: periodic GC of ports whose pods are gone (and of nothing else, and
 * never before the pod cache synced), STATUS following OVSDB and the pod cache, the plugin when
 * the daemon is down (11) or restarted over its stale socket, concurrent requests on the shared
 * OVSDB connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonFixture } from './daemon-fixture.js';
import type { FixturePod } from '../../src/sandbox/cni-fixture.js';
import type { PluginRun } from '../../src/sandbox/plugin.js';
import type { PodNetns } from '../../src/sandbox/pods.js';
import { hostLinkName } from '../../src/cni/ownership.js';

let d: DaemonFixture;

interface ErrorJson {
  code: number;
  msg: string;
  details?: string;
}

function expectOk(r: PluginRun): Record<string, unknown> {
  expect(r.exitCode, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r.json ?? {};
}

function expectError(r: PluginRun, code: number): ErrorJson {
  expect(r.exitCode, r.stdout).toBe(1);
  const json = r.json as unknown as ErrorJson;
  expect(json?.code, r.stdout).toBe(code);
  return json;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function podLinks(pod: FixturePod): Promise<string[]> {
  return ((await (pod.netns as PodNetns).ip<Array<{ ifname: string }>>('link', 'show')).map((l) => l.ifname)).sort();
}

/** A pod in the API server with complete annotations, attached through the daemon. */
async function attachedPod(name: string): Promise<FixturePod> {
  const pod = await d.fx.addPod(name);
  await d.createPod(pod, d.kubeOvnAnnotations(pod));
  expectOk(await d.run('ADD', pod));
  return pod;
}

beforeAll(async () => {
  d = await DaemonFixture.start({ name: 'dlife', gcInterval: '300ms', annotationTimeout: '10s' });
}, 120_000);

afterAll(async () => {
  await d?.stop();
});

describe('periodic GC', () => {
  it('removes the port and links of a deleted pod, after seeing it gone twice; keeps the others', async () => {
    const keep = await attachedPod('keep');
    const gone = await attachedPod('gone');
    const standalone = await d.fx.addPod('standalone');
    // a port made without the daemon and without a pod uid (podman, plain runtimes): never GC's business
    expectOk(await d.fx.run('ADD', standalone));
    const ports = [keep, gone, standalone].map((p) => hostLinkName(p.containerId, 'eth0')).sort();
    expect(await d.fx.ovnicPorts()).toEqual(ports);
    const removedBefore = (await d.metric('ovnic_daemon_gc_ports_total', { result: 'removed' })) ?? 0;

    await d.deletePod(gone);
    const goneAt = Date.now();
    await d.until('GC to remove the port of the deleted pod', async () => !(await d.fx.ovnicPorts()).includes(hostLinkName(gone.containerId, 'eth0')), 10_000);
    // two passes 300 ms apart: never at the first sight
    expect(Date.now() - goneAt).toBeGreaterThanOrEqual(300);
    expect(await d.fx.hostVeths()).not.toContain(hostLinkName(gone.containerId, 'eth0'));
    expect(await d.metric('ovnic_daemon_gc_ports_total', { result: 'removed' })).toBe(removedBefore + 1);

    await sleep(1000);
    expect(await d.fx.ovnicPorts()).toEqual([keep, standalone].map((p) => hostLinkName(p.containerId, 'eth0')).sort());
    expect(await (keep.netns as PodNetns).ping(d.fx.pods.find((p) => p.name === 'standalone')?.ipv4 ?? '', 2)).toBeGreaterThan(0);
    // the runtime's DEL afterwards finds nothing to do
    expectOk(await d.run('DEL', gone));
    expectOk(await d.fx.run('DEL', standalone));
    expectOk(await d.run('DEL', keep));
  });

  it('a pod re-created under the same name (new uid) does not keep the old sandbox port alive', async () => {
    const pod = await attachedPod('stateful-0');
    const port = hostLinkName(pod.containerId, 'eth0');
    await d.deletePod(pod);
    await d.createPod(pod, d.kubeOvnAnnotations(pod));
    await d.until('GC to remove the old sandbox port', async () => !(await d.fx.ovnicPorts()).includes(port), 10_000);
    expect(await podLinks(pod)).toEqual(['lo']);
  });
});

describe('daemon start without a pod list', () => {
  it('STATUS is 50 and GC does nothing until the pod cache synced; then the orphan goes', async () => {
    const orphan = await attachedPod('orphan');
    const port = hostLinkName(orphan.containerId, 'eth0');
    await d.daemon?.stop();
    await d.deletePod(orphan);
    d.api.failNext({ resource: 'pods', verb: 'list' }, 500, 1_000_000);
    try {
      await d.startDaemon();
      const err = expectError(await d.run('STATUS', undefined), 50);
      expect(err.msg).toBe('the ovnic node daemon has not synced pods with the API server yet');
      expect((await d.http('/readyz')).status).toBe(503);
      await d.until('two skipped GC passes', async () => ((await d.metric('ovnic_daemon_gc_runs_total', { outcome: 'skipped' })) ?? 0) >= 2);
      expect(await d.fx.ovnicPorts()).toContain(port);
    } finally {
      d.api.clearFailures();
    }
    await d.until('the pod cache to sync', async () => (await d.metric('ovnic_daemon_pods_synced')) === 1, 20_000);
    expectOk(await d.run('STATUS', undefined));
    await d.until('GC to remove the orphan', async () => !(await d.fx.ovnicPorts()).includes(port), 10_000);
  });
});

describe('OVSDB down and back', () => {
  it('STATUS 50 and ADD 11 while ovsdb-server is down; both work again once the daemon reconnected', async () => {
    const pod = await d.fx.addPod('ovsdown');
    await d.createPod(pod, d.kubeOvnAnnotations(pod));
    expectOk(await d.run('STATUS', undefined));
    await d.fx.stack.kill('ovsdb-server');
    try {
      await d.until('the daemon to see OVSDB down', async () => (await d.metric('ovnic_ovsdb_connected', { remote: d.fx.stack.ovsdbRemote })) === 0);
      const status = expectError(await d.run('STATUS', undefined), 50);
      expect(status.msg).toBe(`OVSDB at ${d.fx.stack.ovsdbRemote} is not reachable`);
      const add = expectError(await d.run('ADD', pod), 11);
      expect(add.msg).toBe(`OVSDB at ${d.fx.stack.ovsdbRemote} is not reachable`);
      expect(await podLinks(pod)).toEqual(['lo']);
      expect((await d.http('/readyz')).body).toMatch(/OVSDB .* not connected/);
    } finally {
      await d.fx.stack.restart('ovsdb-server');
    }
    await d.until('the daemon to reconnect', async () => (await d.metric('ovnic_ovsdb_connected', { remote: d.fx.stack.ovsdbRemote })) === 1, 20_000);
    expectOk(await d.run('STATUS', undefined));
    expectOk(await d.run('ADD', pod));
    expectOk(await d.run('DEL', pod));
  });
});

describe('many requests at once', () => {
  it('12 ADDs then 12 DELs concurrently on the shared connection: all succeed, nothing left', async () => {
    const pods: FixturePod[] = [];
    for (let i = 0; i < 12; i++) {
      const pod = await d.fx.addPod(`many${i}`);
      await d.createPod(pod, d.kubeOvnAnnotations(pod));
      pods.push(pod);
    }
    const before = await d.fx.ovnicPorts();
    const adds = await Promise.all(pods.map((p) => d.run('ADD', p)));
    for (const r of adds) expectOk(r);
    expect((await d.fx.ovnicPorts()).length).toBe(before.length + 12);
    expect(await (pods[0]?.netns as PodNetns).ping(pods[11]?.ipv4 ?? '', 2)).toBeGreaterThan(0);
    const dels = await Promise.all(pods.map((p) => d.run('DEL', p)));
    for (const r of dels) expectOk(r);
    expect(await d.fx.ovnicPorts()).toEqual(before);
  });
});

describe('the daemon down', () => {
  it('ADD, DEL and STATUS fail with 11 naming the socket; a restarted daemon takes over its stale socket', async () => {
    const pod = await d.fx.addPod('nodaemon');
    await d.createPod(pod, d.kubeOvnAnnotations(pod));
    const daemon = d.daemon;
    daemon?.child.kill('SIGKILL');
    await new Promise((r) => daemon?.child.once('exit', r));
    for (const command of ['ADD', 'DEL', 'STATUS'] as const) {
      const err = expectError(await d.run(command, command === 'STATUS' ? undefined : pod), 11);
      expect(err.msg).toBe(`ovnic node daemon is not reachable at ${d.socket}`);
      expect(err.details).toMatch(/ECONNREFUSED/);
    }
    expect(await podLinks(pod)).toEqual(['lo']);
    await d.startDaemon();
    expectOk(await d.run('ADD', pod));
    expectOk(await d.run('DEL', pod));
    // stopped cleanly, the socket is gone
    await d.daemon?.stop();
    const err = expectError(await d.run('STATUS', undefined), 11);
    expect(err.details).toMatch(/ENOENT/);
    await d.startDaemon();
  });
});
