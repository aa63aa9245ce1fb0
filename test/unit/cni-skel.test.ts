import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCni, type AttachmentContext, type CniHandlers, type NetworkContext } from '../../src/cni/skel.js';
import { CniError } from '../../src/cni/errors.js';
import type { CniResult } from '../../src/cni/result.js';

const env = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'f00dfeed0123456789',
  CNI_NETNS: '/run/netns/does-not-exist-here',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=prod;IP=10.0.0.9',
  CNI_PATH: '/usr/lib/cni',
};
const conf = { cniVersion: '1.0.0', name: 'net1', type: 'ovnic' };
const stdin = (over: Record<string, unknown> = {}) => JSON.stringify({ ...conf, ...over });

const addResult: CniResult = {
  interfaces: [{ name: 'f00dfeed0123_h', mac: '02:00:00:00:00:aa' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: env.CNI_NETNS, mtu: 1400 }],
  ips: [{ address: '10.0.0.9/24', gateway: '10.0.0.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
  dns: {},
};

function recorder(overrides: Partial<CniHandlers> = {}) {
  const calls: Array<{ op: string; ctx: AttachmentContext | NetworkContext }> = [];
  const handlers: CniHandlers = {
    add: async (ctx) => (calls.push({ op: 'add', ctx }), addResult),
    del: async (ctx) => void calls.push({ op: 'del', ctx }),
    check: async (ctx) => void calls.push({ op: 'check', ctx }),
    gc: async (ctx) => void calls.push({ op: 'gc', ctx }),
    status: async (ctx) => void calls.push({ op: 'status', ctx }),
    ...overrides,
  };
  return { calls, handlers };
}

const neverLoad = async (): Promise<CniHandlers> => {
  throw new Error('handlers must not be loaded');
};

function parseOut(stdout: string): Record<string, unknown> {
  expect(stdout.endsWith('\n')).toBe(true);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('VERSION', () => {
  for (const input of ['', 'garbage', '{"cniVersion":"1.0.0"}']) {
    it(`answers with stdin ${JSON.stringify(input)} without loading handlers`, async () => {
      const out = await runCni({ CNI_COMMAND: 'VERSION' }, input, { handlers: neverLoad });
      expect(out.exitCode).toBe(0);
      expect(parseOut(out.stdout)).toEqual({
        cniVersion: input.includes('1.0.0') ? '1.0.0' : '1.1.0',
        supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
      });
    });
  }
  it('works with podman\'s VERSION environment', async () => {
    const out = await runCni({ CNI_COMMAND: 'VERSION', CNI_CONTAINERID: '', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_PATH: 'dummy', CNI_ARGS: '' }, '{"cniVersion":"1.0.0"}', { handlers: neverLoad });
    expect(out.exitCode).toBe(0);
  });
});

describe('errors', () => {
  const cases: Array<[string, Record<string, string | undefined>, string, number]> = [
    ['missing CNI_NETNS', { ...env, CNI_NETNS: undefined }, stdin(), 4],
    ['bad container ID', { ...env, CNI_CONTAINERID: '/x' }, stdin(), 4],
    ['long ifname', { ...env, CNI_IFNAME: 'a'.repeat(16) }, stdin(), 4],
    ['bad JSON', env, '{"cniVersion":', 6],
    ['empty stdin', env, '', 6],
    ['unsupported version', env, stdin({ cniVersion: '0.2.0' }), 1],
    ['invalid config', env, stdin({ nicType: 'sriov' }), 7],
    ['bad CNI_ARGS', { ...env, CNI_ARGS: 'IP=300.0.0.1' }, stdin(), 4],
    ['CHECK on 0.3.1', { ...env, CNI_COMMAND: 'CHECK' }, stdin({ cniVersion: '0.3.1' }), 1],
    ['GC without attachments', { CNI_COMMAND: 'GC', CNI_PATH: '/x' }, stdin({ cniVersion: '1.1.0' }), 7],
  ];
  for (const [label, e, input, code] of cases) {
    it(`${label} → error JSON code ${code}, exit 1, handlers not loaded`, async () => {
      const out = await runCni(e, input, { handlers: neverLoad });
      expect(out.exitCode).toBe(1);
      const json = parseOut(out.stdout);
      expect(Object.keys(json).slice(0, 3)).toEqual(['cniVersion', 'code', 'msg']);
      expect(json.code).toBe(code);
      expect(typeof json.msg).toBe('string');
    });
  }

  it('the error carries the request version when it is supported', async () => {
    const out = await runCni(env, stdin({ cniVersion: '0.4.0', mtu: 1 }), { handlers: neverLoad });
    expect(parseOut(out.stdout).cniVersion).toBe('0.4.0');
    const unsupported = await runCni(env, stdin({ cniVersion: '7.0.0' }), { handlers: neverLoad });
    expect(parseOut(unsupported.stdout).cniVersion).toBe('1.1.0');
  });

  it('missing CNI_COMMAND → 4 plus the about banner on stderr', async () => {
    const out = await runCni({}, '', { handlers: neverLoad, about: 'CNI plugin ovnic v0' });
    expect(parseOut(out.stdout)).toMatchObject({ code: 4, msg: 'required env variables [CNI_COMMAND] missing' });
    expect(out.stderr).toContain('CNI plugin ovnic v0');
    expect(out.stderr).toContain('1.1.0');
  });

  it('a handler CniError is propagated unchanged', async () => {
    const { handlers } = recorder({ add: async () => { throw new CniError(11, 'busy', 'ovsdb locked'); } });
    const out = await runCni(env, stdin(), { handlers });
    expect(out.exitCode).toBe(1);
    expect(parseOut(out.stdout)).toEqual({ cniVersion: '1.0.0', code: 11, msg: 'busy', details: 'ovsdb locked' });
  });

  it('any other exception becomes 999 with its message, its stack logged at error level', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ovnic-skel-999-'));
    try {
      const file = join(dir, 'cni.log');
      const { handlers } = recorder({ del: async () => { throw new Error('boom'); } });
      const out = await runCni({ ...env, CNI_COMMAND: 'DEL' }, stdin({ logFile: file }), { handlers });
      expect(parseOut(out.stdout)).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'boom' });
      const line = JSON.parse(readFileSync(file, 'utf8').trim()) as { level: number; err: { message: string; stack: string } };
      expect(line.level).toBe(50);
      expect(line.err.message).toBe('boom');
      expect(line.err.stack).toContain('Error: boom');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('CNI_NETNS equal to the plugin\'s own netns → 8, unless CNI_NETNS_OVERRIDE', async () => {
    const { handlers, calls } = recorder();
    const own = await runCni({ ...env, CNI_NETNS: '/proc/self/ns/net' }, stdin(), { handlers });
    expect(parseOut(own.stdout).code).toBe(8);
    expect(calls).toHaveLength(0);
    const overridden = await runCni({ ...env, CNI_NETNS: '/proc/self/ns/net', CNI_NETNS_OVERRIDE: '1' }, stdin(), { handlers });
    expect(overridden.exitCode).toBe(0);
  });
});

describe('dispatch', () => {
  it('ADD prints the result in the request version (0.3.1 layout)', async () => {
    const { handlers } = recorder();
    const out = await runCni(env, stdin({ cniVersion: '0.3.1' }), { handlers });
    expect(out.exitCode).toBe(0);
    expect(parseOut(out.stdout)).toEqual({
      cniVersion: '0.3.1',
      interfaces: [{ name: 'f00dfeed0123_h', mac: '02:00:00:00:00:aa' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: env.CNI_NETNS }],
      ips: [{ version: '4', interface: 1, address: '10.0.0.9/24', gateway: '10.0.0.1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
    });
  });

  it('ADD gives the handler the parsed request', async () => {
    const { handlers, calls } = recorder();
    const input = stdin({ provider: 'blue', runtimeConfig: { mac: '02:00:00:00:00:77' } });
    await runCni(env, input, { handlers });
    const ctx = calls[0]?.ctx as AttachmentContext;
    expect(ctx.command).toBe('ADD');
    expect(ctx.env).toMatchObject({ containerId: env.CNI_CONTAINERID, ifname: 'eth0', netns: env.CNI_NETNS, path: ['/usr/lib/cni'] });
    expect(ctx.rawConfig.toString()).toBe(input);
    expect(ctx.rawEnv).toBe(env);
    expect(ctx.args).toMatchObject({ podName: 'web', podNamespace: 'prod' });
    expect(ctx.identity).toMatchObject({ ifaceId: 'web.prod.blue', source: 'kubernetes', network: 'net1' });
    expect(ctx.requested).toMatchObject({ ips: [{ address: '10.0.0.9' }], ipsFrom: 'CNI_ARGS', mac: '02:00:00:00:00:77', macFrom: 'runtimeConfig' });
    expect(ctx.conf.name).toBe('net1');
    expect(ctx.ipam()).toBeUndefined();
  });

  it('ctx.ipam() names the CNI_PATH directories when the plugin is missing (7)', async () => {
    let thrown: unknown;
    const { handlers } = recorder({ add: async (ctx) => { try { ctx.ipam(); } catch (e) { thrown = e; } return addResult; } });
    await runCni({ ...env, CNI_PATH: '/nonexistent-a:/nonexistent-b' }, stdin({ ipam: { type: 'no-such-ipam' } }), { handlers });
    expect(thrown).toBeInstanceOf(CniError);
    expect((thrown as CniError).code).toBe(7);
    expect((thrown as CniError).msg).toBe('failed to find plugin "no-such-ipam" in path [/nonexistent-a /nonexistent-b]');
  });

  for (const op of ['DEL', 'CHECK'] as const) {
    it(`${op} succeeds silently`, async () => {
      const { handlers, calls } = recorder();
      const out = await runCni({ ...env, CNI_COMMAND: op }, stdin(), { handlers });
      expect(out).toEqual({ stdout: '', stderr: '', exitCode: 0 });
      expect(calls.map((c) => c.op)).toEqual([op.toLowerCase()]);
    });
  }

  it('DEL without CNI_NETNS and without prevResult', async () => {
    const { handlers, calls } = recorder();
    const out = await runCni({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: '' }, stdin(), { handlers });
    expect(out.exitCode).toBe(0);
    expect((calls[0]?.ctx as AttachmentContext).env.netns).toBe('');
  });

  it('GC passes the valid attachments; STATUS runs; both silent', async () => {
    const { handlers, calls } = recorder();
    const gc = await runCni({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, stdin({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }), { handlers });
    const status = await runCni({ CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, stdin({ cniVersion: '1.1.0' }), { handlers });
    expect([gc.stdout, status.stdout, gc.exitCode, status.exitCode]).toEqual(['', '', 0, 0]);
    expect(calls.map((c) => c.op)).toEqual(['gc', 'status']);
    expect(calls[0]?.ctx.conf.validAttachments).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
    expect('identity' in (calls[0]?.ctx ?? {})).toBe(false);
  });

  it('STATUS 50 from the handler', async () => {
    const { handlers } = recorder({ status: async () => { throw new CniError(50, 'OVSDB unreachable', 'unix:/x'); } });
    const out = await runCni({ CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, stdin({ cniVersion: '1.1.0' }), { handlers });
    expect(parseOut(out.stdout)).toEqual({ cniVersion: '1.1.0', code: 50, msg: 'OVSDB unreachable', details: 'unix:/x' });
  });
});

describe('logging', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovnic-skel-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes pino-style JSON lines to logFile, never to stdout', async () => {
    const file = join(dir, 'sub', 'cni.log');
    const { handlers } = recorder({ add: async (ctx) => { ctx.log.debug({ step: 'x' }, 'hidden at info'); ctx.log.info({ step: 'veth' }, 'created'); return addResult; } });
    const ok = await runCni(env, stdin({ logFile: file }), { handlers });
    const bad = await runCni({ ...env, CNI_COMMAND: 'DEL' }, stdin({ logFile: file }), { handlers: { ...handlers, del: async () => { throw new CniError(11, 'later'); } } });
    expect(ok.stdout).not.toContain('created');
    expect(bad.exitCode).toBe(1);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg)).toEqual(['created', 'ADD ok', 'DEL failed: later']);
    expect(lines[0]).toMatchObject({ level: 30, component: 'cni', command: 'ADD', network: 'net1', containerId: env.CNI_CONTAINERID, ifname: 'eth0', step: 'veth' });
    expect(lines[2]).toMatchObject({ level: 30, code: 11 });
  });
});
