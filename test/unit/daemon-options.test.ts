import { describe, expect, it } from 'vitest';
import { DAEMON_DEFAULTS, UsageError, parseDaemonArgs, parseDuration } from '../../src/daemon/options.js';
import { annotationTimeoutOf } from '../../src/daemon/handlers.js';
import { CniError } from '../../src/cni/errors.js';

describe('parseDaemonArgs', () => {
  it('defaults', () => {
    expect(parseDaemonArgs([])).toEqual({
      socket: DAEMON_DEFAULTS.socket,
      ovsdb: DAEMON_DEFAULTS.ovsdb,
      http: { host: '0.0.0.0', port: 9471 },
      gcIntervalMs: 60_000,
      annotationTimeoutMs: 30_000,
      help: false,
    });
  });

  it('flags in both forms, environment fallbacks (DaemonSet downward API and ConfigMap)', () => {
    const o = parseDaemonArgs(
      ['--socket=/run/ovnic/cni.sock', '--kubeconfig', '/etc/kc', '--metrics-port', '0', '--gc-interval=500ms', '--annotation-timeout', '2m', '--ovs-netns', '/run/netns/ovs'],
      { NODE_NAME: 'node1', OVNIC_OVSDB: 'tcp:127.0.0.1:6640', KUBECONFIG: '/ignored' },
    );
    expect(o).toMatchObject({
      socket: '/run/ovnic/cni.sock', kubeconfig: '/etc/kc', node: 'node1', ovsdb: 'tcp:127.0.0.1:6640', http: { host: '0.0.0.0', port: 0 },
      gcIntervalMs: 500, annotationTimeoutMs: 120_000, ovsNetns: '/run/netns/ovs',
    });
    expect(parseDaemonArgs(['--node', 'n2', '--ovsdb', 'unix:/x.sock'], { NODE_NAME: 'node1', KUBECONFIG: '/kc' })).toMatchObject({ node: 'n2', ovsdb: 'unix:/x.sock', kubeconfig: '/kc' });
  });

  it('--http-addr as in the DaemonSet, --metrics-port -1 turns HTTP off', () => {
    expect(parseDaemonArgs(['--http-addr=:9471']).http).toEqual({ host: '0.0.0.0', port: 9471 });
    expect(parseDaemonArgs(['--http-addr=127.0.0.1:8080']).http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseDaemonArgs(['--http-addr=[::1]:8080']).http).toEqual({ host: '::1', port: 8080 });
    expect(parseDaemonArgs(['--metrics-port', '-1']).http).toBeUndefined();
  });

  it('bad input: UsageError naming the flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--socket', 'rel.sock'], /--socket.*absolute/],
      [['--socket', `/${'x'.repeat(120)}`], /107 bytes/],
      [['--ovsdb', 'db.sock'], /--ovsdb/],
      [['--metrics-port', '70000'], /--metrics-port/],
      [['--http-addr', '9471'], /--http-addr/],
      [['--gc-interval', 'soon'], /--gc-interval/],
      [['--annotation-timeout', '0'], /more than 0/],
      [['--bogus', '1'], /unknown option --bogus/],
      [['--node'], /--node needs a value/],
      [['stray'], /unexpected argument/],
    ];
    for (const [argv, re] of bad) expect(() => parseDaemonArgs(argv), argv.join(' ')).toThrow(re);
    expect(() => parseDaemonArgs(['--bogus=1'])).toThrow(UsageError);
  });

  it('--help', () => {
    expect(parseDaemonArgs(['--help']).help).toBe(true);
  });
});

describe('parseDuration', () => {
  it('units', () => {
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(parseDuration('1h', 'x')).toBe(3_600_000);
    expect(parseDuration('7', 'x')).toBe(7000);
    expect(parseDuration('0', 'x')).toBe(0);
  });
});

describe('annotationTimeoutMs in the network configuration', () => {
  it('overrides the daemon default; bad values are CniError 7', () => {
    expect(annotationTimeoutOf({}, 30_000)).toBe(30_000);
    expect(annotationTimeoutOf({ annotationTimeoutMs: 5000 }, 30_000)).toBe(5000);
    for (const v of [0, -1, 1.5, '5000', 700_000]) {
      try {
        annotationTimeoutOf({ annotationTimeoutMs: v }, 30_000);
        expect.unreachable();
      } catch (err) {
        expect((err as CniError).code).toBe(7);
      }
    }
  });
});
