/**
 * The manifests as kubectl handles them, without a cluster: `kubectl kustomize deploy/` (offline),
 * then `kubectl apply -k deploy/` in client and server dry-run mode against the in-process API
 * server double (which serves discovery for every kind deploy/ uses). Skipped only when no
 * kubectl is installed (Debian: `apt-get install kubernetes-client`; scripts/setup.sh installs it
 * when no kubectl is on PATH).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { REPO_ROOT } from '../../src/sandbox/plugin.js';

const kubectl = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
if (!kubectl) process.stderr.write('deploy-kubectl: skipped, no kubectl on PATH (Debian: apt-get install kubernetes-client)\n');
/** kubectl before 1.27 (Debian's is 1.20) fetches /openapi/v2 for a server dry run; the double does not serve it. */
const kubectlMinor = kubectl
  ? Number((JSON.parse(spawnSync(kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).stdout || '{}') as { clientVersion?: { minor?: string } }).clientVersion?.minor?.replace(/\D.*$/, '') ?? 0)
  : 0;
const serverDryRun = kubectlMinor >= 27;
if (kubectl && !serverDryRun) process.stderr.write(`deploy-kubectl: server dry-run tests skipped, kubectl 1.${kubectlMinor} needs an OpenAPI document\n`);

const DEPLOY = join(REPO_ROOT, 'deploy');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(kubectl, [...args], { env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** "kind/name" of every document kubectl rendered, lower-case kind as `-o name` prints. */
function renderedNames(yamlText: string): string[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
    .filter((o): o is { kind: string; metadata: { name: string } } => o !== null)
    .map((o) => `${o.kind}/${o.metadata.name}`)
    .sort();
}

/** Built-in kinds deploy/ uses that the API server double does not serve from the start. */
const EXTRA_BUILTINS = [
  { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, statusSubresource: true, shortNames: ['ds'] },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, statusSubresource: true, shortNames: ['deploy'] },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, statusSubresource: true, shortNames: ['svc'] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true },
];

describe.skipIf(!kubectl)('kubectl with deploy/', () => {
  let api: ApiServer;
  let dir: string;
  let kubeconfig: string;
  let rendered: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ovnic-kubectl-'));
    // no preinstalled CRDs: the NicPort CRD is created by the apply like on a fresh cluster
    api = await startApiServer({ clusterCrds: false });
    for (const spec of EXTRA_BUILTINS) api.registerResource(spec);
    kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
  });
  afterAll(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl kustomize deploy/ renders every manifest (offline)', async () => {
    const r = await run(['kustomize', DEPLOY]);
    expect(r.code, r.stderr).toBe(0);
    rendered = renderedNames(r.stdout);
    expect(rendered).toEqual(
      [
        'ClusterRole/ovnic-controller',
        'ClusterRole/ovnic-node',
        'ClusterRoleBinding/ovnic-controller',
        'ClusterRoleBinding/ovnic-node',
        'ConfigMap/ovnic-cni-config',
        'ConfigMap/ovnic-config',
        'CustomResourceDefinition/nicports.kubevirt.chinaunicom.com',
        'DaemonSet/ovnic-node',
        'Deployment/ovnic-controller',
        'Namespace/ovnic-system',
        'Role/ovnic-controller-leader-election',
        'RoleBinding/ovnic-controller-leader-election',
        'Service/ovnic-controller-metrics',
        'Service/ovnic-node-metrics',
        'ServiceAccount/ovnic-controller',
        'ServiceAccount/ovnic-node',
      ].sort(),
    );
  });

  it('kubectl apply -k deploy/ --dry-run=client succeeds for every object and writes nothing', async () => {
    const r = await run(['apply', '-k', DEPLOY, '--dry-run=client', '--validate=false', '-o', 'name'], { KUBECONFIG: kubeconfig });
    expect(r.code, r.stderr).toBe(0);
    const names = r.stdout.trim().split('\n').sort();
    expect(names).toHaveLength(rendered.length);
    expect(names).toContain('daemonset.apps/ovnic-node');
    expect(names).toContain('customresourcedefinition.apiextensions.k8s.io/nicports.kubevirt.chinaunicom.com');
    expect(api.writeRequests()).toEqual([]);
  });

  it.skipIf(!serverDryRun)('kubectl apply -k deploy/ --dry-run=server is accepted by the API server double (names, CRD validation)', async () => {
    // server dry run persists nothing, so the namespace must exist for the namespaced objects
    api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ovnic-system' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    const r = await run(['apply', '-k', DEPLOY, '--dry-run=server', '--validate=false', '-o', 'name'], { KUBECONFIG: kubeconfig });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(rendered.length);
    const writes = api.writeRequests();
    expect(writes.length).toBeGreaterThanOrEqual(rendered.length - 1);
    expect(api.list('daemonsets')).toEqual([]);
    expect(api.list('customresourcedefinitions')).toEqual([]);
  });

  it('a misspelt kind is rejected (the client dry run can fail)', async () => {
    const kind = join(dir, 'bad-kind.yaml');
    writeFileSync(kind, 'apiVersion: apps/v1\nkind: DaemonSett\nmetadata: {name: x, namespace: ovnic-system}\n');
    const r = await run(['apply', '--dry-run=client', '--validate=false', '-f', kind], { KUBECONFIG: kubeconfig });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('DaemonSett');
  });

  it.skipIf(!serverDryRun)('an invalid CRD is rejected (the server dry run can fail)', async () => {
    const crd = join(dir, 'bad-crd.yaml');
    writeFileSync(crd, 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: wrong.example.com}\nspec: {group: example.com, scope: Namespaced, names: {plural: things, kind: Thing}, versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]}\n');
    const r = await run(['apply', '--dry-run=server', '--validate=false', '-f', crd], { KUBECONFIG: kubeconfig });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('must be spec.names.plural');
  });
});
