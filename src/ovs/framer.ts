/**
 * Splits a byte stream of back-to-back JSON texts (no delimiter, as ovsdb-server sends them)
 * into complete texts. Tracks nesting depth outside strings, honouring backslash escapes.
 * Works on bytes: the structural characters are ASCII, and UTF-8 continuation bytes never
 * collide with them, so multi-byte characters split across chunks are safe.
 */

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonFramingError extends Error {
  override readonly name = 'JsonFramingError';
}

export class JsonStreamFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** Largest accepted message; a peer sending more is broken or hostile. */
  constructor(private readonly maxMessageBytes = 256 * 1024 * 1024) {}

  /** Feeds a chunk; returns the parsed values of every message completed by it. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) {
        if (this.depth === 0) throw new JsonFramingError('string outside a JSON object');
        this.inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (this.depth === 0) start = i;
        this.depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (this.depth === 0) throw new JsonFramingError('unbalanced closing bracket');
        this.depth--;
        if (this.depth === 0) {
          out.push(this.parse(chunk.subarray(start, i + 1)));
          start = i + 1;
        }
      } else if (this.depth === 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        throw new JsonFramingError(`unexpected byte 0x${c.toString(16)} between messages`);
      }
    }
    if (this.depth > 0) {
      const rest = chunk.subarray(start);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > this.maxMessageBytes) throw new JsonFramingError('message too large');
    }
    return out;
  }

  /** Bytes buffered for an incomplete message. */
  get buffered(): number {
    return this.pendingBytes;
  }

  private parse(tail: Buffer): unknown {
    let text: string;
    if (this.pending.length > 0) {
      this.pending.push(tail);
      text = Buffer.concat(this.pending).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      text = tail.toString('utf8');
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new JsonFramingError(`invalid JSON: ${(err as Error).message}`);
    }
  }
}
