import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { OvnStack } from '../../src/sandbox/stack.js';

describe('private OVS+OVN test bed', () => {
  let stack: OvnStack;
  beforeAll(async () => {
    stack = await OvnStack.start({ name: 'tb', nbTcp: true });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs br-int on the userspace datapath with the chassis registered', async () => {
    expect(await stack.vsctl('get', 'Bridge', 'br-int', 'datapath_type')).toBe('netdev');
    expect(await stack.sbctl('--bare', '--columns=name', 'list', 'Chassis')).toBe(stack.systemId);
    expect(stack.nbTcpRemote).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    expect(await stack.inNetns('ip', ['-o', 'link', 'show', 'br-int'])).toContain('br-int');
  });

  it('cleans up processes, netns and directory on stop', async () => {
    const other = await OvnStack.start({ name: 'tb2', ovn: false });
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    expect(existsSync(other.netnsPath)).toBe(false);
  });
});
