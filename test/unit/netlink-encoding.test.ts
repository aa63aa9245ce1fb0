import { describe, expect, it } from 'vitest';
import { macvlanLinkInfo, parseLinkInfo, vethLinkInfo } from '../../src/netlink/linkinfo.js';
import { cString, ifinfomsg, nested, parseRtattrs, readCString, rtattr, u32 } from '../../src/netlink/rtattr.js';

// x86-64 and arm64 are little endian; the expected bytes below are written for that.
describe('rtattr encoding', () => {
  it('writes length (unpadded), type, payload and pads to 4 bytes', () => {
    expect(rtattr(3, cString('eth0'))).toEqual(Buffer.from([9, 0, 3, 0, 0x65, 0x74, 0x68, 0x30, 0, 0, 0, 0]));
    expect(rtattr(4, u32(1400))).toEqual(Buffer.from([8, 0, 4, 0, 0x78, 0x05, 0, 0]));
    expect(rtattr(7, Buffer.alloc(0))).toEqual(Buffer.from([4, 0, 7, 0]));
  });

  it('nests padded children and counts their padding in the parent length', () => {
    const out = nested(2, [rtattr(1, Buffer.from([1])), rtattr(2, u32(7))]);
    expect(out.readUInt16LE(0)).toBe(4 + 8 + 8);
    expect(out.readUInt16LE(2)).toBe(2);
  });

  it('parses back what it writes, ignoring NLA_F_NESTED in the type', () => {
    const buf = Buffer.concat([rtattr(1, cString('veth')), rtattr(0x8002, u32(42))]);
    const attrs = parseRtattrs(buf);
    expect(readCString(attrs.get(1)!)).toBe('veth');
    expect(attrs.get(2)!.readUInt32LE(0)).toBe(42);
  });

  it('rejects a truncated attribute', () => {
    const bad = rtattr(1, u32(1)).subarray(0, 6);
    expect(() => parseRtattrs(Buffer.concat([bad, Buffer.alloc(0)]))).toThrow(/malformed rtattr/);
    expect(() => parseRtattrs(Buffer.from([2, 0, 1, 0]))).toThrow(/malformed rtattr/);
  });

  it('encodes a zeroed 16-byte ifinfomsg with the given index and flags', () => {
    const msg = ifinfomsg({ index: 5, flags: 1, change: 1 });
    expect(msg.length).toBe(16);
    expect(msg.readUInt32LE(4)).toBe(5);
    expect(msg.readUInt32LE(8)).toBe(1);
    expect(msg.readUInt32LE(12)).toBe(1);
  });
});

describe('IFLA_LINKINFO payloads', () => {
  it('veth: kind, then INFO_DATA > VETH_INFO_PEER > ifinfomsg + name, MAC, MTU, NET_NS_FD', () => {
    const mac = Buffer.from([0x0a, 0, 0, 0, 0, 2]);
    const info = parseRtattrs(vethLinkInfo({ name: 'eth0', mac, mtu: 1400, netnsFd: 23 }));
    expect(readCString(info.get(1)!)).toBe('veth');
    const peer = parseRtattrs(info.get(2)!).get(1)!;
    expect(peer.subarray(0, 16)).toEqual(Buffer.alloc(16));
    const attrs = parseRtattrs(peer.subarray(16));
    expect(readCString(attrs.get(3)!)).toBe('eth0');
    expect(attrs.get(1)).toEqual(mac);
    expect(attrs.get(4)!.readUInt32LE(0)).toBe(1400);
    expect(attrs.get(28)!.readUInt32LE(0)).toBe(23);
  });

  it('veth: leaves out what was not asked for', () => {
    const peer = parseRtattrs(parseRtattrs(parseRtattrs(vethLinkInfo({ name: 'p' })).get(2)!).get(1)!.subarray(16));
    expect([...peer.keys()]).toEqual([3]);
  });

  it('macvtap/macvlan: kind and IFLA_MACVLAN_MODE, decoded back by parseLinkInfo', () => {
    for (const [mode, value] of [['private', 1], ['vepa', 2], ['bridge', 4], ['passthru', 8]] as const) {
      const buf = macvlanLinkInfo('macvtap', mode);
      const data = parseRtattrs(parseRtattrs(buf).get(2)!);
      expect(data.get(1)!.readUInt32LE(0)).toBe(value);
      expect(parseLinkInfo(buf)).toEqual({ kind: 'macvtap', macvlanMode: mode });
    }
    expect(parseLinkInfo(macvlanLinkInfo('macvlan', 'bridge')).kind).toBe('macvlan');
  });

  it('rejects an unknown mode', () => {
    // @ts-expect-error: invalid on purpose
    expect(() => macvlanLinkInfo('macvtap', 'bogus')).toThrow(/unknown macvtap mode "bogus"/);
  });

  it('parseLinkInfo reports the slave kind and no mode for other kinds', () => {
    const buf = Buffer.concat([rtattr(1, cString('veth')), rtattr(4, cString('openvswitch'))]);
    expect(parseLinkInfo(buf)).toEqual({ kind: 'veth', slaveKind: 'openvswitch' });
  });
});
