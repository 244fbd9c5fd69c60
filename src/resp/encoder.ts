// Reply → RESP bytes, for protocol 2 or 3. This sits on the GET/SET hot path, so replies are
// written straight into one reusable growable buffer (a server encodes a whole read batch of
// replies, writes the bytes to the socket, then resets): no per-reply strings or arrays for the
// common shapes (integers, short ASCII strings, byte arrays).
import type { Reply } from "./reply.ts";

export type Protocol = 2 | 3;

const CR = 13;
const LF = 10;
const SPACE = 32;
/** Strings this short are scanned for ASCII and copied by hand instead of through TextEncoder. */
const SHORT_STRING = 64;
/** A buffer grown beyond this by one big reply is dropped again on reset(). */
const MAX_RETAINED_CAPACITY = 1024 * 1024;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export class RespEncoder {
  private buf: Uint8Array;
  private len = 0;
  private readonly initialCapacity: number;

  constructor(initialCapacity = 16 * 1024) {
    this.initialCapacity = initialCapacity;
    this.buf = new Uint8Array(initialCapacity);
  }

  /** Number of bytes encoded since the last reset(). */
  get length(): number {
    return this.len;
  }

  /** The bytes encoded since the last reset(): a view, valid until the next encode() or reset(). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /**
   * The bytes encoded since the last reset(), handed over: the caller may keep them, and the
   * encoder starts again in a new buffer of its initial capacity. For a big reply that the socket
   * did not take at once, instead of copying it.
   */
  detach(): Uint8Array {
    const out = this.buf.subarray(0, this.len);
    this.buf = new Uint8Array(this.initialCapacity);
    this.len = 0;
    return out;
  }

  /** Drops what was encoded after the first `length` bytes (a reply that failed half way). */
  truncate(length: number): void {
    if (length < this.len) this.len = Math.max(0, length);
  }

  reset(): void {
    this.len = 0;
    if (this.buf.length > MAX_RETAINED_CAPACITY) this.buf = new Uint8Array(this.initialCapacity);
  }

  /** Appends one reply. */
  encode(reply: Reply, protocol: Protocol): void {
    switch (reply.t) {
      case "simple":
        this.writeLine(43 /* + */, reply.v);
        return;
      case "error":
        this.writeLine(45 /* - */, reply.v);
        return;
      case "int":
        this.writeInteger(reply.v, protocol);
        return;
      case "bulk":
        if (typeof reply.v === "string") this.writeStringBlob(36 /* $ */, reply.v);
        else this.writeBytesBlob(36, reply.v);
        return;
      case "verbatim":
        if (protocol === 2) this.writeStringBlob(36, reply.v);
        else this.writeStringBlob(61 /* = */, `${reply.format.padEnd(3).slice(0, 3)}:${reply.v}`);
        return;
      case "nullbulk":
        if (protocol === 2) this.writeAscii("$-1\r\n");
        else this.writeAscii("_\r\n");
        return;
      case "nullarray":
        if (protocol === 2) this.writeAscii("*-1\r\n");
        else this.writeAscii("_\r\n");
        return;
      case "array":
        this.writeAggregate(42 /* * */, reply.v, protocol);
        return;
      case "set":
        this.writeAggregate(protocol === 2 ? 42 : 126 /* ~ */, reply.v, protocol);
        return;
      case "push":
        this.writeAggregate(protocol === 2 ? 42 : 62 /* > */, reply.v, protocol);
        return;
      case "map": {
        const pairs = reply.v;
        if (protocol === 2) this.writeHeader(42, pairs.length * 2);
        else this.writeHeader(37 /* % */, pairs.length);
        for (const [k, v] of pairs) {
          this.encode(k, protocol);
          this.encode(v, protocol);
        }
        return;
      }
      case "double": {
        const text = reply.text ?? formatDouble(reply.v);
        if (protocol === 2) this.writeStringBlob(36, text);
        else this.writeLine(44 /* , */, text);
        return;
      }
      case "bool":
        if (protocol === 2) this.writeAscii(reply.v ? ":1\r\n" : ":0\r\n");
        else this.writeAscii(reply.v ? "#t\r\n" : "#f\r\n");
        return;
      default: {
        // Writing nothing would shift every later reply onto the wrong command.
        const unknown: never = reply;
        throw new Error(`not a Reply: ${JSON.stringify(unknown)}`);
      }
    }
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(need, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  private writeAggregate(type: number, items: readonly Reply[], protocol: Protocol): void {
    this.writeHeader(type, items.length);
    for (const item of items) this.encode(item, protocol);
  }

  private writeInteger(v: number | bigint, protocol: Protocol): void {
    if (typeof v === "number") {
      this.writeHeader(58 /* : */, Number.isSafeInteger(v) ? v : Math.trunc(v));
      return;
    }
    if (v >= INT64_MIN && v <= INT64_MAX) {
      this.writeLine(58, v.toString());
    } else if (protocol === 3) {
      this.writeLine(40 /* ( */, v.toString()); // RESP3 big number
    } else {
      this.writeStringBlob(36, v.toString());
    }
  }

  /** type byte, decimal n, CRLF (n is an integer; unsafe magnitudes go through toString). */
  private writeHeader(type: number, n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.writeLine(type, Number.isFinite(n) ? BigInt(n).toString() : "0");
      return;
    }
    this.ensure(20);
    const buf = this.buf;
    let i = this.len;
    buf[i++] = type;
    if (n < 0) {
      buf[i++] = 45;
      n = -n;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    for (let k = i + digits - 1; k >= i; k--) {
      buf[k] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    i += digits;
    buf[i++] = CR;
    buf[i++] = LF;
    this.len = i;
  }

  private writeBytesBlob(type: number, bytes: Uint8Array): void {
    this.writeHeader(type, bytes.length);
    this.ensure(bytes.length + 2);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    this.buf[this.len++] = CR;
    this.buf[this.len++] = LF;
  }

  /** type byte, UTF-8 length, CRLF, UTF-8 bytes, CRLF. */
  private writeStringBlob(type: number, s: string): void {
    const ascii = s.length <= SHORT_STRING && isAscii(s);
    const size = ascii ? s.length : utf8Length(s);
    this.writeHeader(type, size);
    this.ensure(size + 2);
    if (ascii) this.copyAscii(s);
    else this.len = writeUtf8(s, this.buf, this.len);
    this.buf[this.len++] = CR;
    this.buf[this.len++] = LF;
  }

  /** type byte, text, CRLF; CR and LF inside the text become spaces, as redis does for errors. */
  private writeLine(type: number, s: string): void {
    this.ensure(1);
    this.buf[this.len++] = type;
    const start = this.len;
    if (s.length <= SHORT_STRING && isAscii(s)) {
      this.ensure(s.length + 2);
      this.copyAscii(s);
    } else {
      this.ensure(utf8Length(s) + 2);
      this.len = writeUtf8(s, this.buf, this.len);
    }
    const buf = this.buf;
    for (let i = start; i < this.len; i++) if (buf[i] === CR || buf[i] === LF) buf[i] = SPACE;
    buf[this.len++] = CR;
    buf[this.len++] = LF;
  }

  private writeAscii(s: string): void {
    this.ensure(s.length);
    this.copyAscii(s);
  }

  /** Caller has ensured room and checked that s is ASCII. */
  private copyAscii(s: string): void {
    const buf = this.buf;
    let i = this.len;
    for (let k = 0; k < s.length; k++) buf[i++] = s.charCodeAt(k);
    this.len = i;
  }
}

function isAscii(s: string): boolean {
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) > 127) return false;
  return true;
}

// UTF-8 by hand: the runtime-free core check has no TextEncoder, and for the short strings of
// replies a loop is as fast. Lone surrogates become U+FFFD, as TextEncoder does.

function utf8Length(s: string): number {
  let n = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && k + 1 < s.length && isLowSurrogate(s.charCodeAt(k + 1))) {
      n += 4;
      k++;
    } else n += 3;
  }
  return n;
}

