import {
  CoreV1Api, CustomObjectsApi, makeInformer, PatchStrategy, setHeaderOptions, Watch, type Informer, type KubernetesObject, type ObjectCache,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../apiserver/index.js';

const np = { group: 'kubevirt.chinaunicom.com', version: 'v1', plural: 'nicports' } as const;
const NP_PATH = '/apis/kubevirt.chinaunicom.com/v1/nicports';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type CachedInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

interface Seen {
  type: string;
  name: string;
  rv: string;
}

interface WatchedEvent {
  type: string;
  object: KubernetesObject & { code?: number; reason?: string };
}

/** One test's server, client and informers; everything is stopped in afterEach. */
class Fixture {
  api!: ApiServer;
  co!: CustomObjectsApi;
  readonly informers: CachedInformer[] = [];
  readonly aborts: AbortController[] = [];

  async start(options: ApiServerOptions = {}): Promise<this> {
    this.api = await startApiServer(options);
    this.co = this.api.kubeConfig().makeApiClient(CustomObjectsApi);
    return this;
  }

  create(name: string, labels: Record<string, string> = {}, namespace = 'default'): Promise<unknown> {
    return this.co.createNamespacedCustomObject({
      ...np, namespace, body: { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name, labels }, spec: { subnet: 'subnet1' } },
    });
  }

  patch(name: string, body: object, namespace = 'default'): Promise<unknown> {
    return this.co.patchNamespacedCustomObject({ ...np, namespace, name, body }, mergePatch);
  }

  remove(name: string, namespace = 'default'): Promise<unknown> {
    return this.co.deleteNamespacedCustomObject({ ...np, namespace, name });
  }

  informer(labelSelector?: string): { informer: CachedInformer; seen: Seen[]; errors: unknown[] } {
    const informer = makeInformer(this.api.kubeConfig(), NP_PATH, () => this.co.listClusterCustomObject({ ...np, labelSelector }), labelSelector);
    const seen: Seen[] = [];
    const errors: unknown[] = [];
    const record = (type: string) => (obj: KubernetesObject): void => {
      seen.push({ type, name: obj.metadata?.name ?? '', rv: obj.metadata?.resourceVersion ?? '' });
    };
    informer.on('add', record('add'));
    informer.on('update', record('update'));
    informer.on('delete', record('delete'));
    informer.on('error', (err) => errors.push(err));
    this.informers.push(informer);
    return { informer, seen, errors };
  }

  async watch(query: Record<string, string | boolean | number>, path = NP_PATH): Promise<{ events: WatchedEvent[]; done: () => unknown }> {
    const events: WatchedEvent[] = [];
    let doneWith: unknown = 'open';
    const ctl = await new Watch(this.api.kubeConfig()).watch(
      path, query,
      (type, object) => events.push({ type, object: object as WatchedEvent['object'] }),
      (err) => { doneWith = err; },
    );
    this.aborts.push(ctl);
    return { events, done: () => doneWith };
  }

  async stop(): Promise<void> {
    for (const i of this.informers) await i.stop();
    for (const a of this.aborts) a.abort();
    await this.api?.close();
  }
}

const listRequests = (api: ApiServer): number => api.countRequests({ resource: 'nicports', verb: 'list' });

