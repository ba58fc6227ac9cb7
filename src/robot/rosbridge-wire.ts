/**
 * The rosbridge server's outgoing wire: a message as JSON text or as CBOR bytes, written once per
 * message whatever the number of subscribers.
 *
 * Hand-written because the per-tick path is hot: cbor2's general encoder allocated a 4 KiB chunk
 * and a closure chain per message (a fifth of sim-serve's time went to the garbage collector), and
 * `JSON.stringify` with a replacer calls back into JavaScript for every value. Both writers here
 * walk plain message objects only (what `sim-serve` and clients publish): objects, arrays, typed
 * arrays, strings, numbers, bigints, booleans, null and undefined; anything else (a Map, a Date)
 * goes to cbor2 / the replacer as before, so nothing changes meaning.
 *
 * CBOR: typed arrays go out as RFC 8746 tagged typed arrays in one copy (tag 86 float64 LE, 85
 * float32 LE, 78 int32 LE, ...), which roslib's decoder (cbor2) turns back into the same typed
 * array; `uint8[]` goes out as a byte string, as rosbridge_server sends it. Numbers that are not
 * integers go out as float64, so every value arrives bit for bit as it was sent.
 */
import { encode as encodeCbor2 } from 'cbor2';
import { TYPED_ARRAY_TAGS } from './rosbridge-cbor.ts';

/** Every typed array (64-bit integer ones hold bigints). */
function isTypedArray(v: unknown): v is ArrayLike<number | bigint> & ArrayBufferView {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** A value the writers here know: anything else goes to the general encoders. */
class Unsupported extends Error {}

/** RFC 8746 tags of little-endian typed arrays (this side is little-endian, as x86 and ARM are). */
const TYPED_ARRAY_TAG = new Map<unknown, number>(TYPED_ARRAY_TAGS.map(([Type, little]) => [Type, little]));
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('arbor\'s rosbridge CBOR writer assumes a little-endian machine.');

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A CBOR writer over one growing scratch buffer, reused from message to message. */
class CborWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;

  /** The CBOR bytes of `value`, in a buffer of their own (the socket may hold it until written). */
  encode(value: unknown): Buffer {
    this.pos = 0;
    this.value(value, 0);
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
    this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }

  /** A major type with its argument, in the shortest form. */
  private head(major: number, n: number): void {
    this.room(9);
    const m = major << 5;
    if (n < 24) this.buf[this.pos++] = m | n;
    else if (n < 0x100) {
      this.buf[this.pos++] = m | 24;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = m | 25;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else if (n < 0x100000000) {
      this.buf[this.pos++] = m | 26;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    } else {
      this.buf[this.pos++] = m | 27;
      this.view.setUint32(this.pos, Math.floor(n / 0x100000000));
      this.view.setUint32(this.pos + 4, n >>> 0);
      this.pos += 8;
    }
  }

  private string(s: string): void {
    const n = s.length;
    if (n < 24) {
      // Short ASCII strings (names, keys) without a trip into native code.
      this.room(1 + n);
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[this.pos + 1 + i] = c;
      }
      if (i === n) {
        this.buf[this.pos] = 0x60 | n;
        this.pos += 1 + n;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.head(3, bytes);
    this.room(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  private bytes(b: ArrayBufferView): void {
    this.head(2, b.byteLength);
    this.room(b.byteLength);
    this.buf.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), this.pos);
    this.pos += b.byteLength;
  }

  private number(v: number): void {
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
      if (v >= 0) this.head(0, v);
      else this.head(1, -1 - v);
      return;
    }
    this.room(9);
    this.buf[this.pos++] = 0xfb;
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  private bigint(v: bigint): void {
    // Beyond 2^53 a Number loses bits: such values go to the general encoder, exact.
    if (v > MAX_SAFE || v < -MAX_SAFE) throw new Unsupported();
    if (v >= 0n) this.head(0, Number(v));
    else this.head(1, Number(-1n - v));
  }

  private value(v: unknown, depth: number): void {
    if (depth > 64) throw new Unsupported();
    switch (typeof v) {
      case 'number':
        this.number(v);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.room(1);
        this.buf[this.pos++] = v ? 0xf5 : 0xf4;
        return;
      case 'undefined':
        this.room(1);
        this.buf[this.pos++] = 0xf7;
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'object': {
        if (v === null) {
          this.room(1);
          this.buf[this.pos++] = 0xf6;
          return;
        }
        if (Array.isArray(v)) {
          this.head(4, v.length);
          for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1);
          return;
        }
        if (ArrayBuffer.isView(v)) {
          if (v instanceof Uint8Array) return this.bytes(v);
          const tag = TYPED_ARRAY_TAG.get(v.constructor);
          if (tag === undefined) throw new Unsupported();
          this.head(6, tag);
          return this.bytes(v);
        }
        if (!isPlainObject(v)) throw new Unsupported();
        const keys = Object.keys(v);
        this.head(5, keys.length);
        for (const key of keys) {
          this.string(key);
          this.value((v as Record<string, unknown>)[key], depth + 1);
        }
        return;
      }
      default:
        throw new Unsupported();
    }
  }
}

const writer = new CborWriter();
/** CBOR encodings made (each message once, whatever the number of its subscribers). */
let cborEncodes = 0;

/** The CBOR bytes of a message, in a buffer of their own. */
export function toCbor(message: unknown): Uint8Array {
  cborEncodes++;
  try {
    return writer.encode(message);
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    return encodeCbor2(message);
  }
}

/** How many messages have been CBOR-encoded in this process (for tests: one per message, not per subscriber). */
export function cborEncodeCount(): number {
  return cborEncodes;
}

/** JSON text of a message as rosbridge sends it: typed arrays as arrays, bytes (uint8[]) as base64, bigints as numbers. */
export function toJson(value: unknown): string {
  try {
    return jsonValue(value, 0);
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    return JSON.stringify(value, replacer);
  }
}

function replacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (isTypedArray(v)) return Array.from(v);
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** A number as JSON writes it (NaN and infinities as null). */
function jsonNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

/** JSON text of a value, as `JSON.stringify(value, replacer)` writes it, for plain messages. */
function jsonValue(v: unknown, depth: number): string {
  if (depth > 64) throw new Unsupported();
  switch (typeof v) {
    case 'number':
      return jsonNumber(v);
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return jsonNumber(Number(v));
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out += ',';
          // JSON writes undefined (and functions) in arrays as null.
          const item = v[i] as unknown;
          out += item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : jsonValue(item, depth + 1);
        }
        return out + ']';
      }
      if (ArrayBuffer.isView(v)) {
        if (v instanceof Uint8Array) return `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"`;
        if (!isTypedArray(v)) throw new Unsupported();
        const items = v;
        let out = '[';
        for (let i = 0; i < items.length; i++) {
          if (i > 0) out += ',';
          out += jsonNumber(Number(items[i]));
        }
        return out + ']';
      }
      if (!isPlainObject(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') throw new Unsupported();
      let out = '{';
      let first = true;
      for (const key of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[key];
        // JSON leaves out keys whose value it cannot write.
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(key) + ':' + jsonValue(item, depth + 1);
      }
      return out + '}';
    }
    default:
      throw new Unsupported();
  }
}
