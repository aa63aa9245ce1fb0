/**
 * deploy/: every manifest parses, names and namespaces are right, fields are known to the
 * Kubernetes API (a round trip through client-node's typed models drops unknown fields), RBAC
 * grants exactly what ovnic uses on resources that exist, workloads are wired (volumes, ports,
 * probes, service accounts, ConfigMaps, selectors), the CRD is structural, and the kustomization
 * lists every manifest.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { REPO_ROOT } from '../../src/sandbox/plugin.js';
import { parseDaemonArgs } from '../../src/daemon/options.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const NAMESPACE = 'ovnic-system';
const IMAGE_REPO = 'ghcr.io/ovnic/ovnic';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass']);

type Json = Record<string, unknown>;
interface Manifest {
  file: string;
  obj: Json & { apiVersion: string; kind: string; metadata: Json & { name: string; namespace?: string; labels?: Record<string, string> } };
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** Parses every YAML document of a file; a syntax error or a non-object document throws. */
function parseYamlFile(path: string): Json[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${path} document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (!isObject(value)) throw new Error(`${path} document ${i} is not an object`);
    return value;
  });
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** The files the kustomization lists, loaded. */
function loadKustomization(): { kustomization: Json; manifests: Manifest[] } {
  const [kustomization] = parseYamlFile(join(DEPLOY, 'kustomization.yaml'));
  if (!kustomization) throw new Error('deploy/kustomization.yaml is empty');
  const manifests: Manifest[] = [];
  for (const resource of (kustomization.resources ?? []) as string[]) {
    for (const obj of parseYamlFile(join(DEPLOY, resource))) manifests.push({ file: resource, obj: obj as Manifest['obj'] });
  }
  return { kustomization, manifests };
}

/** Field paths that do not survive a round trip through the typed model (unknown or misspelt fields). */
export function unknownFields(obj: Json): string[] {
  const type = `V1${obj.kind as string}`;
  const roundTrip = JSON.parse(JSON.stringify(ObjectSerializer.serialize(ObjectSerializer.deserialize(obj, type, ''), type, ''))) as unknown;
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (isObject(a)) {
      for (const key of Object.keys(a)) {
        if (!isObject(b) || !(key in b)) out.push(`${path}.${key}`);
        else walk(a[key], b[key], `${path}.${key}`);
      }
    } else if (Array.isArray(a)) {
      a.forEach((item, i) => walk(item, Array.isArray(b) ? b[i] : undefined, `${path}[${i}]`));
    } else if (!isDeepStrictEqual(a, b)) {
      out.push(`${path} (value ${JSON.stringify(a)} became ${JSON.stringify(b)})`);
    }
  };
  walk(obj, roundTrip, '');
  return out;
}

/** Problems that make an OpenAPI v3 schema non-structural (the rules apiextensions.k8s.io/v1 enforces). */
export function structuralProblems(schema: unknown, path = ''): string[] {
  if (!isObject(schema)) return [`${path || '<root>'}: not an object`];
  const problems: string[] = [];
  for (const forbidden of ['$ref', 'definitions', 'dependencies', 'additionalItems', 'patternProperties', 'id', '$schema']) {
    if (forbidden in schema) problems.push(`${path}: "${forbidden}" is not allowed`);
  }
  if (schema.uniqueItems === true) problems.push(`${path}: uniqueItems must not be true`);
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema.type === undefined && !intOrString && !preserve) problems.push(`${path || '<root>'}: no type`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined) problems.push(`${path}: properties and additionalProperties together`);
  if (schema.properties !== undefined && schema.type !== 'object') problems.push(`${path}: properties on a non-object`);
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${path}: array without items`);
  for (const [key, sub] of Object.entries(isObject(schema.properties) ? schema.properties : {})) problems.push(...structuralProblems(sub, `${path}.${key}`));
  if (schema.items !== undefined) problems.push(...structuralProblems(schema.items, `${path}[]`));
  if (isObject(schema.additionalProperties)) problems.push(...structuralProblems(schema.additionalProperties, `${path}{}`));
  for (const combinator of ['allOf', 'anyOf', 'oneOf']) {
    // inside combinators types must not be set differently; ovnic does not use them at all
    if (combinator in schema) problems.push(`${path}: ${combinator} is not used by ovnic's schemas`);
  }
  return problems;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * What ovnic's code calls (reconciled with src/controller and src/daemon): group → resource → verbs.
 * A change in the code's API calls must change this table and the RBAC manifests together.
 */
