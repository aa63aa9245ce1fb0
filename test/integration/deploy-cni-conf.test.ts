/**
 * Every network configuration ovnic ships — cni-conf/*.conflist, the Multus NADs in
 * cni-conf/multus/, the DaemonSet's conflist in deploy/config.yaml — is accepted by ovnic's own
 * configuration parser and uses only keys cni-conf/README.md documents; the NADs, Subnets and pod
 * annotations of the examples agree with each other (provider names, annotation keys, subnets,
 * addresses inside them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadNetConf } from '../../src/cni/config.js';
import { inSubnet } from '../../src/nic/plan.js';
import { REPO_ROOT } from '../../src/sandbox/plugin.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const CNI_CONF = join(REPO_ROOT, 'cni-conf');
const MULTUS = join(CNI_CONF, 'multus');
const CONFLIST_KEYS = new Set(['cniVersion', 'cniVersions', 'name', 'plugins', 'disableCheck', 'disableGC']);
/** Keys every CNI plugin object may carry besides its own (spec: type, capabilities, ipam, dns, args, runtimeConfig). */
const STANDARD_PLUGIN_KEYS = new Set(['type', 'name', 'cniVersion', 'capabilities', 'ipam', 'dns', 'args', 'runtimeConfig']);
/** Kube-OVN's provider-scoped pod annotation keys (pkg/util/const.go) ovnic writes or reads. */
const KUBE_OVN_KEYS = new Set(['allocated', 'cidr', 'gateway', 'ip_address', 'mac_address', 'logical_switch', 'logical_router', 'pod_nic_type', 'routed', 'port_name', 'default_route', 'routes', 'virtualmachine']);

/** The keys of the README's "Keys of the `ovnic` plugin object" table. */
function documentedKeys(): Set<string> {
  const readme = readFileSync(join(CNI_CONF, 'README.md'), 'utf8');
  const section = readme.split('## Keys of the `ovnic` plugin object')[1]?.split('\n## ')[0] ?? '';
  const keys = new Set<string>();
  for (const line of section.split('\n')) {
    const first = /^\| (.+?) \|/.exec(line)?.[1];
    if (first) for (const [, key] of first.matchAll(/`([A-Za-z]+)`/g)) keys.add(key!);
  }
  return keys;
}

/** Each ovnic plugin object of a conflist or single-plugin configuration, as the runtime sends it. */
function ovnicPlugins(conf: Json): Json[] {
  const plugins = Array.isArray(conf.plugins) ? conf.plugins.filter(isObject) : [conf];
  return plugins.filter((p) => p.type === 'ovnic').map((p) => ({ ...p, name: conf.name, cniVersion: conf.cniVersion }));
}

function expectValidOvnicConfig(conf: Json, where: string, documented: Set<string>): Json[] {
  if (Array.isArray(conf.plugins)) for (const key of Object.keys(conf)) expect(CONFLIST_KEYS.has(key), `${where}: conflist key "${key}"`).toBe(true);
  const plugins = ovnicPlugins(conf);
  expect(plugins.length, `${where}: an ovnic plugin`).toBeGreaterThan(0);
  for (const plugin of plugins) {
    for (const key of Object.keys(plugin)) expect(STANDARD_PLUGIN_KEYS.has(key) || documented.has(key), `${where}: key "${key}" is not documented in cni-conf/README.md`).toBe(true);
    expect(() => loadNetConf(JSON.stringify(plugin), 'ADD'), where).not.toThrow();
  }
  return plugins;
}

const readYaml = (path: string): Json[] => parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Json);
const yamlIn = (dir: string): Array<{ file: string; obj: Json }> =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) => readYaml(join(dir, file)).map((obj) => ({ file, obj })));

