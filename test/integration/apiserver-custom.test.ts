import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { caughtStatus, startApiServer, type ApiServer, type KubeObject } from '../apiserver/index.js';

const NICPORT_CRD = fileURLToPath(new URL('../../deploy/crds/nicports.kubevirt.chinaunicom.com.yaml', import.meta.url));
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const np = { group: 'kubevirt.chinaunicom.com', version: 'v1', plural: 'nicports' } as const;
const ns = 'default';

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

function nicport(name: string, spec: Record<string, unknown> = { subnet: 'subnet1' }): Obj {
  return { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name }, spec };
}

describe('API server double: custom resources through CustomObjectsApi', () => {
  let api: ApiServer;
  let co: CustomObjectsApi;

  beforeAll(async () => {
    api = await startApiServer();
    co = api.kubeConfig().makeApiClient(CustomObjectsApi);
  });
  afterAll(async () => {
    await api?.close();
  });
  beforeEach(() => {
    for (const o of api.list('nicports')) api.remove('nicports', o.metadata.namespace, o.metadata.name as string);
    api.clearRequests();
  });

  it('creates, gets, lists, merge/JSON-patches and replaces with optimistic concurrency', async () => {
    const created = (await co.createNamespacedCustomObject({ ...np, namespace: ns, body: nicport('np1') })) as Obj;
    expect(created.metadata).toMatchObject({ name: 'np1', namespace: ns, generation: 1 });
    expect(created.metadata.uid).toBeDefined();
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const got = (await co.getNamespacedCustomObject({ ...np, namespace: ns, name: 'np1' })) as Obj;
    expect(got).toEqual(created);

    const merged = (await co.patchNamespacedCustomObject(
      { ...np, namespace: ns, name: 'np1', body: { metadata: { labels: { 'vmi-target': 'test' } }, spec: { vmi: 'test' } } },
      mergePatch,
    )) as Obj;
    expect(merged.spec).toEqual({ subnet: 'subnet1', vmi: 'test' });
    expect(merged.metadata.labels).toEqual({ 'vmi-target': 'test' });
    expect(merged.metadata.generation).toBe(2);
    expect(api.requestsMatching({ verb: 'patch' })[0]?.contentType).toBe('application/merge-patch+json');

    const jsonPatched = (await co.patchNamespacedCustomObject({
      ...np, namespace: ns, name: 'np1', body: [{ op: 'replace', path: '/spec/vmi', value: 'other' }],
    })) as Obj;
    expect(jsonPatched.spec?.vmi).toBe('other');
    expect(api.requestsMatching({ verb: 'patch' })[1]?.contentType).toBe('application/json-patch+json');

    const labelOnly = (await co.patchNamespacedCustomObject({ ...np, namespace: ns, name: 'np1', body: { metadata: { labels: { extra: 'x' } } } }, mergePatch)) as Obj;
    expect(labelOnly.metadata.generation).toBe(3);

    const stale = structuredClone(merged);
    stale.spec = { subnet: 'subnet2' };
    const conflict = await caughtStatus(co.replaceNamespacedCustomObject({ ...np, namespace: ns, name: 'np1', body: stale }));
    expect(conflict.code).toBe(409);
    expect(conflict.status).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on nicports.kubevirt.chinaunicom.com "np1": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'np1', group: 'kubevirt.chinaunicom.com', kind: 'nicports' },
    });
    const fresh = structuredClone(labelOnly);
    fresh.spec = { subnet: 'subnet2' };
    const replaced = (await co.replaceNamespacedCustomObject({ ...np, namespace: ns, name: 'np1', body: fresh })) as Obj;
    expect(replaced.spec).toEqual({ subnet: 'subnet2' });
    expect(replaced.metadata.generation).toBe(4);

    await co.createNamespacedCustomObject({ ...np, namespace: 'kube-system', body: nicport('np2') });
    const all = (await co.listClusterCustomObject(np)) as { kind: string; items: Obj[]; metadata: { resourceVersion: string } };
    expect(all.kind).toBe('NicPortList');
    expect(all.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['default/np1', 'kube-system/np2']);
    expect(all.items[0]?.kind).toBe('NicPort');
    const inDefault = (await co.listNamespacedCustomObject({ ...np, namespace: ns, labelSelector: 'vmi-target=test' })) as { items: Obj[] };
    expect(inDefault.items.map((o) => o.metadata.name)).toEqual(['np1']);
  });

  it('refuses strategic merge patch on custom resources, like the real server', async () => {
    await co.createNamespacedCustomObject({ ...np, namespace: ns, body: nicport('smp') });
    const refused = await caughtStatus(co.patchNamespacedCustomObject(
      { ...np, namespace: ns, name: 'smp', body: { spec: { vmi: 'x' } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    ));
    expect(refused).toMatchObject({ code: 415, status: { reason: 'UnsupportedMediaType' } });
  });

  it('splits status from the main resource for resources with a status subresource', async () => {
    await co.createNamespacedCustomObject({ ...np, namespace: ns, body: { ...nicport('st'), status: { stat: 'phase1' } } });
    expect(api.get('nicports', ns, 'st')?.status).toBeUndefined();

    const withStatus = (await co.patchNamespacedCustomObjectStatus(
      { ...np, namespace: ns, name: 'st', body: { status: { stat: 'phase0.1' }, spec: { subnet: 'ignored' }, metadata: { labels: { ignored: 'y' } } } },
      mergePatch,
    )) as Obj;
    expect(withStatus.status).toEqual({ stat: 'phase0.1' });
    expect(withStatus.spec).toEqual({ subnet: 'subnet1' });
    expect(withStatus.metadata.labels).toBeUndefined();
    expect(withStatus.metadata.generation).toBe(1);

    const mainPut = structuredClone(withStatus);
    mainPut.status = { stat: 'phase1' };
    mainPut.spec = { subnet: 'subnet1', vmi: 'vm1' };
    const afterPut = (await co.replaceNamespacedCustomObject({ ...np, namespace: ns, name: 'st', body: mainPut })) as Obj;
    expect(afterPut.status).toEqual({ stat: 'phase0.1' });
    expect(afterPut.spec?.vmi).toBe('vm1');
    expect(afterPut.metadata.generation).toBe(2);

    const statusPut = structuredClone(afterPut);
    statusPut.status = { stat: 'phase1', observedGeneration: 2 };
    statusPut.spec = { subnet: 'changed' };
    const afterStatusPut = (await co.replaceNamespacedCustomObjectStatus({ ...np, namespace: ns, name: 'st', body: statusPut })) as Obj;
    expect(afterStatusPut.status).toEqual({ stat: 'phase1', observedGeneration: 2 });
    expect(afterStatusPut.spec?.subnet).toBe('subnet1');

    const staleStatus = await caughtStatus(co.replaceNamespacedCustomObjectStatus({ ...np, namespace: ns, name: 'st', body: statusPut }));
    expect(staleStatus.code).toBe(409);

    // virtualmachineinstances have no status subresource: status goes through the main resource, /status is 404.
    const vmi = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' };
    await co.createNamespacedCustomObject({ ...vmi, namespace: ns, body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vmi1' }, spec: {}, status: { phase: 'Running' } } });
    expect(api.get('vmi', ns, 'vmi1')?.status).toEqual({ phase: 'Running' });
    const noStatus = await caughtStatus(co.getNamespacedCustomObjectStatus({ ...vmi, namespace: ns, name: 'vmi1' }));
    expect(noStatus.code).toBe(404);
  });

  it('keeps an object with finalizers until they are removed', async () => {
    await co.createNamespacedCustomObject({ ...np, namespace: ns, body: { ...nicport('fin'), metadata: { name: 'fin', finalizers: ['ovnic.io/lsp'] } } });
    const deleting = (await co.deleteNamespacedCustomObject({ ...np, namespace: ns, name: 'fin' })) as Obj;
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    expect(deleting.metadata.generation).toBe(2);
    const still = (await co.getNamespacedCustomObject({ ...np, namespace: ns, name: 'fin' })) as Obj;
    expect(still.metadata.deletionTimestamp).toBe(deleting.metadata.deletionTimestamp);

    const again = (await co.deleteNamespacedCustomObject({ ...np, namespace: ns, name: 'fin' })) as Obj;
    expect(again.metadata.resourceVersion).toBe(deleting.metadata.resourceVersion);

    const addMore = await caughtStatus(co.patchNamespacedCustomObject(
      { ...np, namespace: ns, name: 'fin', body: { metadata: { finalizers: ['ovnic.io/lsp', 'other.io/x'] } } }, mergePatch,
    ));
    expect(addMore).toMatchObject({ code: 422, status: { reason: 'Invalid' } });

    const undelete = (await co.patchNamespacedCustomObject(
      { ...np, namespace: ns, name: 'fin', body: { metadata: { deletionTimestamp: null, labels: { a: 'b' } } } }, mergePatch,
    )) as Obj;
    expect(undelete.metadata.deletionTimestamp).toBe(deleting.metadata.deletionTimestamp);

    await co.patchNamespacedCustomObject(
      { ...np, namespace: ns, name: 'fin', body: [{ op: 'remove', path: '/metadata/finalizers' }] },
    );
    expect((await caughtStatus(co.getNamespacedCustomObject({ ...np, namespace: ns, name: 'fin' }))).code).toBe(404);

    await co.createNamespacedCustomObject({ ...np, namespace: ns, body: nicport('plain') });
    const status = (await co.deleteNamespacedCustomObject({ ...np, namespace: ns, name: 'plain' })) as { kind: string; status: string; details: { name: string; kind: string } };
    expect(status).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'plain', kind: 'nicports', group: 'kubevirt.chinaunicom.com' } });
    const missing = await caughtStatus(co.deleteNamespacedCustomObject({ ...np, namespace: ns, name: 'plain' }));
    expect(missing).toMatchObject({ code: 404, status: { reason: 'NotFound', message: 'nicports.kubevirt.chinaunicom.com "plain" not found' } });
  });

  it('honours delete preconditions', async () => {
    const created = (await co.createNamespacedCustomObject({ ...np, namespace: ns, body: nicport('pre') })) as Obj;
    const wrong = await caughtStatus(co.deleteNamespacedCustomObject({ ...np, namespace: ns, name: 'pre', body: { preconditions: { resourceVersion: '1' } } }));
    expect(wrong.code).toBe(409);
    await co.deleteNamespacedCustomObject({ ...np, namespace: ns, name: 'pre', body: { preconditions: { uid: created.metadata.uid as string } } });
    expect(api.get('nicports', ns, 'pre')).toBeUndefined();
  });

  it('serves cluster-scoped Kube-OVN subnets and IPs', async () => {
    const subnets = { group: 'kubeovn.io', version: 'v1', plural: 'subnets' };
    await co.createClusterCustomObject({ ...subnets, body: { apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name: 'subnet1' }, spec: { cidrBlock: '10.0.0.0/24,fd00::/64', gateway: '10.0.0.1,fd00::1', provider: 'attachnet1.mec-nets.ovn' } } });
    const got = (await co.getClusterCustomObject({ ...subnets, name: 'subnet1' })) as Obj;
    expect(got.metadata.namespace).toBeUndefined();
    expect(got.spec?.cidrBlock).toBe('10.0.0.0/24,fd00::/64');
    const ip = { group: 'kubeovn.io', version: 'v1', plural: 'ips' };
    await co.createClusterCustomObject({ ...ip, body: { apiVersion: 'kubeovn.io/v1', kind: 'IP', metadata: { name: 'np1.default' }, spec: { v4IpAddress: '10.0.0.5' } } });
    expect(api.list('ips.kubeovn.io').map((o) => o.metadata.name)).toEqual(['np1.default']);
    const namespacedPath = await fetch(`${api.url}/apis/kubeovn.io/v1/namespaces/default/subnets`);
    expect(namespacedPath.status).toBe(404);
  });
});

