/**
 * The built plugin executed as a runtime executes it: CNI_* environment + stdin, stdout/exit code
 * read back. dist/ovnic.cjs is built here with the same esbuild settings as scripts/build.mjs into a
 * private directory (next to copies of bin/ovnic and bin/package.json), so the test never races
 * another build of dist/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let bin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ovnic-bin-'));
  mkdirSync(join(dir, 'bin'));
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile: join(dir, 'dist', 'ovnic.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['netlink', '*.node', '@kubernetes/client-node', 'pino', 'pino-*', 'thread-stream'],
    define: { 'import.meta.url': '__ovnicImportMetaUrl', 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
    banner: { js: "const __ovnicImportMetaUrl = 'file://' + __filename.split('/').map(encodeURIComponent).join('/');" },
    logLevel: 'warning',
  });
  bin = join(dir, 'bin', 'ovnic');
  copyFileSync(join(root, 'bin', 'ovnic'), bin);
  copyFileSync(join(root, 'bin', 'package.json'), join(dir, 'bin', 'package.json'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

function run(env: Record<string, string | undefined>, stdin: string | null, argv: string[] = []): Run {
  const clean: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const r = spawnSync(bin, argv, { env: clean, input: stdin ?? undefined, stdio: [stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20_000 });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

const addEnv = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee0123456789',
  CNI_NETNS: '/run/netns/ovnic-spec-none',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default',
  CNI_PATH: '/usr/lib/cni',
};
const conf = (over: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'specnet', type: 'ovnic', ...over });

function expectError(r: Run, code: number): Record<string, unknown> {
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull();
  expect(r.json, `stdout was: ${r.stdout}`).toBeDefined();
  const json = r.json as Record<string, unknown>;
  expect(json.code).toBe(code);
  expect(typeof json.cniVersion).toBe('string');
  expect(typeof json.msg).toBe('string');
  expect(Object.keys(json).every((k) => ['cniVersion', 'code', 'msg', 'details'].includes(k))).toBe(true);
  return json;
}

describe('VERSION', () => {
  it('works with empty stdin', () => {
    const r = run({ CNI_COMMAND: 'VERSION' }, '');
    expect(r.status).toBe(0);
    expect(r.json).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('works with no stdin at all', () => {
    const r = run({ CNI_COMMAND: 'VERSION' }, null);
    expect(r.status).toBe(0);
    expect(r.json?.supportedVersions).toContain('1.1.0');
  });

  it('echoes the requested version with podman\'s environment', () => {
    const r = run({ CNI_COMMAND: 'VERSION', CNI_CONTAINERID: '', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_PATH: 'dummy', CNI_ARGS: '' }, '{"cniVersion":"1.0.0"}');
    expect(r.status).toBe(0);
    expect(r.json?.cniVersion).toBe('1.0.0');
    expect(r.stderr).toBe('');
  });
});

describe('environment errors → 4 naming the variable', () => {
  const required: Record<string, string[]> = {
    ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
    DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
    CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
    GC: ['CNI_PATH'],
    STATUS: ['CNI_PATH'],
  };
  for (const [command, vars] of Object.entries(required)) {
    for (const name of vars) {
      it(`${command} without ${name}`, () => {
        const r = run({ ...addEnv, CNI_COMMAND: command, [name]: undefined }, conf({ cniVersion: '1.1.0' }));
        const json = expectError(r, 4);
        expect(json.msg).toContain(name);
      });
    }
  }

  it('no CNI_COMMAND: 4 on stdout, the about banner on stderr', () => {
    const r = run({ ...addEnv, CNI_COMMAND: undefined }, conf());
    expect(expectError(r, 4).msg).toContain('CNI_COMMAND');
    expect(r.stderr).toContain('CNI plugin ovnic');
  });

  it('unknown CNI_COMMAND', () => {
    expect(expectError(run({ ...addEnv, CNI_COMMAND: 'UPDATE' }, conf()), 4).msg).toContain('UPDATE');
  });

  it('bad container ID → 4, interface name rules → 4', () => {
    expect(expectError(run({ ...addEnv, CNI_CONTAINERID: 'bad/id' }, conf()), 4).msg).toContain('CNI_CONTAINERID');
    for (const ifname of ['a'.repeat(16), 'a/b', 'a:b', 'a b', '.', '..']) {
      expect(expectError(run({ ...addEnv, CNI_IFNAME: ifname }, conf()), 4).msg).toContain('CNI_IFNAME');
    }
  });

  it('malformed CNI_ARGS → 4', () => {
    expect(expectError(run({ ...addEnv, CNI_ARGS: 'IgnoreUnknown=1;MAC=nope' }, conf()), 4).msg).toContain('CNI_ARGS');
  });
});

describe('configuration errors', () => {
  it('bad JSON → 6', () => {
    expectError(run(addEnv, '{"cniVersion": "1.0.0", '), 6);
    expectError(run(addEnv, ''), 6);
  });

  it('unsupported cniVersion → 1 (and CHECK below 0.4.0, GC/STATUS below 1.1.0)', () => {
    expectError(run(addEnv, conf({ cniVersion: '0.2.0' })), 1);
    expectError(run(addEnv, conf({ cniVersion: '2.0.0' })), 1);
    expectError(run({ ...addEnv, CNI_COMMAND: 'CHECK' }, conf({ cniVersion: '0.3.1' })), 1);
    expectError(run({ CNI_COMMAND: 'STATUS', CNI_PATH: '/usr/lib/cni' }, conf({ cniVersion: '1.0.0' })), 1);
    expectError(run({ CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni' }, conf({ cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] })), 1);
  });

  it('invalid network config → 7 with a precise message, echoing the request version', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: undefined }, 'network name'],
      [{ nicType: 'sriov' }, 'nicType'],
      [{ mtu: 10 }, 'mtu'],
      [{ ipam: {} }, 'ipam.type'],
      [{ runtimeConfig: { mac: 'ff:ff:ff:ff:ff:ff' } }, 'runtimeConfig.mac'],
      [{ runtimeConfig: { ips: ['10.0.0.1/40'] } }, 'runtimeConfig.ips'],
      [{ ovsdb: 'db.sock' }, 'ovsdb'],
    ];
    for (const [over, mention] of cases) {
      const json = expectError(run(addEnv, conf({ cniVersion: '0.4.0', ...over })), 7);
      expect(`${String(json.msg)} ${String(json.details ?? '')}`).toContain(mention);
      expect(json.cniVersion).toBe('0.4.0');
    }
  });

  it('GC without the attachment list → 7', () => {
    expectError(run({ CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni' }, conf({ cniVersion: '1.1.0' })), 7);
  });
});

describe('subcommands', () => {
  it('--help and version', () => {
    const help = run({}, null, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage:');
    const version = run({}, null, ['version']);
    expect(version.status).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({ ovnic: expect.any(String), cniVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('unknown subcommand → exit 2 with usage', () => {
    const r = run({}, null, ['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown subcommand "frobnicate"');
  });
});
