import { describe, expect, it } from 'vitest';
import { isNetlinkError, NetlinkError, toNetlinkError } from '../../src/netlink/errors.js';
import { findPackageRoot } from '../../src/netlink/native.js';
import { sysctlPath } from '../../src/netlink/sysctl.js';
import { validateLinkName } from '../../src/netlink/links.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

describe('toNetlinkError', () => {
  it('maps the netlink package rejection to code, errno and operation', () => {
    const error = toNetlinkError(new Error('Request rejected: EEXIST'), 'create veth "a"');
    expect(error).toBeInstanceOf(NetlinkError);
    expect(error).toMatchObject({ code: 'EEXIST', errno: 17, operation: 'create veth "a"' });
    expect(error.message).toBe('create veth "a": already exists (EEXIST)');
    expect(isNetlinkError(error, 'EEXIST')).toBe(true);
    expect(isNetlinkError(error, 'ENODEV')).toBe(false);
  });

  it('keeps unknown numeric errnos', () => {
    expect(toNetlinkError(new Error('Request rejected: -4095'), 'x')).toMatchObject({ code: 'E4095', errno: 4095 });
  });

  it('maps a timeout and socket errno exceptions', () => {
    expect(toNetlinkError(new Error('Timeout has been reached'), 'x').code).toBe('ETIMEDOUT');
    const sockErr = Object.assign(new Error('send ENOBUFS'), { code: 'ENOBUFS', errno: -105 });
    expect(toNetlinkError(sockErr, 'x')).toMatchObject({ code: 'ENOBUFS', errno: 105 });
    expect(toNetlinkError('weird', 'x').code).toBe('EUNKNOWN');
  });
});

describe('validateLinkName', () => {
  it('accepts kernel-valid names and rejects the rest', () => {
    for (const ok of ['eth0', 'veth0123456789a', 'net1.100']) expect(() => validateLinkName(ok)).not.toThrow();
    for (const bad of ['', 'veth0123456789ab', 'a/b', 'a b', 'a:1', '.', '..']) {
      expect(() => validateLinkName(bad), bad).toThrow(/invalid interface name/);
    }
  });
});

describe('sysctlPath', () => {
  it('turns dotted keys into /proc/sys paths and keeps slash keys verbatim', () => {
    expect(sysctlPath('net.ipv6.conf.eth0.disable_ipv6')).toBe('/proc/sys/net/ipv6/conf/eth0/disable_ipv6');
    expect(sysctlPath('net/ipv6/conf/eth0.100/accept_dad')).toBe('/proc/sys/net/ipv6/conf/eth0.100/accept_dad');
  });

  it('rejects traversal and empty components', () => {
    for (const bad of ['net/../../etc/passwd', 'net..x', 'net', 'net/ipv4//x']) {
      expect(() => sysctlPath(bad), bad).toThrow(/invalid sysctl key/);
    }
  });
});

describe('findPackageRoot', () => {
  it('walks up to the directory holding package.json', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    expect(findPackageRoot(here)).toBe(join(here, '..', '..'));
    expect(findPackageRoot('/')).toBeUndefined();
  });
});