describe('API server double: watches and informers through the real client', () => {
  let f: Fixture;
  afterEach(async () => {
    await f?.stop();
  });

  it('feeds an informer adds, updates and deletes, with its cache in step', async () => {
    f = await new Fixture().start();
    await f.create('before');
    const { informer, seen } = f.informer();
    await informer.start();
    await f.api.waitForWatches(1, 'nicports');
    expect(seen.map((s) => `${s.type}:${s.name}`)).toEqual(['add:before']);

    await f.create('np1', { a: 'b' }, 'kube-system');
    await f.patch('np1', { spec: { vmi: 'vm1' } }, 'kube-system');
    await f.remove('before');
    await until('three more events', () => seen.length === 4);
    expect(seen.map((s) => `${s.type}:${s.name}`)).toEqual(['add:before', 'add:np1', 'update:np1', 'delete:before']);
    const cached = informer.get('np1', 'kube-system') as KubernetesObject & { spec: { vmi?: string } };
    expect(cached.spec.vmi).toBe('vm1');
    expect(cached.metadata?.resourceVersion).toBe(f.api.get('nicports', 'kube-system', 'np1')?.metadata.resourceVersion);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['np1']);
    expect(listRequests(f.api)).toBe(1);
  });

  it('re-lists after expireHistory() (410 Expired) and misses nothing', async () => {
    f = await new Fixture().start();
    await f.create('a');
    await f.create('b');
    const { informer, seen, errors } = f.informer();
    await informer.start();
    await f.api.waitForWatches(1, 'nicports');

    f.api.expireHistory();
    await until('the 410 ends the watch and the informer re-lists', () => listRequests(f.api) === 2 && f.api.openWatches('nicports') === 1);
    expect(errors).toEqual([]);
    await f.create('c');
    await f.remove('a');
    await until('c added and a deleted', () => seen.some((s) => s.type === 'delete' && s.name === 'a'));
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['b', 'c']);

    // A resourceVersion that is too old on (re)connect: ERROR 410 in the stream, as upstream.
    f.api.expireHistory({ keepOpenWatches: true });
    f.api.breakWatches({ graceful: true });
    await until('re-list after the stale re-watch', () => listRequests(f.api) === 3 && f.api.openWatches('nicports') === 1);
    const rewatches = f.api.requestsMatching({ resource: 'nicports', verb: 'watch' });
    expect(rewatches).toHaveLength(4);
    await f.patch('b', { spec: { vmi: 'x' } });
    await until('b updated', () => (informer.get('b', 'default') as { spec?: { vmi?: string } } | undefined)?.spec?.vmi === 'x');
    expect(errors).toEqual([]);
  });

  it('re-lists after an HTTP 410 in expiredWatch "http" mode', async () => {
    f = await new Fixture().start({ expiredWatch: 'http' });
    await f.create('a');
    const { informer, errors } = f.informer();
    await informer.start();
    await f.api.waitForWatches(1, 'nicports');
    f.api.expireHistory({ keepOpenWatches: true });
    f.api.breakWatches({ graceful: true });
    await until('re-listed', () => listRequests(f.api) === 2 && f.api.openWatches('nicports') === 1);
    expect(f.api.requestsMatching({ resource: 'nicports', verb: 'watch' }).map((r) => r.status)).toContain(410);
    expect(errors).toEqual([]);
  });

  it('reports a dropped watch as an error and stops; start() again resumes from the last resourceVersion', async () => {
    f = await new Fixture().start();
    await f.create('a');
    const { informer, seen, errors } = f.informer();
    await informer.start();
    await f.api.waitForWatches(1, 'nicports');

    expect(f.api.breakWatches()).toBe(1);
    await until('the informer reports the broken stream', () => errors.length === 1);
    expect(f.api.openWatches('nicports')).toBe(0);
    await f.create('while-down');
    await f.patch('a', { metadata: { labels: { changed: 'yes' } } });

    await informer.start();
    await until('the changes made while down arrive', () => seen.length === 3);
    expect(seen.map((s) => `${s.type}:${s.name}`)).toEqual(['add:a', 'add:while-down', 'update:a']);
    expect(listRequests(f.api)).toBe(1);
  });

  it('resumes by itself after a cleanly closed watch, without listing again', async () => {
    f = await new Fixture().start();
    const { informer, seen, errors } = f.informer();
    await informer.start();
    await f.api.waitForWatches(1, 'nicports');
    f.api.breakWatches({ graceful: true });
    await f.create('after-close');
    await until('seen after reconnect', () => seen.length === 1);
    expect(errors).toEqual([]);
    expect(listRequests(f.api)).toBe(1);
    expect(f.api.countRequests({ resource: 'nicports', verb: 'watch' })).toBe(2);
  });

  it('stops an informer whose watch request fails with 500', async () => {
    f = await new Fixture().start();
    f.api.failNext({ resource: 'nicports', verb: 'watch' }, 500);
    const { informer, errors } = f.informer();
    await informer.start();
    await until('error reported', () => errors.length === 1);
    expect((errors[0] as { statusCode?: number }).statusCode).toBe(500);
    expect(f.api.openWatches()).toBe(0);
  });

  it('sends bookmarks carrying the current resourceVersion', async () => {
    f = await new Fixture().start({ bookmarkIntervalMs: 50 });
    await f.create('a');
    const rv = f.api.resourceVersion();
    const w = await f.watch({ resourceVersion: rv, allowWatchBookmarks: true });
    await until('a periodic bookmark', () => w.events.some((e) => e.type === 'BOOKMARK'));
    const bookmark = w.events.find((e) => e.type === 'BOOKMARK');
    expect(bookmark?.object).toEqual({ kind: 'NicPort', apiVersion: 'kubevirt.chinaunicom.com/v1', metadata: { resourceVersion: rv } });
    await f.create('b');
    await until('ADDED b then a bookmark past it', () => {
      const last = w.events[w.events.length - 1];
      return last?.type === 'BOOKMARK' && Number(last.object.metadata?.resourceVersion) >= Number(f.api.resourceVersion());
    });
    expect(w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type}:${e.object.metadata?.name}`)).toEqual(['ADDED:b']);

    const noBookmarks = await f.watch({ resourceVersion: f.api.resourceVersion() });
    f.api.sendBookmarks();
    await new Promise((r) => setTimeout(r, 120));
    expect(noBookmarks.events).toEqual([]);
  });

  it('replays history from a resourceVersion, and synthesizes ADDED from "0" or none', async () => {
    f = await new Fixture().start({ bookmarkIntervalMs: 0 });
    await f.create('a');
    const start = f.api.resourceVersion();
    await f.create('b');
    await f.patch('a', { spec: { vmi: 'v' } });
    await f.remove('b');
    const replay = await f.watch({ resourceVersion: start });
    await until('three replayed events', () => replay.events.length === 3);
    expect(replay.events.map((e) => `${e.type}:${e.object.metadata?.name}`)).toEqual(['ADDED:b', 'MODIFIED:a', 'DELETED:b']);
    expect(Number(replay.events[2]?.object.metadata?.resourceVersion)).toBe(Number(f.api.resourceVersion()));

    const fromZero = await f.watch({ resourceVersion: '0' });
    await until('synthetic ADDED', () => fromZero.events.length === 1);
    expect(fromZero.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'a' } } });
    const unset = await f.watch({});
    await until('synthetic ADDED (unset)', () => unset.events.length === 1);
  });

  it('turns selector transitions into ADDED/DELETED and scopes by namespace and field', async () => {
    f = await new Fixture().start({ bookmarkIntervalMs: 0 });
    await f.create('x');
    await f.create('other-ns', { role: 'bound' }, 'kube-system');
    const byLabel = await f.watch({ resourceVersion: f.api.resourceVersion(), labelSelector: 'role=bound' });
    const inDefault = await f.watch({ resourceVersion: f.api.resourceVersion() }, '/apis/kubevirt.chinaunicom.com/v1/namespaces/default/nicports');
    const byName = await f.watch({ resourceVersion: f.api.resourceVersion(), fieldSelector: 'metadata.name=x' });
    await f.patch('x', { metadata: { labels: { role: 'bound' } } });
    await f.patch('x', { spec: { vmi: 'vm' } });
    await f.patch('x', { metadata: { labels: { role: null } } });
    await f.patch('other-ns', { spec: { vmi: 'vm' } }, 'kube-system');
    await f.create('y');
    await until('events arrived', () => byLabel.events.length === 4 && inDefault.events.length === 4 && byName.events.length === 3);
    expect(byLabel.events.map((e) => `${e.type}:${e.object.metadata?.name}`)).toEqual(['ADDED:x', 'MODIFIED:x', 'DELETED:x', 'MODIFIED:other-ns']);
    expect(inDefault.events.map((e) => `${e.type}:${e.object.metadata?.name}`)).toEqual(['MODIFIED:x', 'MODIFIED:x', 'MODIFIED:x', 'ADDED:y']);
    expect(byName.events.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'MODIFIED']);
  });

  it('ends a watch cleanly after timeoutSeconds', async () => {
    f = await new Fixture().start();
    const w = await f.watch({ resourceVersion: f.api.resourceVersion(), timeoutSeconds: 1 });
    await until('stream ended', () => w.done() !== 'open', 3000);
    expect(w.done()).toBeNull();
  });

  it('forgets history beyond historySize: an old resourceVersion gets ERROR 410', async () => {
    f = await new Fixture().start({ historySize: 3, bookmarkIntervalMs: 0 });
    const old = f.api.resourceVersion();
    for (const name of ['a', 'b', 'c', 'd']) await f.create(name);
    const w = await f.watch({ resourceVersion: old });
    await until('error then end', () => w.done() !== 'open');
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    const recent = await f.watch({ resourceVersion: String(Number(f.api.resourceVersion()) - 3) });
    await until('three retained events', () => recent.events.length === 3);
  });

  it('watches core pods through a namespaced informer with a label selector', async () => {
    f = await new Fixture().start();
    const kc = f.api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=vm' }), 'app=vm');
    f.informers.push(informer as unknown as CachedInformer);
    const names: string[] = [];
    informer.on('add', (p) => names.push(p.metadata?.name ?? ''));
    await informer.start();
    await f.api.waitForWatches(1, 'pods');
    expect(f.api.requestsMatching({ resource: 'pods', verb: 'watch' })[0]?.query.get('labelSelector')).toBe('app=vm');
    for (const [name, app] of [['virt-launcher-1', 'vm'], ['other', 'web']] as const) {
      await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name, labels: { app } }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
    }
    await until('launcher seen', () => names.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(names).toEqual(['virt-launcher-1']);
  });
});