/** The NADs a pod selects: [namespace/name, interface | undefined]. */
function selections(pod: Json): Array<{ nad: string; ifname?: string }> {
  const meta = pod.metadata as Json;
  const value = ((meta.annotations ?? {}) as Record<string, string>)['k8s.v1.cni.cncf.io/networks'];
  if (!value) return [];
  const ns = meta.namespace as string;
  if (value.trim().startsWith('[')) {
    return (JSON.parse(value) as Json[]).map((e) => ({ nad: `${(e.namespace as string | undefined) ?? ns}/${e.name as string}`, ...(e.interface ? { ifname: e.interface as string } : {}) }));
  }
  return value.split(',').map((item) => {
    const [ref, ifname] = item.trim().split('@') as [string, string | undefined];
    const nad = ref.includes('/') ? ref : `${ns}/${ref}`;
    return ifname ? { nad, ifname } : { nad };
  });
}

describe('shipped network configurations', () => {
  const documented = documentedKeys();

  it('the README documents the keys ovnic reads', () => {
    for (const key of ['bridge', 'ovsdb', 'ovsNetns', 'nicType', 'provider', 'serverSocket', 'guestOwnsAddresses', 'vhostSocketDir', 'macvtapMode', 'ovnWait']) {
      expect(documented.has(key), key).toBe(true);
    }
  });

  it('cni-conf/*.conflist and the DaemonSet conflist are valid ovnic configurations with documented keys', () => {
    const files = readdirSync(CNI_CONF).filter((f) => f.endsWith('.conflist'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expectValidOvnicConfig(JSON.parse(readFileSync(join(CNI_CONF, file), 'utf8')) as Json, file, documented);
    const cm = readYaml(join(REPO_ROOT, 'deploy', 'config.yaml')).find((o) => (o.metadata as Json).name === 'ovnic-cni-config')!;
    for (const [key, text] of Object.entries(cm.data as Record<string, string>)) {
      const [plugin] = expectValidOvnicConfig(JSON.parse(text) as Json, `deploy/config.yaml ${key}`, documented);
      expect(plugin!.serverSocket).toBe('/run/ovnic/daemon.sock');
      expect(plugin!.ipam, 'daemon mode: addresses come from the pod annotations').toBeUndefined();
    }
  });

  it('the podman conflist speaks cniVersion 1.0.0 (podman 4 bundles libcni 1.1.2)', () => {
    const conf = JSON.parse(readFileSync(join(CNI_CONF, '30-ovnic-podman.conflist'), 'utf8')) as Json;
    expect(conf.cniVersion).toBe('1.0.0');
  });

  describe('Multus examples', () => {
    const objects = yamlIn(MULTUS);
    const subnets = objects.filter((o) => o.obj.kind === 'Subnet').map((o) => o.obj);
    /** "<ns>/<name>" → the provider its name implies and its (first) ovnic plugin object. */
    const nads = new Map<string, { provider: string; plugin: Json }>();
    for (const { obj } of objects.filter((o) => o.obj.kind === 'NetworkAttachmentDefinition')) {
      const meta = obj.metadata as Json;
      const conf = JSON.parse((obj.spec as Json).config as string) as Json;
      nads.set(`${meta.namespace as string}/${meta.name as string}`, { provider: `${meta.name as string}.${meta.namespace as string}.ovn`, plugin: ovnicPlugins(conf)[0] ?? {} });
    }

    it('every NAD is an ovnic configuration named after the NAD with provider <nad>.<ns>.ovn', () => {
      const nadObjects = objects.filter((o) => o.obj.kind === 'NetworkAttachmentDefinition');
      expect(nadObjects.map((o) => (o.obj.metadata as Json).name)).toEqual(['attachnet1', 'attachnet2', 'attachnet3', 'attachnet4']);
      const nicTypes = new Set<unknown>();
      for (const { file, obj } of nadObjects) {
        expect(obj.apiVersion).toBe('k8s.cni.cncf.io/v1');
        const meta = obj.metadata as Json;
        const conf = JSON.parse((obj.spec as Json).config as string) as Json;
        const [plugin] = expectValidOvnicConfig(conf, file, documented);
        expect(conf.name, file).toBe(meta.name);
        const provider = `${meta.name as string}.${meta.namespace as string}.ovn`;
        expect(plugin!.provider, file).toBe(provider);
        nicTypes.add(plugin!.nicType ?? 'veth');
      }
      expect([...nicTypes].sort()).toEqual(['dpdk-vhostuser', 'internal-macvtap', 'veth']);
    });

    it('every daemon-mode NAD has a Kube-OVN Subnet with its provider', () => {
      for (const [nad, { provider, plugin }] of nads) {
        if (!plugin.serverSocket) continue;
        expect(subnets.filter((s) => (s.spec as Json).provider === provider), nad).toHaveLength(1);
      }
    });

    it('pods select existing NADs and use annotation keys scoped to their providers, on the right subnet', () => {
      const pods = objects.filter((o) => o.obj.kind === 'Pod');
      expect(pods.length).toBeGreaterThanOrEqual(3);
      for (const { file, obj } of pods) {
        const chosen = selections(obj);
        expect(chosen.length, file).toBeGreaterThan(0);
        const counts = new Map<string, number>();
        for (const c of chosen) counts.set(c.nad, (counts.get(c.nad) ?? 0) + 1);
        const scopes = new Map<string, string>();
        for (const c of chosen) {
          const nad = nads.get(c.nad);
          expect(nad, `${file}: NAD ${c.nad}`).toBeDefined();
          // a NAD attached more than once: each attachment is scoped <provider>.<ifname>, which needs the ifname
          if (counts.get(c.nad)! > 1) {
            expect(c.ifname, `${file}: ${c.nad} attached twice needs interface names`).toBeDefined();
            scopes.set(`${nad!.provider}.${c.ifname!}`, nad!.provider);
          } else {
            scopes.set(nad!.provider, nad!.provider);
          }
        }
        const annotations = ((obj.metadata as Json).annotations ?? {}) as Record<string, string>;
        for (const [key, value] of Object.entries(annotations)) {
          if (key === 'k8s.v1.cni.cncf.io/networks') continue;
          const m = /^(.+)\.kubernetes\.io\/([a-z_]+)$/.exec(key);
          expect(m, `${file}: ${key}`).not.toBeNull();
          const [, scope, name] = m!;
          expect(scopes.has(scope!), `${file}: ${key} is not scoped to an attachment of this pod (${[...scopes.keys()].join(', ')})`).toBe(true);
          expect(KUBE_OVN_KEYS.has(name!), `${file}: ${name}`).toBe(true);
          if (name === 'logical_switch') {
            const subnet = subnets.find((s) => (s.metadata as Json).name === value);
            expect(subnet, `${file}: Subnet ${value}`).toBeDefined();
            expect((subnet!.spec as Json).provider, `${file}: ${key}`).toBe(scopes.get(scope!));
            const ips = annotations[`${scope!}.kubernetes.io/ip_address`];
            if (ips) {
              const cidrs = ((subnet!.spec as Json).cidrBlock as string).split(',');
              for (const ip of ips.split(',')) expect(cidrs.some((c) => inSubnet(ip, c)), `${file}: ${ip} in ${cidrs.join(',')}`).toBe(true);
            }
          }
        }
      }
    });

    it('static selections only go to NADs that accept runtimeConfig (capabilities ips/mac)', () => {
      for (const { file, obj } of objects.filter((o) => o.obj.kind === 'Pod')) {
        const value = (((obj.metadata as Json).annotations ?? {}) as Record<string, string>)['k8s.v1.cni.cncf.io/networks'] ?? '';
        if (!value.trim().startsWith('[')) continue;
        for (const e of JSON.parse(value) as Json[]) {
          if (!e.ips && !e.mac) continue;
          const nad = nads.get(`${e.namespace as string}/${e.name as string}`)!;
          expect(nad.plugin.capabilities, file).toEqual({ ips: true, mac: true });
          const withRuntime = { ...nad.plugin, runtimeConfig: { ips: e.ips, mac: e.mac } };
          expect(() => loadNetConf(JSON.stringify(withRuntime), 'ADD'), file).not.toThrow();
        }
      }
    });
  });
});