const CONTROLLER_CLUSTER_RULES: Record<string, Record<string, string[]>> = {
  // informer (list, watch); finalizer as a merge patch of metadata.finalizers; status merge patch
  'kubevirt.chinaunicom.com': { nicports: ['list', 'watch', 'patch'], 'nicports/status': ['patch'] },
  // informers; IP objects: get, create, merge patch, delete
  'kubeovn.io': { subnets: ['list', 'watch'], ips: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  // launcher pods: list by label, read, merge patch; Events: create, patch (repeats)
  '': { pods: ['get', 'list', 'patch'], events: ['create', 'patch'] },
  'kubevirt.io': { virtualmachines: ['get', 'patch'], virtualmachineinstances: ['get'] },
  'k8s.cni.cncf.io': { 'network-attachment-definitions': ['get'] },
};
const CONTROLLER_NAMESPACE_RULES = { 'coordination.k8s.io': { leases: ['get', 'create', 'update'] } };
// the node's pods: one list/watch cache (field selector spec.nodeName)
const NODE_CLUSTER_RULES = { '': { pods: ['list', 'watch'] } };

/** A role's rules as group → resource → sorted verbs (one rule may list several groups/resources). */
function grants(role: Json): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  for (const rule of asArray(role.rules)) {
    for (const group of (rule.apiGroups ?? []) as string[]) {
      for (const resource of (rule.resources ?? []) as string[]) {
        const byGroup = (out[group] ??= {});
        byGroup[resource] = [...new Set([...(byGroup[resource] ?? []), ...((rule.verbs ?? []) as string[])])].sort();
      }
    }
  }
  return out;
}
const sortedTable = (t: Record<string, Record<string, string[]>>): Record<string, Record<string, string[]>> =>
  Object.fromEntries(Object.entries(t).map(([g, rs]) => [g, Object.fromEntries(Object.entries(rs).map(([r, v]) => [r, [...v].sort()]))]));

/** The pod spec of a workload. */
function podSpec(m: Manifest): Json {
  const template = (m.obj.spec as Json | undefined)?.template as Json | undefined;
  return (template?.spec ?? {}) as Json;
}
const containersOf = (spec: Json): Json[] => [...asArray(spec.initContainers), ...asArray(spec.containers)];

