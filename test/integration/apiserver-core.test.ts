import {
  CoordinationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Lease,
} from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { caughtStatus, startApiServer, type ApiServer } from '../apiserver/index.js';

const ns = 'default';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

function pod(name: string, labels: Record<string, string> = {}, nodeName?: string) {
  return {
    metadata: { name, labels },
    spec: { containers: [{ name: 'main', image: 'busybox' }], ...(nodeName === undefined ? {} : { nodeName }) },
  };
}

describe('API server double: core resources through the real client', () => {
  let api: ApiServer;
  let core: CoreV1Api;

  beforeAll(async () => {
    api = await startApiServer();
    core = api.kubeConfig().makeApiClient(CoreV1Api);
  });
  afterAll(async () => {
    await api?.close();
  });
  beforeEach(() => {
    for (const p of api.list('pods')) api.remove('pods', p.metadata.namespace, p.metadata.name as string);
    api.clearRequests();
    api.clearFailures();
  });

  it('creates, reads, lists, updates and deletes pods with server-owned metadata', async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod('web-1', { app: 'web' }) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.status?.phase).toBe('Pending');
    const rv1 = Number(created.metadata?.resourceVersion);
    expect(rv1).toBeGreaterThan(0);

    const read = await core.readNamespacedPod({ namespace: ns, name: 'web-1' });
    expect(read.metadata?.resourceVersion).toBe(String(rv1));

    read.metadata!.annotations = { note: 'x' };
    const updated = await core.replaceNamespacedPod({ namespace: ns, name: 'web-1', body: read });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(rv1);
    expect(updated.metadata?.generation).toBe(1);
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);

    const list = await core.listNamespacedPod({ namespace: ns });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['web-1']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(updated.metadata?.resourceVersion));

    const deleted = await core.deleteNamespacedPod({ namespace: ns, name: 'web-1' });
    expect(deleted.metadata?.name).toBe('web-1');
    const gone = await caughtStatus(core.readNamespacedPod({ namespace: ns, name: 'web-1' }));
    expect(gone.code).toBe(404);
    expect(gone.status).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404, message: 'pods "web-1" not found' });
    expect(api.writeRequests().map((r) => r.verb)).toEqual(['create', 'update', 'delete']);
  });

  it('answers AlreadyExists, Conflict on a stale resourceVersion, and fills generateName', async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod('dup') });
    const dup = await caughtStatus(core.createNamespacedPod({ namespace: ns, body: pod('dup') }));
    expect(dup).toMatchObject({ code: 409, status: { reason: 'AlreadyExists', details: { name: 'dup', kind: 'pods' } } });

    const stale = await core.readNamespacedPod({ namespace: ns, name: 'dup' });
    await core.patchNamespacedPod({ namespace: ns, name: 'dup', body: { metadata: { labels: { touched: 'yes' } } } }, mergePatch);
    const conflict = await caughtStatus(core.replaceNamespacedPod({ namespace: ns, name: 'dup', body: stale }));
    expect(conflict.code).toBe(409);
    expect(conflict.status?.reason).toBe('Conflict');
    expect(conflict.status?.message).toContain('the object has been modified');

    const generated = await core.createNamespacedPod({ namespace: ns, body: { metadata: { generateName: 'gen-' }, spec: pod('x').spec } });
    expect(generated.metadata?.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);

    const unnamed = await caughtStatus(core.createNamespacedPod({ namespace: ns, body: { metadata: {}, spec: pod('x').spec } }));
    expect(unnamed).toMatchObject({ code: 422, status: { reason: 'Invalid' } });
    const badName = await caughtStatus(core.createNamespacedPod({ namespace: ns, body: pod('Bad_Name') }));
    expect(badName.code).toBe(422);
    expect(badName.status?.details?.causes?.[0]?.field).toBe('metadata.name');
  });

  it('filters lists by label selector (=, !=, in, notin, exists, !exists) and field selector', async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod('a', { tier: 'web', env: 'prod' }, 'node-1') });
    await core.createNamespacedPod({ namespace: ns, body: pod('b', { tier: 'db', env: 'prod' }, 'node-2') });
    await core.createNamespacedPod({ namespace: ns, body: pod('c', { tier: 'web' }, 'node-2') });
    await core.createNamespacedPod({ namespace: 'kube-system', body: pod('d', { tier: 'web', env: 'dev' }) });
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> => {
      const list = await core.listPodForAllNamespaces({ labelSelector, fieldSelector });
      return list.items.map((p) => p.metadata?.name as string).sort();
    };
    expect(await names('tier=web')).toEqual(['a', 'c', 'd']);
    expect(await names('tier!=web')).toEqual(['b']);
    expect(await names('env in (prod,dev)')).toEqual(['a', 'b', 'd']);
    expect(await names('env notin (prod)')).toEqual(['c', 'd']);
    expect(await names('env')).toEqual(['a', 'b', 'd']);
    expect(await names('!env')).toEqual(['c']);
    expect(await names('tier=web,env=prod')).toEqual(['a']);
    expect(await names(undefined, 'metadata.namespace=kube-system')).toEqual(['d']);
    expect(await names(undefined, 'spec.nodeName=node-2')).toEqual(['b', 'c']);
    expect(await names('tier=web', 'metadata.name!=a,metadata.namespace=default')).toEqual(['c']);
    const bad = await caughtStatus(core.listPodForAllNamespaces({ fieldSelector: 'spec.image=x' }));
    expect(bad).toMatchObject({ code: 400, status: { reason: 'BadRequest', message: 'field label not supported: spec.image' } });
    const badLabel = await caughtStatus(core.listPodForAllNamespaces({ labelSelector: 'a in (' }));
    expect(badLabel.code).toBe(400);
  });

  it('pages a list with limit and continue', async () => {
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) await core.createNamespacedPod({ namespace: ns, body: pod(name) });
    const first = await core.listNamespacedPod({ namespace: ns, limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(['p1', 'p2']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    const second = await core.listNamespacedPod({ namespace: ns, limit: 2, _continue: first.metadata?._continue });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(['p3', 'p4']);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const last = await core.listNamespacedPod({ namespace: ns, limit: 2, _continue: second.metadata?._continue });
    expect(last.items.map((p) => p.metadata?.name)).toEqual(['p5']);
    expect(last.metadata?._continue).toBeUndefined();
  });

  it('applies merge, JSON (with test) and strategic merge patches to pods', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'pp', annotations: { keep: '1', drop: '2' } }, spec: { containers: [{ name: 'a', image: 'one' }, { name: 'b', image: 'two' }] } },
    });
    const merged = await core.patchNamespacedPod({ namespace: ns, name: 'pp', body: { metadata: { annotations: { drop: null, added: '3' } } } }, mergePatch);
    expect(merged.metadata?.annotations).toEqual({ keep: '1', added: '3' });

    const rv = merged.metadata?.resourceVersion as string;
    const jsonPatched = await core.patchNamespacedPod({
      namespace: ns, name: 'pp',
      body: [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, { op: 'add', path: '/metadata/labels', value: { role: 'x' } }],
    });
    expect(jsonPatched.metadata?.labels).toEqual({ role: 'x' });
    const failedTest = await caughtStatus(core.patchNamespacedPod({
      namespace: ns, name: 'pp', body: [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, { op: 'remove', path: '/metadata/labels' }],
    }));
    expect(failedTest.code).toBe(422);
    expect((await core.readNamespacedPod({ namespace: ns, name: 'pp' })).metadata?.labels).toEqual({ role: 'x' });

    const strategic = await core.patchNamespacedPod({
      namespace: ns, name: 'pp', body: { spec: { containers: [{ name: 'b', image: 'three' }, { name: 'c', image: 'four' }] } },
    }, strategicPatch);
    expect(strategic.spec?.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['a=one', 'b=three', 'c=four']);
    const removed = await core.patchNamespacedPod({
      namespace: ns, name: 'pp', body: { spec: { containers: [{ name: 'a', $patch: 'delete' }] } },
    }, strategicPatch);
    expect(removed.spec?.containers.map((c) => c.name)).toEqual(['b', 'c']);

    const stalePatch = await caughtStatus(core.patchNamespacedPod({ namespace: ns, name: 'pp', body: { metadata: { resourceVersion: rv, labels: { z: 'z' } } } }, mergePatch));
    expect(stalePatch).toMatchObject({ code: 409, status: { reason: 'Conflict' } });
    const missing = await caughtStatus(core.patchNamespacedPod({ namespace: ns, name: 'nope', body: { metadata: { labels: { z: 'z' } } } }, mergePatch));
    expect(missing.code).toBe(404);
  });

  it('keeps pod status apart from the main resource', async () => {
    await core.createNamespacedPod({ namespace: ns, body: { ...pod('st'), status: { phase: 'Running' } } });
    const afterCreate = await core.readNamespacedPod({ namespace: ns, name: 'st' });
    expect(afterCreate.status?.phase).toBe('Pending');
    const withStatus = await core.patchNamespacedPodStatus({ namespace: ns, name: 'st', body: { status: { phase: 'Running', podIP: '10.0.0.5' }, metadata: { labels: { ignored: 'yes' } } } }, mergePatch);
    expect(withStatus.status?.podIP).toBe('10.0.0.5');
    expect(withStatus.metadata?.labels).toBeUndefined();
    const mainPatch = await core.patchNamespacedPod({ namespace: ns, name: 'st', body: { status: { phase: 'Failed' }, metadata: { labels: { kept: 'yes' } } } }, mergePatch);
    expect(mainPatch.status?.phase).toBe('Running');
    expect(mainPatch.metadata?.labels).toEqual({ kept: 'yes' });
    const list = await core.listPodForAllNamespaces({ fieldSelector: 'status.podIP=10.0.0.5' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['st']);
  });

  it('does not write when an update changes nothing', async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod('same', { a: 'b' }) });
    const again = await core.patchNamespacedPod({ namespace: ns, name: 'same', body: { metadata: { labels: { a: 'b' } } } }, mergePatch);
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
  });

  it('injects failures and records requests', async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod('f') });
    api.failNext({ verb: 'get', resource: 'pods', name: 'f' }, 500);
    const failed = await caughtStatus(core.readNamespacedPod({ namespace: ns, name: 'f' }));
    expect(failed).toMatchObject({ code: 500, status: { reason: 'InternalError' } });
    expect((await core.readNamespacedPod({ namespace: ns, name: 'f' })).metadata?.name).toBe('f');

    api.failNext({ method: 'PATCH' }, { code: 409, message: 'try again' }, 2);
    for (let i = 0; i < 2; i++) {
      const c = await caughtStatus(core.patchNamespacedPod({ namespace: ns, name: 'f', body: { metadata: { labels: { i: String(i) } } } }, mergePatch));
      expect(c).toMatchObject({ code: 409, status: { reason: 'Conflict', message: 'try again' } });
    }
    expect(api.pendingFailures()).toBe(0);
    expect(api.get('pods', ns, 'f')?.metadata.labels).toBeUndefined();

    api.failNext({ resource: 'pods', verb: 'list' }, 'reset');
    await expect(core.listNamespacedPod({ namespace: ns })).rejects.toThrow();
    const patches = api.requestsMatching({ verb: 'patch', resource: 'pods' });
    expect(patches).toHaveLength(2);
    expect(patches[0]?.contentType).toBe(PatchStrategy.MergePatch);
    expect(patches.every((r) => r.injected && r.status === 409)).toBe(true);
  });

  it('seeds and reads objects directly, bypassing HTTP', async () => {
    const [seeded] = api.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'seeded', namespace: ns }, spec: pod('x').spec, status: { phase: 'Running', podIP: '10.1.1.1' } });
    expect(seeded?.metadata.uid).toBeDefined();
    const read = await core.readNamespacedPod({ namespace: ns, name: 'seeded' });
    expect(read.status?.podIP).toBe('10.1.1.1');
    expect(api.writeRequests()).toHaveLength(0);
  });

  it('serves discovery so KubernetesObjectApi resolves kinds', async () => {
    const objects = KubernetesObjectApi.makeApiClient(api.kubeConfig());
    const cm: KubernetesObject & { data: Record<string, string> } = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: ns }, data: { a: 'b' } };
    const created = await objects.create(cm);
    expect(created.metadata?.uid).toBeDefined();
    const nicport: KubernetesObject & { spec: { subnet: string } } = { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name: 'np-obj', namespace: ns }, spec: { subnet: 's1' } };
    const np = await objects.create(nicport);
    expect(np.spec.subnet).toBe('s1');
    const res = await fetch(`${api.url}/apis`);
    const groups = (await res.json()) as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name)).toEqual(expect.arrayContaining(['coordination.k8s.io', 'kubeovn.io', 'kubevirt.io', 'k8s.cni.cncf.io', 'kubevirt.chinaunicom.com']));
    const resources = (await (await fetch(`${api.url}/apis/kubevirt.chinaunicom.com/v1`)).json()) as { resources: { name: string; namespaced: boolean }[] };
    expect(resources.resources).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'nicports', namespaced: true }),
      expect.objectContaining({ name: 'nicports/status' }),
    ]));
  });

  it('writes a kubeconfig file for child processes and follows a fixed clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ovnic-kc-'));
    try {
      const path = join(dir, 'kubeconfig');
      api.writeKubeconfig(path);
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      api.setNow(new Date('2025-01-02T03:04:05.678Z'));
      const created = await kc.makeApiClient(CoreV1Api).createNamespacedPod({ namespace: ns, body: pod('clocked') });
      expect(api.get('pods', ns, 'clocked')?.metadata.creationTimestamp).toBe('2025-01-02T03:04:05Z');
      expect(created.metadata?.creationTimestamp?.toISOString()).toBe('2025-01-02T03:04:05.000Z');
    } finally {
      api.setNow(undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cascades namespace deletion to its contents', async () => {
    await core.createNamespace({ body: { metadata: { name: 'scratch' } } });
    await core.createNamespacedPod({ namespace: 'scratch', body: pod('in-scratch') });
    await core.deleteNamespace({ name: 'scratch' });
    expect(api.get('pods', 'scratch', 'in-scratch')).toBeUndefined();
    expect(api.get('namespaces', undefined, 'scratch')).toBeUndefined();
  });
});

