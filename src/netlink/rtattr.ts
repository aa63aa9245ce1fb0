/**
 * Route-netlink attribute (struct rtattr / nlattr) encoding and decoding: the one place where
 * the attributes that the `netlink` package leaves as raw Buffers (IFLA_LINKINFO and what
 * nests in it) are built and read. Host byte order, 4-byte alignment, as the kernel wants.
 */
import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';
const HEADER = 4;
/** NLA_F_NESTED | NLA_F_NET_BYTEORDER: flag bits in the type field, not part of the type. */
const TYPE_MASK = 0x3fff;

const align4 = (n: number): number => (n + 3) & ~3;

export function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  if (LITTLE_ENDIAN) out.writeUInt16LE(value);
  else out.writeUInt16BE(value);
  return out;
}

export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  if (LITTLE_ENDIAN) out.writeUInt32LE(value >>> 0);
  else out.writeUInt32BE(value >>> 0);
  return out;
}

export function readU16(buf: Buffer, offset = 0): number {
  return LITTLE_ENDIAN ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset);
}

export function readU32(buf: Buffer, offset = 0): number {
  return LITTLE_ENDIAN ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}

/** NUL-terminated string payload. */
export function cString(value: string): Buffer {
  return Buffer.concat([Buffer.from(value, 'utf8'), Buffer.alloc(1)]);
}

/** One attribute: header, payload, zero padding to 4 bytes. */
export function rtattr(type: number, payload: Buffer): Buffer {
  const length = HEADER + payload.length;
  const out = Buffer.alloc(align4(length));
  if (LITTLE_ENDIAN) {
    out.writeUInt16LE(length, 0);
    out.writeUInt16LE(type, 2);
  } else {
    out.writeUInt16BE(length, 0);
    out.writeUInt16BE(type, 2);
  }
  payload.copy(out, HEADER);
  return out;
}

/** An attribute whose payload is other attributes (each already padded). */
export function nested(type: number, children: Buffer[]): Buffer {
  return rtattr(type, Buffer.concat(children));
}

/** Attributes of a payload by type (last one wins), flag bits stripped. Throws on truncation. */
export function parseRtattrs(buf: Buffer): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let offset = 0;
  while (offset + HEADER <= buf.length) {
    const length = readU16(buf, offset);
    const type = readU16(buf, offset + 2) & TYPE_MASK;
    if (length < HEADER || offset + length > buf.length) {
      throw new Error(`malformed rtattr at offset ${offset}: length ${length}, ${buf.length - offset} bytes left`);
    }
    attrs.set(type, buf.subarray(offset + HEADER, offset + length));
    offset += align4(length);
  }
  return attrs;
}

/** A NUL-terminated string payload without its terminator. */
export function readCString(payload: Buffer): string {
  const end = payload.indexOf(0);
  return payload.subarray(0, end < 0 ? payload.length : end).toString('utf8');
}

export interface IfInfoMsg {
  family?: number;
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

/** struct ifinfomsg (16 bytes), as nested at the head of VETH_INFO_PEER. */
export function ifinfomsg(msg: IfInfoMsg = {}): Buffer {
  const out = Buffer.alloc(16);
  out.writeUInt8(msg.family ?? 0, 0);
  u16(msg.type ?? 0).copy(out, 2);
  u32(msg.index ?? 0).copy(out, 4);
  u32(msg.flags ?? 0).copy(out, 8);
  u32(msg.change ?? 0).copy(out, 12);
  return out;
}
