import { describe, expect, it } from 'vitest';
import { parseCniArgs, parseCniEnv, validateContainerId, validateIfname } from '../../src/cni/env.js';
import { CniError } from '../../src/cni/errors.js';

const full = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
};

function codeOf(fn: () => unknown): { code: number; msg: string; details: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CniError);
    const e = err as CniError;
    return { code: e.code, msg: e.msg, details: e.details };
  }
  throw new Error('expected a CniError');
}

describe('parseCniEnv: required variables per command', () => {
  const table: Record<string, string[]> = {
    ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
    CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
    DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
    GC: ['CNI_PATH'],
    STATUS: ['CNI_PATH'],
    VERSION: [],
  };
  for (const [command, required] of Object.entries(table)) {
    for (const name of required) {
      it(`${command} without ${name} → 4 naming it`, () => {
        const env: Record<string, string | undefined> = { ...full, CNI_COMMAND: command, [name]: undefined };
        const e = codeOf(() => parseCniEnv(env));
        expect(e.code).toBe(4);
        expect(e.msg).toBe(`required env variables [${name}] missing`);
      });
      it(`${command} with empty ${name} → 4 naming it`, () => {
        const e = codeOf(() => parseCniEnv({ ...full, CNI_COMMAND: command, [name]: '' }));
        expect(e.code).toBe(4);
        expect(e.msg).toContain(name);
      });
    }
    it(`${command} with only its required variables succeeds`, () => {
      const env: Record<string, string> = { CNI_COMMAND: command };
      for (const name of required) env[name] = (full as Record<string, string>)[name] as string;
      const parsed = parseCniEnv(env);
      expect(parsed.command).toBe(command);
    });
  }

  it('names every missing variable at once, in table order', () => {
    const e = codeOf(() => parseCniEnv({ CNI_COMMAND: 'ADD' }));
    expect(e.code).toBe(4);
    expect(e.msg).toBe('required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing');
  });

  it('missing CNI_COMMAND → 4 naming it', () => {
    const e = codeOf(() => parseCniEnv({ ...full, CNI_COMMAND: undefined }));
    expect(e).toMatchObject({ code: 4, msg: 'required env variables [CNI_COMMAND] missing' });
  });

  it('unknown CNI_COMMAND → 4', () => {
    const e = codeOf(() => parseCniEnv({ ...full, CNI_COMMAND: 'FOO' }));
    expect(e.code).toBe(4);
    expect(e.msg).toContain('FOO');
  });

  it('DEL accepts an empty CNI_NETNS', () => {
    expect(parseCniEnv({ ...full, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBe('');
  });

  it('GC/STATUS/VERSION ignore attachment variables, even invalid ones (podman sends CNI_IFNAME=dummy for VERSION)', () => {
    const odd = { CNI_CONTAINERID: '!!', CNI_IFNAME: 'a/b', CNI_NETNS: 'dummy', CNI_PATH: 'dummy' };
    expect(parseCniEnv({ ...odd, CNI_COMMAND: 'VERSION' })).toMatchObject({ command: 'VERSION', containerId: '', ifname: '' });
    expect(parseCniEnv({ ...odd, CNI_COMMAND: 'GC' })).toMatchObject({ command: 'GC', containerId: '', ifname: '', path: ['dummy'] });
    expect(parseCniEnv({ ...odd, CNI_COMMAND: 'STATUS' }).command).toBe('STATUS');
  });

  it('splits CNI_PATH and drops empty entries', () => {
    expect(parseCniEnv({ ...full, CNI_PATH: ':/a::/b:' }).path).toEqual(['/a', '/b']);
  });

  it('reads CNI_NETNS_OVERRIDE', () => {
    expect(parseCniEnv(full).netnsOverride).toBe(false);
    expect(parseCniEnv({ ...full, CNI_NETNS_OVERRIDE: 'TRUE' }).netnsOverride).toBe(true);
    expect(parseCniEnv({ ...full, CNI_NETNS_OVERRIDE: '1' }).netnsOverride).toBe(true);
  });

  it('validates the container ID and ifname for attachment commands', () => {
    expect(codeOf(() => parseCniEnv({ ...full, CNI_CONTAINERID: '-abc' })).code).toBe(4);
    expect(codeOf(() => parseCniEnv({ ...full, CNI_COMMAND: 'DEL', CNI_IFNAME: 'a:b' })).code).toBe(4);
  });
});

describe('validateContainerId', () => {
  it('empty → 3', () => expect(codeOf(() => validateContainerId('')).code).toBe(3));
  for (const bad of ['-a', '_a', '.a', 'a b', 'a/b', 'a:b', 'ä', 'a\n']) {
    it(`${JSON.stringify(bad)} → 4`, () => {
      const e = codeOf(() => validateContainerId(bad));
      expect(e.code).toBe(4);
      expect(e.msg).toContain('CNI_CONTAINERID');
    });
  }
  for (const good of ['a', '0', 'abc-DEF_1.2', 'f'.repeat(64)]) {
    it(`${good.slice(0, 20)} is valid`, () => expect(() => validateContainerId(good)).not.toThrow());
  }
});

describe('validateIfname', () => {
  for (const bad of ['', '.', '..', 'a'.repeat(16), 'a/b', 'a:b', 'a b', 'a\tb', 'eth0\n', 'é'.repeat(8)]) {
    it(`${JSON.stringify(bad)} → 4`, () => expect(codeOf(() => validateIfname(bad)).code).toBe(4));
  }
  for (const good of ['eth0', 'a', 'a'.repeat(15), 'net1.100', 'x-y_z', '...']) {
    it(`${good} is valid`, () => expect(() => validateIfname(good)).not.toThrow());
  }
});

describe('parseCniArgs', () => {
  it('empty → nothing', () => {
    expect(parseCniArgs('')).toMatchObject({ ignoreUnknown: false, ips: [], pairs: [] });
  });

  it('parses the Kubernetes keys (kubelet form)', () => {
    const a = parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c9869d-abcde;K8S_POD_INFRA_CONTAINER_ID=0123abcd;K8S_POD_UID=1b2c3d4e-0000-1111-2222-333344445555');
    expect(a).toMatchObject({
      ignoreUnknown: true,
      podNamespace: 'kube-system',
      podName: 'coredns-5d78c9869d-abcde',
      podInfraContainerId: '0123abcd',
      podUid: '1b2c3d4e-0000-1111-2222-333344445555',
    });
  });

  it('parses podman\'s form with IP= and MAC=', () => {
    const a = parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web;MAC=02-AB-cd-00-00-01;IP=10.0.0.5');
    expect(a.podName).toBe('web');
    expect(a.podNamespace).toBeUndefined();
    expect(a.mac).toBe('02:ab:cd:00:00:01');
    expect(a.ips).toEqual([{ address: '10.0.0.5', family: 4 }]);
  });

  it('IP= takes a comma list with optional prefixes and drops duplicates', () => {
    expect(parseCniArgs('IP=10.0.0.5/24,fd00::5,10.0.0.5/24').ips).toEqual([
      { address: '10.0.0.5', prefix: 24, family: 4 },
      { address: 'fd00::5', family: 6 },
    ]);
  });

  it('keeps values containing "="', () => {
    expect(parseCniArgs('IgnoreUnknown=true;FOO=a=b').extra).toEqual({ FOO: 'a=b' });
  });

  it('unknown keys → 4 unless IgnoreUnknown (in any position)', () => {
    expect(codeOf(() => parseCniArgs('FOO=bar')).code).toBe(4);
    expect(parseCniArgs('FOO=bar;IgnoreUnknown=1').extra).toEqual({ FOO: 'bar' });
    expect(codeOf(() => parseCniArgs('IgnoreUnknown=0;FOO=bar')).code).toBe(4);
  });

  const bad = [
    'novalue',
    '=x',
    'IgnoreUnknown=maybe',
    'IP=10.0.0.256',
    'IP=10.0.0.5/33',
    'IP=fd00::1/129',
    'IP=10.0.0.5,',
    'IP=fe80::1%eth0',
    'MAC=01:00:5e:00:00:01',
    'MAC=ff:ff:ff:ff:ff:ff',
    'MAC=00:00:00:00:00:00',
    'MAC=02:00:00:00:00',
    'MAC=02:00:00:00:00:0g',
    'MAC=02:00-00:00:00:01',
    'K8S_POD_NAME=a/b',
    'K8S_POD_NAMESPACE=a b',
    'K8S_POD_NAME=-x',
    'K8S_POD_UID=a;b',
  ];
  for (const text of bad) {
    it(`${text} → 4 naming CNI_ARGS`, () => {
      const e = codeOf(() => parseCniArgs(text));
      expect(e.code).toBe(4);
      expect(e.msg).toContain('CNI_ARGS');
    });
  }

  it('empty K8S values are treated as absent', () => {
    const a = parseCniArgs('K8S_POD_NAME=;K8S_POD_NAMESPACE=');
    expect(a.podName).toBeUndefined();
    expect(a.podNamespace).toBeUndefined();
  });
});
