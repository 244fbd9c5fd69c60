// Incremental decoder for client → server RESP: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and
// inline commands (`GET k\r\n`), following redis's networking.c so that clients see the same
// behaviour and the same error texts. Limits are checked on headers, before anything is allocated
// for the claimed size; buffers only grow with bytes that actually arrived.
//
// Arguments are zero-copy views into the chunks given to push() whenever an argument arrived in
// one piece, so callers must not mutate a chunk after pushing it, and anything kept beyond the
// command (a store, a cache) should be copied: a view keeps its whole chunk alive.

export interface RespLimits {
  /** Largest bulk argument in bytes (redis `proto-max-bulk-len`). */
  readonly maxBulkLength: number;
  /** Most arguments in one multibulk command. */
  readonly maxMultibulkLength: number;
  /** Longest inline command line, and longest `*`/`$` header line, in bytes (PROTO_INLINE_MAX_SIZE). */
  readonly maxInlineLength: number;
}

export const DEFAULT_RESP_LIMITS: RespLimits = {
  maxBulkLength: 512 * 1024 * 1024,
  maxMultibulkLength: 1024 * 1024,
  maxInlineLength: 64 * 1024,
};

const CR = 13;
const LF = 10;
const STAR = 42; // '*'
const DOLLAR = 36; // '$'
const EMPTY = new Uint8Array(0);
/**
 * redis's tighter limits for a client that still has to AUTH (its fix for CVE-2021-32675): a
 * stranger cannot make the server buffer big requests.
 */
const UNAUTHENTICATED_MAX_MULTIBULK = 10;
const UNAUTHENTICATED_MAX_BULK = 16384;
/** Smallest buffer allocated for bytes that have to wait for the rest of their command. */
const MIN_PENDING_CAPACITY = 4096;

/** Returned by the line readers when the line is not complete yet. */
const NEED_MORE = -1;
/** Returned by the line readers when they set this.error. */
const FAILED = -2;

