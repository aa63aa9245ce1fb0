/** EventRecorder through the real client: core/v1 Events, aggregation of repeats, never throwing. */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { EventRecorder, MAX_MESSAGE_LENGTH } from '../../src/controller/events.js';

const nicport = { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name: 'nicport1', namespace: 'vms', uid: 'uid-1' } };

describe('EventRecorder', () => {
  let api: ApiServer;
  let clock: Date;
  let recorder: EventRecorder;

  beforeEach(async () => {
    api = await startApiServer();
    clock = new Date('2025-03-01T10:00:00Z');
    recorder = new EventRecorder(api.kubeConfig(), 'ovnic-controller', { instance: 'ctrl-0', now: () => clock });
  });
  afterEach(async () => {
    await api?.close();
  });

  it('creates a core/v1 Event with the involved object, source and timestamps', async () => {
    await recorder.record(nicport, 'Normal', 'VMPatched', 'VirtualMachine vms/test: interface np-nicport1');
    const [ev, ...more] = api.list('events', 'vms');
    expect(more).toEqual([]);
    expect(ev).toMatchObject({
      metadata: { namespace: 'vms', name: expect.stringMatching(/^nicport1\.[0-9a-f]+$/) },
      involvedObject: { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', name: 'nicport1', namespace: 'vms', uid: 'uid-1' },
      type: 'Normal', reason: 'VMPatched', message: 'VirtualMachine vms/test: interface np-nicport1', count: 1,
      firstTimestamp: '2025-03-01T10:00:00Z', lastTimestamp: '2025-03-01T10:00:00Z',
      source: { component: 'ovnic-controller', host: 'ctrl-0' }, reportingComponent: 'ovnic-controller', reportingInstance: 'ctrl-0',
    });
    // Readable through the API by field selector, as kubectl describe does.
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const listed = await core.listNamespacedEvent({ namespace: 'vms', fieldSelector: 'involvedObject.name=nicport1,involvedObject.kind=NicPort' });
    expect(listed.items).toHaveLength(1);
  });

  it('aggregates repeats by patching count and lastTimestamp; other messages get their own Event', async () => {
    await recorder.record(nicport, 'Warning', 'LauncherPodNotFound', 'no pod');
    clock = new Date('2025-03-01T10:00:30Z');
    await recorder.record(nicport, 'Warning', 'LauncherPodNotFound', 'no pod');
    await Promise.all([1, 2, 3].map(() => recorder.record(nicport, 'Warning', 'LauncherPodNotFound', 'no pod')));
    await recorder.record(nicport, 'Warning', 'LauncherPodNotFound', 'still no pod');
    const evs = api.list('events', 'vms');
    expect(evs.map((e) => [e.message, e.count])).toEqual([['no pod', 5], ['still no pod', 1]]);
    expect(evs[0]).toMatchObject({ firstTimestamp: '2025-03-01T10:00:00Z', lastTimestamp: '2025-03-01T10:00:30Z' });
    expect(api.writeRequests({ resource: 'events' }).map((r) => r.verb)).toEqual(['create', 'patch', 'patch', 'patch', 'patch', 'create']);
  });

  it('starts a new Event when the aggregated one was deleted (TTL)', async () => {
    await recorder.record(nicport, 'Normal', 'Bound', 'bound');
    const first = api.list('events', 'vms')[0]?.metadata.name as string;
    api.remove('events', 'vms', first);
    await recorder.record(nicport, 'Normal', 'Bound', 'bound');
    const evs = api.list('events', 'vms');
    expect(evs).toHaveLength(1);
    expect(evs[0]?.metadata.name).not.toBe(first);
    expect(evs[0]?.count).toBe(1);
  });

  it('cuts long messages and puts cluster-scoped subjects in default', async () => {
    await recorder.record({ apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name: 'subnet1' } }, 'Warning', 'Exhausted', 'x'.repeat(5000));
    const [ev] = api.list('events', 'default');
    expect((ev?.message as string).length).toBe(MAX_MESSAGE_LENGTH);
    expect(ev?.involvedObject).toEqual({ apiVersion: 'kubeovn.io/v1', kind: 'Subnet', name: 'subnet1' });
  });

  it('never throws: API errors and an unreachable server are swallowed', async () => {
    api.failNext({ resource: 'events', verb: 'create' }, 500);
    await expect(recorder.record(nicport, 'Normal', 'Bound', 'one')).resolves.toBeUndefined();
    api.failNext({ resource: 'events', verb: 'create' }, 'reset');
    await expect(recorder.record(nicport, 'Normal', 'Bound', 'two')).resolves.toBeUndefined();
    expect(api.list('events', 'vms')).toEqual([]);
    await api.close();
    await expect(recorder.record(nicport, 'Normal', 'Bound', 'three')).resolves.toBeUndefined();
  });
});