describe('API server double: CRD installation and schema validation', () => {
  let api: ApiServer;
  let co: CustomObjectsApi;
  let ext: ApiextensionsV1Api;

  beforeAll(async () => {
    api = await startApiServer({ crdFiles: [NICPORT_CRD] });
    co = api.kubeConfig().makeApiClient(CustomObjectsApi);
    ext = api.kubeConfig().makeApiClient(ApiextensionsV1Api);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('validates NicPorts against deploy/crds with upstream-shaped 422 errors', async () => {
    const bad = await caughtStatus(co.createNamespacedCustomObject({
      ...np, namespace: ns, body: nicport('bad', { subnet: 'subnet1', mac: 'zz:zz', cni: 'calico' }),
    }));
    expect(bad.code).toBe(422);
    expect(bad.status?.reason).toBe('Invalid');
    expect(bad.status?.details?.kind).toBe('NicPort');
    expect(bad.status?.details?.causes?.map((c) => `${c.field}:${c.reason}`).sort()).toEqual(['spec.cni:FieldValueNotSupported', 'spec.mac:FieldValueInvalid']);
    expect(bad.status?.message).toMatch(/^NicPort\.kubevirt\.chinaunicom\.com "bad" is invalid: \[/);

    const missing = await caughtStatus(co.createNamespacedCustomObject({ ...np, namespace: ns, body: nicport('nosubnet', {}) }));
    expect(missing.status?.details?.causes).toEqual([{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.subnet' }]);

    const created = (await co.createNamespacedCustomObject({
      ...np, namespace: ns, body: nicport('good', { subnet: 'subnet1', mac: '00:00:00:7D:D3:FE', unknownField: 1 }),
    })) as Obj;
    expect(created.spec).toEqual({ subnet: 'subnet1', mac: '00:00:00:7D:D3:FE' });

    const badStatus = await caughtStatus(co.patchNamespacedCustomObjectStatus(
      { ...np, namespace: ns, name: 'good', body: { status: { stat: 'phase2' } } }, mergePatch,
    ));
    expect(badStatus.code).toBe(422);
    const okStatus = (await co.patchNamespacedCustomObjectStatus(
      { ...np, namespace: ns, name: 'good', body: { status: { stat: 'phase0.1', extra: { kept: true } } } }, mergePatch,
    )) as Obj;
    expect(okStatus.status).toEqual({ stat: 'phase0.1', extra: { kept: true } });

    const strict = await caughtStatus(co.createNamespacedCustomObject({
      ...np, namespace: ns, body: nicport('strict', { subnet: 's', typo: 1 }), fieldValidation: 'Strict',
    }));
    expect(strict.code).toBe(400);
    expect(strict.status?.message).toContain('unknown field "spec.typo"');
  });

  it('registers a resource when a CRD is POSTed, and drops it with its objects on delete', async () => {
    const crd: V1CustomResourceDefinition = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      // Typed models use their own property names: `_default` is sent as `default`.
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{
          name: 'v1', served: true, storage: true, subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1, _default: 3 } } } } } },
        }],
      },
    };
    await ext.createCustomResourceDefinition({ body: crd });
    const established = await ext.readCustomResourceDefinition({ name: 'widgets.example.com' });
    expect(established.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');

    const widgets = { group: 'example.com', version: 'v1', plural: 'widgets' };
    const w = (await co.createNamespacedCustomObject({ ...widgets, namespace: ns, body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: {} } })) as Obj;
    expect(w.spec).toEqual({ size: 3 });
    const tooSmall = await caughtStatus(co.createNamespacedCustomObject({ ...widgets, namespace: ns, body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w2' }, spec: { size: 0 } } }));
    expect(tooSmall.code).toBe(422);
    const wrongType = await caughtStatus(co.createNamespacedCustomObject({ ...widgets, namespace: ns, body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w3' }, spec: { size: 'big' } } }));
    expect(wrongType.status?.details?.causes?.[0]?.reason).toBe('FieldValueTypeInvalid');

    const badCrd = await caughtStatus(ext.createCustomResourceDefinition({ body: { ...crd, metadata: { name: 'wrong.example.com' } } }));
    expect(badCrd.code).toBe(422);

    await ext.deleteCustomResourceDefinition({ name: 'widgets.example.com' });
    const gone = await caughtStatus(co.listNamespacedCustomObject({ ...widgets, namespace: ns }));
    expect(gone.code).toBe(404);
  });
});