export class RespDecoder {
  private readonly limits: RespLimits;
  /** The bytes not yet consumed are data[pos..]; data is a pushed chunk or a view of `owned`. */
  private data: Uint8Array = EMPTY;
  private pos = 0;
  /** A buffer this decoder allocated to join a partial command with the next chunk. */
  private owned: Uint8Array | null = null;
  /** Absolute index in data up to which the current header line is known to have no terminator. */
  private scanFrom = 0;
  /** Bulk arguments still expected by the current multibulk command (0: between commands). */
  private argsLeft = 0;
  private args: Uint8Array[] = [];
  /** Length of the bulk argument whose `$` header was read, or -1. */
  private bulkLen = -1;
  /** The line at pos has a NUL before its terminator (see findLineEnd). */
  private lineHasNul = false;
  private err: string | null = null;
  private authenticated = true;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_RESP_LIMITS, ...limits };
  }

  /**
   * The protocol error text (e.g. "Protocol error: invalid bulk length"), once the input turned
   * out to be malformed. From then on next() returns null and pushed bytes are ignored: the
   * connection is to be answered `-ERR <error>` and closed.
   */
  get error(): string | null {
    return this.err;
  }

  /**
   * Whether the client may send big requests. While false (requirepass set, AUTH not yet done),
   * headers above 10 arguments or 16384-byte bulks are protocol errors, as in redis.
   */
  setAuthenticated(authenticated: boolean): void {
    this.authenticated = authenticated;
  }

  /** Bytes received but not yet returned as part of a command. */
  get pendingBytes(): number {
    return this.data.length - this.pos;
  }

  push(chunk: Uint8Array): void {
    if (this.err !== null || chunk.length === 0) return;
    const pending = this.data.length - this.pos;
    if (pending === 0) {
      this.data = chunk;
      this.pos = 0;
      this.owned = null;
      this.scanFrom = 0;
      return;
    }
    const total = pending + chunk.length;
    const owned = this.owned;
    // Appending after data.length never overwrites a byte that a returned view covers.
    if (owned !== null && this.data.length + chunk.length <= owned.length) {
      owned.set(chunk, this.data.length);
      this.data = owned.subarray(0, this.data.length + chunk.length);
      return;
    }
    let capacity = Math.max(total * 2, MIN_PENDING_CAPACITY);
    if (this.bulkLen >= 0) {
      // Size for the bulk being read when it is near, never for a claimed length not yet sent.
      const target = this.bulkLen + 2;
      if (target >= total && target <= capacity) capacity = target;
    }
    const grown = new Uint8Array(capacity);
    grown.set(this.data.subarray(this.pos), 0);
    grown.set(chunk, pending);
    this.scanFrom = Math.max(0, this.scanFrom - this.pos);
    this.owned = grown;
    this.data = grown.subarray(0, total);
    this.pos = 0;
  }

  /** The next complete command, or null when more bytes are needed or after a protocol error. */
  next(): Uint8Array[] | null {
    const data = this.data;
    for (;;) {
      if (this.err !== null) return null;
      if (this.argsLeft === 0) {
        if (this.pos >= data.length) return null;
        if (data[this.pos] !== STAR) {
          const argv = this.readInline();
          if (argv === null) return null;
          if (argv.length === 0) continue; // empty lines are ignored, as by redis
          return argv;
        }
        const count = this.readMultibulkHeader();
        if (count === NEED_MORE || count === FAILED) return null;
        if (count === 0) continue; // `*0` and `*-1` are accepted and ignored
        this.argsLeft = count;
      }
      while (this.argsLeft > 0) {
        if (this.bulkLen < 0) {
          const len = this.readBulkHeader();
          if (len === NEED_MORE || len === FAILED) return null;
          this.bulkLen = len;
        }
        // Like redis, the two bytes after the bulk are skipped without being checked.
        if (data.length - this.pos < this.bulkLen + 2) return null;
        this.args.push(data.subarray(this.pos, this.pos + this.bulkLen));
        this.pos += this.bulkLen + 2;
        this.bulkLen = -1;
        this.argsLeft--;
      }
      const argv = this.args;
      this.args = [];
      return argv;
    }
  }

  private fail(message: string): typeof FAILED {
    this.err = message;
    this.args = [];
    this.data = EMPTY;
    this.owned = null;
    this.pos = 0;
    return FAILED;
  }

  /**
   * Index of the first `terminator` byte of the line at pos, or NEED_MORE. redis finds line ends
   * with strchr, so a NUL byte before the terminator hides it for good: such a line never
   * completes and ends in a "too big" error once more than the inline limit is pending.
   */
  private findLineEnd(terminator: number): number {
    if (this.lineHasNul) return NEED_MORE;
    const data = this.data;
    for (let i = Math.max(this.scanFrom, this.pos); i < data.length; i++) {
      const c = data[i];
      if (c === terminator) return i;
      if (c === 0) {
        this.lineHasNul = true;
        return NEED_MORE;
      }
    }
    this.scanFrom = data.length;
    return NEED_MORE;
  }

  /**
   * Finds the CR ending a `*`/`$` header at pos; returns its index once the byte after it has
   * arrived too. The length check does not depend on how the input was split.
   */
  private findHeaderEnd(tooBig: string): number {
    const start = this.pos;
    const max = this.limits.maxInlineLength;
    const cr = this.findLineEnd(CR);
    if (cr < 0) return this.data.length - start > max ? this.fail(tooBig) : NEED_MORE;
    if (cr - start > max) return this.fail(tooBig);
    if (cr + 1 >= this.data.length) {
      this.scanFrom = cr;
      return NEED_MORE;
    }
    return cr;
  }

  private readMultibulkHeader(): number {
    const cr = this.findHeaderEnd("Protocol error: too big mbulk count string");
    if (cr < 0) return cr;
    const n = parseLongLong(this.data, this.pos + 1, cr);
    if (n === null || n > this.limits.maxMultibulkLength) {
      return this.fail("Protocol error: invalid multibulk length");
    }
    if (n > UNAUTHENTICATED_MAX_MULTIBULK && !this.authenticated) {
      return this.fail("Protocol error: unauthenticated multibulk length");
    }
    this.pos = cr + 2;
    this.scanFrom = this.pos;
    return Math.max(n, 0); // negative counts must not look like NEED_MORE or FAILED
  }

  private readBulkHeader(): number {
    const cr = this.findHeaderEnd("Protocol error: too big bulk count string");
    if (cr < 0) return cr;
    const first = this.data[this.pos];
    if (first !== DOLLAR) {
      return this.fail(`Protocol error: expected '$', got '${printableByte(first)}'`);
    }
    const n = parseLongLong(this.data, this.pos + 1, cr);
    if (n === null || n < 0 || n > this.limits.maxBulkLength) {
      return this.fail("Protocol error: invalid bulk length");
    }
    if (n > UNAUTHENTICATED_MAX_BULK && !this.authenticated) {
      return this.fail("Protocol error: unauthenticated bulk length");
    }
    this.pos = cr + 2;
    this.scanFrom = this.pos;
    return n;
  }

  /** An inline command (possibly empty) once its line is complete, else null. */
  private readInline(): Uint8Array[] | null {
    const data = this.data;
    const start = this.pos;
    const max = this.limits.maxInlineLength;
    const lf = this.findLineEnd(LF);
    if (lf < 0 ? data.length - start > max : lf - start > max) {
      this.fail("Protocol error: too big inline request");
      return null;
    }
    if (lf < 0) return null;
    const end = lf > start && data[lf - 1] === CR ? lf - 1 : lf;
    const argv = splitArgs(data, start, end);
    if (argv === null) {
      this.fail("Protocol error: unbalanced quotes in request");
      return null;
    }
    this.pos = lf + 1;
    this.scanFrom = this.pos;
    return argv;
  }
}