describe('API server double: Leases for leader election', () => {
  let api: ApiServer;
  let leases: CoordinationV1Api;

  beforeAll(async () => {
    api = await startApiServer();
    leases = api.kubeConfig().makeApiClient(CoordinationV1Api);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('lets exactly one of two candidates take the lease and renew it', async () => {
    const lease = (holder: string): V1Lease => ({
      metadata: { name: 'ovnic-controller', namespace: 'kube-system' },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: new Date(), renewTime: new Date(), leaseTransitions: 0 },
    });
    const results = await Promise.allSettled([
      leases.createNamespacedLease({ namespace: 'kube-system', body: lease('a') }),
      leases.createNamespacedLease({ namespace: 'kube-system', body: lease('b') }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((await caughtStatus(Promise.reject(rejected.reason))).code).toBe(409);

    const current = await leases.readNamespacedLease({ namespace: 'kube-system', name: 'ovnic-controller' });
    const winner = current.spec?.holderIdentity;
    expect(['a', 'b']).toContain(winner);
    // MicroTime comes back with microseconds; client-node 1.4 leaves it a string despite the Date typing.
    expect(String(current.spec?.renewTime)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);

    // Both candidates read the same version; only the first update wins.
    const mine = structuredClone(current);
    const theirs = structuredClone(current);
    mine.spec!.renewTime = new Date();
    const renewed = await leases.replaceNamespacedLease({ namespace: 'kube-system', name: 'ovnic-controller', body: mine });
    theirs.spec!.holderIdentity = winner === 'a' ? 'b' : 'a';
    const stolen = await caughtStatus(leases.replaceNamespacedLease({ namespace: 'kube-system', name: 'ovnic-controller', body: theirs }));
    expect(stolen).toMatchObject({ code: 409, status: { reason: 'Conflict' } });
    expect(api.get('leases', 'kube-system', 'ovnic-controller')?.metadata.resourceVersion).toBe(renewed.metadata?.resourceVersion);
    expect((api.get('leases', 'kube-system', 'ovnic-controller')?.spec as { holderIdentity: string }).holderIdentity).toBe(winner);
  });
});