const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** Writes s at buf[i..] (room ensured by the caller); returns the index after it. */
function writeUtf8(s: string, buf: Uint8Array, i: number): number {
  for (let k = 0; k < s.length; k++) {
    let c = s.charCodeAt(k);
    if (c < 0x80) {
      buf[i++] = c;
    } else if (c < 0x800) {
      buf[i++] = 0xc0 | (c >> 6);
      buf[i++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = k + 1 < s.length ? s.charCodeAt(k + 1) : 0;
      if (c <= 0xdbff && isLowSurrogate(next)) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        k++;
        buf[i++] = 0xf0 | (c >> 18);
        buf[i++] = 0x80 | ((c >> 12) & 63);
        buf[i++] = 0x80 | ((c >> 6) & 63);
        buf[i++] = 0x80 | (c & 63);
      } else {
        buf[i++] = 0xef;
        buf[i++] = 0xbf;
        buf[i++] = 0xbd;
      }
    } else {
      buf[i++] = 0xe0 | (c >> 12);
      buf[i++] = 0x80 | ((c >> 6) & 63);
      buf[i++] = 0x80 | (c & 63);
    }
  }
  return i;
}

/** One reply as a fresh byte array (tests, one-off messages); servers reuse a RespEncoder. */
export function encodeReply(reply: Reply, protocol: Protocol): Uint8Array {
  const encoder = new RespEncoder(256);
  encoder.encode(reply, protocol);
  return encoder.bytes().slice();
}

/**
 * A double as redis (>= 7.2) prints it: `inf`, `-inf`, `nan`, else the shortest digits that
 * round-trip, laid out like printf's %.17g (fixed notation for exponents -4..16, otherwise
 * `d.ddde+XX`), so 1 is `1`, 0.1 is `0.1` and 1e20 is `1e+20`.
 */
export function formatDouble(d: number): string {
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (Number.isNaN(d)) return "nan";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  // C's "%.17g", as redis 7.0 prints doubles (ZSCORE 0.1 → 0.10000000000000001): 17 significant
  // digits, trailing zeros dropped, exponent form below 1e-4 and from 1e17.
  const [mant, expText] = d.toExponential(16).split("e") as [string, string];
  const exp = Number(expText);
  const strip = (t: string) => (t.includes(".") ? t.replace(/0+$/, "").replace(/\.$/, "") : t);
  if (exp < -4 || exp >= 17)
    return `${strip(mant)}e${exp < 0 ? "-" : "+"}${Math.abs(exp) < 10 ? "0" : ""}${Math.abs(exp)}`;
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const text = exp < 0 ? `0.${"0".repeat(-exp - 1)}${digits}` : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return (neg ? "-" : "") + strip(text);
}