/** The byte as redis prints it with %c in an error, where CR and LF become spaces. */
function printableByte(b: number): string {
  return b === CR || b === LF ? " " : String.fromCharCode(b);
}

/**
 * redis's string2ll on data[start..end): an optional '-', no leading zeros, no '+', no spaces,
 * within int64. The result is exact up to 2^53, which is more than any limit compared with it.
 */
function parseLongLong(data: Uint8Array, start: number, end: number): number | null {
  const len = end - start;
  if (len <= 0) return null;
  if (len === 1 && data[start] === 48) return 0;
  let i = start;
  const negative = data[i] === 45;
  if (negative) i++;
  const digits = end - i;
  if (digits === 0 || digits > 19) return null;
  const first = data[i];
  if (first < 49 || first > 57) return null;
  let v = 0;
  for (let j = i; j < end; j++) {
    const c = data[j] - 48;
    if (c < 0 || c > 9) return null;
    v = v * 10 + c;
  }
  if (digits === 19 && exceedsInt64(data, i, negative)) return null;
  return negative ? -v : v;
}

const INT64_MAX_DIGITS = "9223372036854775807";

function exceedsInt64(data: Uint8Array, i: number, negative: boolean): boolean {
  for (let k = 0; k < 19; k++) {
    let limit = INT64_MAX_DIGITS.charCodeAt(k);
    if (k === 18 && negative) limit++; // -9223372036854775808 is allowed
    const c = data[i + k];
    if (c !== limit) return c > limit;
  }
  return false;
}

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const hexValue = (c: number): number => (c <= 57 ? c - 48 : (c | 32) - 87);

/**
 * redis's sdssplitargs on data[start..end): blanks separate arguments; "double quotes" take
 * \xHH, \n, \r, \t, \b, \a and \<any> escapes; 'single quotes' take only \'. A closing quote must
 * be followed by a blank or the end. Like the C original, a NUL byte ends the input. Returns null
 * on unbalanced quotes.
 */
function splitArgs(data: Uint8Array, start: number, end: number): Uint8Array[] | null {
  const at = (i: number): number => (i < end ? data[i] : 0);
  const argv: Uint8Array[] = [];
  let p = start;
  for (;;) {
    while (at(p) !== 0 && isSpace(at(p))) p++;
    if (at(p) === 0) return argv;
    const tokenStart = p;
    // Stays null while the token is data[tokenStart..tokenStart + plainLength) unchanged.
    let bytes: number[] | null = null;
    let plainLength = 0;
    const unquote = (): number[] => Array.from(data.subarray(tokenStart, tokenStart + plainLength));
    let inDouble = false;
    let inSingle = false;
    for (let done = false; !done; ) {
      const c = at(p);
      if (inDouble || inSingle) {
        const out = (bytes ??= unquote());
        if (inDouble && c === 92 && at(p + 1) === 120 && isHex(at(p + 2)) && isHex(at(p + 3))) {
          out.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (inDouble && c === 92 && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          out.push(e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e);
        } else if (inSingle && c === 92 && at(p + 1) === 39) {
          p++;
          out.push(39);
        } else if ((inDouble && c === 34) || (inSingle && c === 39)) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          out.push(c);
        }
      } else if (c === 32 || c === 10 || c === 13 || c === 9 || c === 0) {
        done = true;
      } else if (c === 34 || c === 39) {
        bytes ??= unquote();
        inDouble = c === 34;
        inSingle = c === 39;
      } else if (bytes === null) {
        plainLength++;
      } else {
        bytes.push(c);
      }
      if (at(p) !== 0) p++;
    }
    argv.push(bytes === null ? data.subarray(tokenStart, tokenStart + plainLength) : Uint8Array.from(bytes));
  }
}