describe('deploy/ manifests', () => {
  let kustomization: Json;
  let manifests: Manifest[];
  const byKind = (kind: string): Manifest[] => manifests.filter((m) => m.obj.kind === kind);
  const find = (kind: string, name: string): Manifest | undefined => manifests.find((m) => m.obj.kind === kind && m.obj.metadata.name === name);

  beforeAll(() => {
    ({ kustomization, manifests } = loadKustomization());
  });

  it('every YAML file under deploy/ parses', () => {
    const files = yamlFilesUnder(DEPLOY);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(() => parseYamlFile(file), relative(REPO_ROOT, file)).not.toThrow();
  });

  it('the kustomization lists every manifest of deploy/ (examples aside) and pins the image to the package version', () => {
    const listed = new Set(((kustomization.resources ?? []) as string[]).map((r) => join(DEPLOY, r)));
    const expected = yamlFilesUnder(DEPLOY).filter((f) => !f.endsWith('kustomization.yaml') && !relative(DEPLOY, f).startsWith('examples/'));
    expect([...listed].sort()).toEqual(expected);
    expect(kustomization.namespace).toBe(NAMESPACE);
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(kustomization.images).toEqual([{ name: IMAGE_REPO, newTag: version }]);
    for (const m of [...byKind('DaemonSet'), ...byKind('Deployment')]) {
      for (const c of containersOf(podSpec(m))) expect(c.image, `${m.obj.metadata.name}/${String(c.name)}`).toBe(`${IMAGE_REPO}:${version}`);
    }
  });

  it('every object has apiVersion, kind, a valid name, the part-of label, and the right namespace', () => {
    expect(manifests.length).toBeGreaterThan(10);
    const seen = new Set<string>();
    for (const { file, obj } of manifests) {
      const where = `${file}: ${obj.kind}/${obj.metadata?.name}`;
      expect(typeof obj.apiVersion, where).toBe('string');
      expect(typeof obj.kind, where).toBe('string');
      expect(obj.metadata.name, where).toMatch(DNS1123_SUBDOMAIN);
      expect(obj.metadata.labels?.['app.kubernetes.io/part-of'], where).toBe('ovnic');
      if (CLUSTER_SCOPED.has(obj.kind)) expect(obj.metadata.namespace, where).toBeUndefined();
      else expect(obj.metadata.namespace, where).toBe(NAMESPACE);
      const key = `${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
      expect(seen.has(key), `duplicate ${key}`).toBe(false);
      seen.add(key);
    }
    expect(find('Namespace', NAMESPACE)).toBeDefined();
  });

  it('every field is one the Kubernetes API knows (no misspelt or misplaced keys)', () => {
    for (const { file, obj } of manifests) expect(unknownFields(obj), `${file}: ${obj.kind}/${obj.metadata.name}`).toEqual([]);
    // the check itself finds a misspelt field and a misplaced one
    const ds = structuredClone(byKind('DaemonSet')[0]!.obj);
    const container = asArray(podSpec({ file: '', obj: ds }).containers)[0]!;
    (asArray(container.volumeMounts)[0] as Json).mountPropogation = 'Bidirectional';
    container.hostNetwork = true;
    expect(unknownFields(ds)).toEqual([
      '.spec.template.spec.containers[0].volumeMounts[0].mountPropogation',
      '.spec.template.spec.containers[0].hostNetwork',
    ]);
  });

  it('the NicPort CRD is structural and served as the controller expects', () => {
    const crds = byKind('CustomResourceDefinition');
    expect(crds.map((m) => m.obj.metadata.name)).toEqual(['nicports.kubevirt.chinaunicom.com']);
    const spec = crds[0]!.obj.spec as Json;
    const versions = asArray(spec.versions);
    expect(versions.filter((v) => v.storage === true)).toHaveLength(1);
    for (const v of versions) {
      const schema = (v.schema as Json).openAPIV3Schema as Json;
      expect(schema.type).toBe('object');
      expect(structuralProblems(schema), `version ${String(v.name)}`).toEqual([]);
      expect((v.subresources as Json | undefined)?.status).toEqual({});
    }
    expect(structuralProblems({ type: 'object', properties: { a: { properties: {} }, b: { type: 'array' } } })).toEqual([
      '.a: no type',
      '.a: properties on a non-object',
      '.b: array without items',
    ]);
  });

  describe('RBAC', () => {
    let api: ApiServer;
    beforeAll(async () => {
      api = await startApiServer();
    });
    afterAll(async () => {
      await api?.close();
    });

    it('grants the controller and the node daemon exactly the calls ovnic makes', () => {
      expect(grants(find('ClusterRole', 'ovnic-controller')!.obj)).toEqual(sortedTable(CONTROLLER_CLUSTER_RULES));
      expect(grants(find('Role', 'ovnic-controller-leader-election')!.obj)).toEqual(sortedTable(CONTROLLER_NAMESPACE_RULES));
      expect(grants(find('ClusterRole', 'ovnic-node')!.obj)).toEqual(sortedTable(NODE_CLUSTER_RULES));
      expect(byKind('ClusterRole')).toHaveLength(2);
      expect(byKind('Role')).toHaveLength(1);
      for (const role of [...byKind('ClusterRole'), ...byKind('Role')]) {
        for (const rule of asArray(role.obj.rules)) {
          expect(rule.resourceNames, 'no resourceNames').toBeUndefined();
          expect(rule.nonResourceURLs, 'no nonResourceURLs').toBeUndefined();
          for (const list of [rule.apiGroups, rule.resources, rule.verbs]) expect(list as string[]).not.toContain('*');
        }
      }
    });

    it('every rule names a resource the API serves (CRDs: ovnic, Kube-OVN, KubeVirt, Multus) and a real verb', () => {
      const verbs = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']);
      for (const role of [...byKind('ClusterRole'), ...byKind('Role')]) {
        for (const rule of asArray(role.obj.rules)) {
          for (const group of rule.apiGroups as string[]) {
            for (const resource of rule.resources as string[]) {
              const [plural, sub] = resource.split('/') as [string, string | undefined];
              const where = `${role.obj.metadata.name}: ${group}/${resource}`;
              const served = api.resource(group === '' ? plural : `${plural}.${group}`);
              expect(served, where).toBeDefined();
              if (sub === 'status') expect(served.statusSubresource, `${where}: no status subresource`).toBe(true);
              else if (sub !== undefined) expect(sub, where).toBe('finalizers');
            }
          }
          for (const verb of rule.verbs as string[]) expect(verbs.has(verb), `${role.obj.metadata.name}: verb ${verb}`).toBe(true);
        }
      }
    });

    it('bindings reference roles and service accounts that exist', () => {
      for (const binding of [...byKind('ClusterRoleBinding'), ...byKind('RoleBinding')]) {
        const ref = binding.obj.roleRef as Json;
        expect(ref.apiGroup).toBe('rbac.authorization.k8s.io');
        const role = find(ref.kind as string, ref.name as string);
        expect(role, `${binding.obj.metadata.name} → ${String(ref.kind)}/${String(ref.name)}`).toBeDefined();
        if (binding.obj.kind === 'RoleBinding') expect(role!.obj.metadata.namespace).toBe(binding.obj.metadata.namespace);
        for (const subject of asArray(binding.obj.subjects)) {
          expect(subject.kind).toBe('ServiceAccount');
          const sa = find('ServiceAccount', subject.name as string);
          expect(sa, `${binding.obj.metadata.name} → ServiceAccount ${String(subject.name)}`).toBeDefined();
          expect(subject.namespace).toBe(sa!.obj.metadata.namespace);
        }
      }
    });
  });

  describe('workloads', () => {
    it('the node DaemonSet runs privileged on the host network with the host paths it needs', () => {
      const ds = find('DaemonSet', 'ovnic-node');
      expect(ds).toBeDefined();
      const spec = podSpec(ds!);
      expect(spec.hostNetwork).toBe(true);
      expect(spec.hostPID).toBe(true);
      expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
      expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
      const hostPaths = Object.fromEntries(asArray(spec.volumes).filter((v) => v.hostPath).map((v) => [v.name, (v.hostPath as Json).path]));
      expect(Object.values(hostPaths).sort()).toEqual(['/etc/cni/net.d', '/opt/cni/bin', '/run/openvswitch', '/run/ovnic', '/var/lib/cni', '/var/lib/ovnic', '/var/log/ovnic', '/var/run/netns']);
      const daemon = asArray(spec.containers).find((c) => c.name === 'ovnic-node')!;
      expect((daemon.securityContext as Json).privileged).toBe(true);
      expect(daemon.args).toContain('daemon');
      const netns = asArray(daemon.volumeMounts).find((m) => m.mountPath === '/var/run/netns');
      expect(netns?.mountPropagation).toBe('Bidirectional');
      const mounted = asArray(daemon.volumeMounts).map((m) => m.mountPath).sort();
      expect(mounted).toEqual(['/opt/cni/bin', '/run/openvswitch', '/run/ovnic', '/var/lib/cni', '/var/log/ovnic', '/var/run/netns']);
      expect(asArray(daemon.volumeMounts).find((m) => m.mountPath === '/opt/cni/bin')?.readOnly).toBe(true);
      expect(daemon.args).toEqual(expect.arrayContaining(['--socket=/run/ovnic/daemon.sock', '--http-addr=:9471']));
      // the daemon's own parser accepts the arguments (argv after the subcommand)
      const args = daemon.args as string[];
      const parsed = parseDaemonArgs(args.slice(args.indexOf('daemon') + 1), { NODE_NAME: 'node1' });
      expect(parsed).toMatchObject({ socket: '/run/ovnic/daemon.sock', node: 'node1', http: { port: 9471 } });
      const init = asArray(spec.initContainers);
      expect(init.map((c) => c.name)).toEqual(['install-cni']);
      const initMounts = Object.fromEntries(asArray(init[0]!.volumeMounts).map((m) => [m.name, m.mountPath]));
      expect(hostPaths[Object.keys(initMounts).find((n) => initMounts[n] === '/host/opt/cni/bin')!]).toBe('/opt/cni/bin');
      expect(hostPaths[Object.keys(initMounts).find((n) => initMounts[n] === '/host/etc/cni/net.d')!]).toBe('/etc/cni/net.d');
    });

    it('the controller Deployment: 2 replicas, leader election, probes, spread over nodes, unprivileged', () => {
      const dep = find('Deployment', 'ovnic-controller');
      expect(dep).toBeDefined();
      expect((dep!.obj.spec as Json).replicas).toBe(2);
      const spec = podSpec(dep!);
      const [c] = asArray(spec.containers);
      expect(c!.command).toEqual(['node', '/opt/ovnic/dist/ovnic-controller.mjs']);
      expect(c!.args).toEqual(expect.arrayContaining(['--leader-elect=true']));
      expect((c!.livenessProbe as Json).httpGet).toMatchObject({ path: '/healthz' });
      expect((c!.readinessProbe as Json).httpGet).toMatchObject({ path: '/readyz' });
      const affinity = ((spec.affinity as Json).podAntiAffinity as Json).preferredDuringSchedulingIgnoredDuringExecution as Json[];
      expect(((affinity[0]!.podAffinityTerm as Json).topologyKey)).toBe('kubernetes.io/hostname');
      expect((spec.securityContext as Json).runAsNonRoot).toBe(true);
      expect(c!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      const env = asArray(c!.env).map((e) => e.name);
      expect(env).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    });

    it("the controller's own parser accepts the Deployment's arguments", async () => {
      const [c] = asArray(podSpec(find('Deployment', 'ovnic-controller')!).containers);
      const args = c!.args as string[];
      const { main } = await import('../../src/controller/main.js');
      // --help after the arguments: strict parsing rejects an unknown flag (2) before printing help (0)
      const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        expect(await main([...args, '--help'])).toBe(0);
        expect(await main([...args, '--no-such-flag', '--help'])).toBe(2);
      } finally {
        write.mockRestore();
        stderr.mockRestore();
      }
    });

    it('mounts match volumes, probes and Services use declared ports, references resolve', () => {
      for (const m of [...byKind('DaemonSet'), ...byKind('Deployment')]) {
        const where = `${m.obj.kind}/${m.obj.metadata.name}`;
        const spec = podSpec(m);
        const template = (m.obj.spec as Json).template as Json;
        // selector ⊆ template labels
        const selector = ((m.obj.spec as Json).selector as Json).matchLabels as Record<string, string>;
        expect((template.metadata as Json).labels, where).toMatchObject(selector);
        expect(find('ServiceAccount', spec.serviceAccountName as string), `${where}: service account`).toBeDefined();
        const volumes = new Map(asArray(spec.volumes).map((v) => [v.name as string, v]));
        const used = new Set<string>();
        for (const c of containersOf(spec)) {
          const cw = `${where}/${String(c.name)}`;
          const mountPaths = new Set<string>();
          for (const mount of asArray(c.volumeMounts)) {
            expect(volumes.has(mount.name as string), `${cw}: volume ${String(mount.name)}`).toBe(true);
            expect(mountPaths.has(mount.mountPath as string), `${cw}: ${String(mount.mountPath)} mounted twice`).toBe(false);
            mountPaths.add(mount.mountPath as string);
            used.add(mount.name as string);
            if (mount.mountPropagation === 'Bidirectional') expect((c.securityContext as Json | undefined)?.privileged, `${cw}: Bidirectional needs privileged`).toBe(true);
          }
          const ports = new Set(asArray(c.ports).map((p) => p.name));
          for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
            const port = ((c[probe] as Json | undefined)?.httpGet as Json | undefined)?.port;
            if (typeof port === 'string') expect(ports.has(port), `${cw}: ${probe} port ${port}`).toBe(true);
          }
          for (const from of asArray(c.envFrom)) {
            const ref = from.configMapRef as Json | undefined;
            if (ref) expect(find('ConfigMap', ref.name as string), `${cw}: ConfigMap ${String(ref.name)}`).toBeDefined();
          }
        }
        expect([...volumes.keys()].filter((v) => !used.has(v)), `${where}: unused volumes`).toEqual([]);
        for (const v of volumes.values()) {
          const cm = v.configMap as Json | undefined;
          if (cm) expect(find('ConfigMap', cm.name as string), `${where}: ConfigMap ${String(cm.name)}`).toBeDefined();
        }
      }
      for (const svc of byKind('Service')) {
        const spec = svc.obj.spec as Json;
        const selector = spec.selector as Record<string, string>;
        const targets = [...byKind('DaemonSet'), ...byKind('Deployment')].filter((w) => isDeepStrictEqual({ ...(((w.obj.spec as Json).template as Json).metadata as Json).labels as object, ...selector }, (((w.obj.spec as Json).template as Json).metadata as Json).labels));
        expect(targets, `Service ${svc.obj.metadata.name} selects a workload`).toHaveLength(1);
        const portNames = new Set(containersOf(podSpec(targets[0]!)).flatMap((c) => asArray(c.ports).map((p) => p.name)));
        for (const port of asArray(spec.ports)) expect(portNames.has(port.targetPort), `Service ${svc.obj.metadata.name} targetPort ${String(port.targetPort)}`).toBe(true);
        const ann = svc.obj.metadata.annotations as Record<string, string>;
        expect(ann['prometheus.io/scrape']).toBe('true');
        expect(asArray(spec.ports).map((p) => String(p.port))).toContain(ann['prometheus.io/port']);
      }
    });

    it('label keys/values and annotation keys are valid', () => {
      const qualifiedName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
      const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
      for (const { obj } of manifests) {
        for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
          expect(k).toMatch(qualifiedName);
          expect(v).toMatch(labelValue);
        }
        for (const k of Object.keys((obj.metadata.annotations as Json | undefined) ?? {})) expect(k).toMatch(qualifiedName);
      }
      for (const m of byKind('ServiceAccount')) expect(m.obj.metadata.name).toMatch(DNS1123_LABEL);
    });
  });
});
