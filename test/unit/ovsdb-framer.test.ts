import { describe, expect, it } from 'vitest';
import { JsonFramingError, JsonStreamFramer } from '../../src/ovs/framer.js';

describe('JsonStreamFramer', () => {
  it('splits back-to-back objects without delimiters', () => {
    const f = new JsonStreamFramer();
    expect(f.push(Buffer.from('{"id":1,"result":[]}{"id":"e1","method":"echo","params":[]}'))).toEqual([
      { id: 1, result: [] },
      { id: 'e1', method: 'echo', params: [] },
    ]);
    expect(f.buffered).toBe(0);
  });

  it('ignores braces, brackets and escaped quotes inside strings', () => {
    const f = new JsonStreamFramer();
    const msg = { s: 'a}b{c]["\\"}', t: '\\', u: '{"nested":"}"}' };
    expect(f.push(Buffer.from(JSON.stringify(msg) + JSON.stringify(msg)))).toEqual([msg, msg]);
  });

  it('reassembles a message split at every possible byte, including inside multi-byte UTF-8', () => {
    const msg = { id: 7, result: { name: 'pörtß→✓ "q" \\ }{', list: [1, [2, [3]]] } };
    const bytes = Buffer.from(JSON.stringify(msg) + ' \n' + JSON.stringify({ id: 8 }));
    for (let cut = 1; cut < bytes.length; cut++) {
      const f = new JsonStreamFramer();
      const out = [...f.push(bytes.subarray(0, cut)), ...f.push(bytes.subarray(cut))];
      expect(out).toEqual([msg, { id: 8 }]);
    }
  });

  it('handles one byte at a time', () => {
    const bytes = Buffer.from('{"a":"x\\\\"}{"b":["\\"",{}]}');
    const f = new JsonStreamFramer();
    const out: unknown[] = [];
    for (const b of bytes) out.push(...f.push(Buffer.from([b])));
    expect(out).toEqual([{ a: 'x\\' }, { b: ['"', {}] }]);
  });

  it('rejects garbage between messages and unbalanced closers', () => {
    expect(() => new JsonStreamFramer().push(Buffer.from('{"a":1}x'))).toThrow(JsonFramingError);
    expect(() => new JsonStreamFramer().push(Buffer.from('}'))).toThrow(JsonFramingError);
  });

  it('rejects invalid JSON inside a balanced frame', () => {
    expect(() => new JsonStreamFramer().push(Buffer.from('{"a":}'))).toThrow(/invalid JSON/);
  });

  it('enforces the message size limit', () => {
    const f = new JsonStreamFramer(16);
    expect(() => f.push(Buffer.from('{"a":"0123456789abcdefghij'))).toThrow(/too large/);
  });
});
