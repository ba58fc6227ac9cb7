/**
 * The rosbridge client's incoming CBOR: a reader for the forms rosbridge servers send (arbor's
 * own, rosbridge_server) that gives exactly what roslib's decoder, cbor2, gives for them.
 *
 * Why: cbor2 decodes through generators, a token tuple per value and a container object per
 * array, map and tag, and copies its options per call; profiled in a network link's lockstep
 * episode it allocated about 350 KB per control period (90% of the link process's allocation),
 * which ran a young-generation collection every ~30 periods, each a pause of several
 * milliseconds in the round trip. This reader walks the bytes once and allocates only the values.
 *
 * What it reads, as cbor2 reads it: integers up to 2^53 (numbers), byte strings (views of the
 * input, as cbor2's), UTF-8 strings (invalid UTF-8 throws), half, single and double floats,
 * arrays, maps with string keys (plain objects), false, true, null, undefined, and the RFC 8746
 * typed arrays cbor2 registers (tag 64 the byte string itself; float32 ones through a double, as
 * cbor2 reads them; the others copied, in the tag's byte order). Anything else — indefinite lengths,
 * other tags, other simple values, bigger integers, non-string or `__proto__` keys, very deep
 * nesting, trailing or missing bytes — is `NOT_READ`, and the caller hands the message to cbor2,
 * so those keep cbor2's meaning and its errors.
 */

/** The reader left this message to cbor2. */
export const NOT_READ: unique symbol = Symbol('not read');

/** Thrown inside the reader where it leaves the message to cbor2. */
class NotRead extends Error {}

/** Deeper messages go to cbor2 (whose limit is 1024): no ROS message nests this deep. */
const MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf8', { fatal: true, ignoreBOM: true });

type TypedArrayConstructor =
  | Uint8ClampedArrayConstructor | Int8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | BigUint64ArrayConstructor | Int16ArrayConstructor
  | Int32ArrayConstructor | BigInt64ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor;

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * RFC 8746 typed-array tags, as cbor2 registers them: the array type, its little-endian tag and its
 * big-endian one (one tag for the byte-sized types). rosbridge-wire.ts writes the little-endian ones.
 */
export const TYPED_ARRAY_TAGS: readonly (readonly [TypedArrayConstructor, number, number])[] = [
  [Uint8ClampedArray, 68, 68], [Int8Array, 72, 72],
  [Uint16Array, 69, 65], [Uint32Array, 70, 66], [BigUint64Array, 71, 67],
  [Int16Array, 77, 73], [Int32Array, 78, 74], [BigInt64Array, 79, 75],
  [Float32Array, 85, 81], [Float64Array, 86, 82],
];

/** Each tag the reader takes (64, the byte string itself, aside): the array type and whether it is little endian. */
const TYPED_ARRAYS = new Map<number, [TypedArrayConstructor, boolean]>(
  TYPED_ARRAY_TAGS.flatMap(([Type, little, big]) => [[big, [Type, false]], [little, [Type, true]]] as const),
);

class Reader {
  pos = 0;
  private readonly view: DataView;
  /** The same bytes as a Buffer, for its latin1 reading of ASCII text. */
  private readonly latin1: Buffer;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The argument of a head with additional information `info` (a DataView read past the end throws: cbor2's). */
  private argument(info: number): number {
    if (info < 24) return info;
    const at = this.pos;
    switch (info) {
      case 24:
        this.pos += 1;
        return this.view.getUint8(at);
      case 25:
        this.pos += 2;
        return this.view.getUint16(at);
      case 26:
        this.pos += 4;
        return this.view.getUint32(at);
      case 27: {
        const n = this.view.getBigUint64(at);
        this.pos += 8;
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new NotRead();
        return Number(n);
      }
      default:
        throw new NotRead();
    }
  }

  /** `n` bytes from here, as a view of the input. */
  private take(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) throw new NotRead();
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * `n` bytes from here as UTF-8 text. Keys and names are ASCII: those are read from the bytes
   * as they are (latin1 is ASCII there), without a view per string; the rest through a fatal
   * TextDecoder, as cbor2 reads them.
   */
  private text(n: number): string {
    const start = this.pos;
    const end = start + n;
    if (end > this.bytes.length) throw new NotRead();
    let ascii = true;
    for (let i = start; i < end && ascii; i++) ascii = this.bytes[i] < 0x80;
    if (!ascii) return utf8.decode(this.take(n));
    this.pos = end;
    return this.latin1.toString('latin1', start, end);
  }

  /** A count of items that must each take at least a byte of what is left. */
  private count(info: number): number {
    const n = this.argument(info);
    if (n > this.bytes.length - this.pos) throw new NotRead();
    return n;
  }

  item(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new NotRead();
    const head = this.view.getUint8(this.pos++);
    const info = head & 31;
    switch (head >> 5) {
      case 0:
        return this.argument(info);
      case 1:
        return -1 - this.argument(info);
      case 2:
        return this.take(this.argument(info));
      case 3:
        return this.text(this.argument(info));
      case 4: {
        const n = this.count(info);
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.count(info);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const key = this.item(depth + 1);
          // cbor2 makes a Map of other keys; `__proto__` it defines as an own key, which assignment would not.
          if (typeof key !== 'string' || key === '__proto__') throw new NotRead();
          out[key] = this.item(depth + 1);
        }
        return out;
      }
      case 6:
        return typedArray(this.argument(info), this.item(depth + 1));
      default:
        return this.simple(info);
    }
  }

  /** Major type 7: the four simple values cbor2 gives as JavaScript values, and floats. */
  private simple(info: number): unknown {
    const at = this.pos;
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25:
        this.pos += 2;
        return half(this.view.getUint16(at));
      case 26:
        this.pos += 4;
        return this.view.getFloat32(at);
      case 27:
        this.pos += 8;
        return this.view.getFloat64(at);
      default:
        throw new NotRead();
    }
  }
}

/** A half float (IEEE 754 binary16) as cbor2's parseHalf computes it. */
function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits & 0x7c00) >> 10;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 5.960464477539063e-8 * mantissa;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 25) * (1024 + mantissa);
}

/** A tagged item, for the typed-array tags cbor2 registers; any other tag is left to cbor2. */
function typedArray(tag: number, content: unknown): unknown {
  if (!(content instanceof Uint8Array)) throw new NotRead();
  if (tag === 64) return content;
  const kind = TYPED_ARRAYS.get(tag);
  if (!kind) throw new NotRead();
  const [Type, little] = kind;
  const size = Type.BYTES_PER_ELEMENT;
  if (content.length % size !== 0) throw new NotRead();
  const n = content.length / size;
  if (Type === Float32Array) {
    // Through a double, as cbor2 reads it: that quiets a signalling NaN, which a byte copy would keep.
    const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
    const floats = new Float32Array(n);
    for (let i = 0; i < n; i++) floats[i] = view.getFloat32(i * size, little);
    return floats;
  }
  // The elements' bytes as they are, turned around where the tag's byte order is not this
  // machine's: the values cbor2 reads element by element through a DataView, without a call each.
  const out = new Type(n);
  const raw = new Uint8Array(out.buffer);
  raw.set(content);
  if (little !== HOST_LITTLE_ENDIAN) for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
  return out;
}

/** The value of one CBOR item filling `bytes`, as cbor2 gives it, or `NOT_READ` (then cbor2 decides). */
export function fromCbor(bytes: Uint8Array): unknown {
  try {
    const reader = new Reader(bytes);
    const value = reader.item(0);
    return reader.pos === bytes.length ? value : NOT_READ;
  } catch {
    return NOT_READ;
  }
}
