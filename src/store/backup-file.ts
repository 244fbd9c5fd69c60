// A FlyDB backup file, as `flydb backup` and GET /backup write it and `flydb restore` reads it:
//
//   "FLYDBBAK" | u32 length | header JSON (BackupHeader)
//   per partition, in order: "PART" | u32 partition | u64 applied index | u64 length | snapshot
//   "DONE" | u32 length | trailer JSON (BackupTrailer) | SHA-256 of every byte before it
//
// A snapshot is partition-snapshot.ts's encoding of the partition's rows at that Raft index. The
// sections stream as the node takes them, so the indexes are known only as they come: each section
// carries its own, and the trailer lists them all. A node that fails mid-way writes
// "FAIL" | u32 length | message instead of the trailer; a file without a valid trailer is refused.
import { createHash, type Hash } from "node:crypto";

export const BACKUP_MAGIC = "FLYDBBAK";
export const BACKUP_FORMAT = 1;
const TAG = { part: "PART", done: "DONE", fail: "FAIL" } as const;
const SHA256_BYTES = 32;
/** A header or trailer longer than this is not one (the trailer lists at most 16384 partitions). */
const MAX_JSON = 4 * 1024 * 1024;

export interface BackupHeader {
  readonly format: number;
  /** The cluster's id, or "" for a standalone node. */
  readonly cluster_id: string;
  readonly mode: "standalone" | "cluster";
  readonly partition_count: number;
  /** The node's `databases`: a snapshot holds rows of databases 0 to databases - 1. */
  readonly databases: number;
  readonly created_at: string;
  readonly flydb_version: string;
}

export interface BackupSection {
  readonly partition: number;
  /** The Raft index the partition's rows are at (its group's, or the standalone log's). */
  readonly index: number;
  readonly data: Uint8Array;
}

export interface BackupTrailer {
  readonly partitions: readonly { readonly partition: number; readonly index: number; readonly bytes: number }[];
}

/** A file or stream that is not a complete, intact backup; `offset` is where reading stopped. */
export class BackupFileError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function framed(tag: string, json: unknown): Uint8Array {
  const body = enc.encode(typeof json === "string" ? json : JSON.stringify(json));
  const out = new Uint8Array(tag.length + 4 + body.length);
  out.set(enc.encode(tag));
  new DataView(out.buffer).setUint32(tag.length, body.length, true);
  out.set(body, tag.length + 4);
  return out;
}

/** Writes a backup piece by piece, hashing what it hands out. */
export class BackupEncoder {
  private readonly hash: Hash = createHash("sha256");
  private readonly listed: { partition: number; index: number; bytes: number }[] = [];

  header(h: BackupHeader): Uint8Array {
    return this.hashed(framed(BACKUP_MAGIC, h));
  }

  /** The section's prefix; the snapshot itself follows as is (no copy of a large partition). */
  section(s: BackupSection): Uint8Array[] {
    const head = new Uint8Array(4 + 4 + 8 + 8);
    head.set(enc.encode(TAG.part));
    const v = new DataView(head.buffer);
    v.setUint32(4, s.partition, true);
    v.setBigUint64(8, BigInt(s.index), true);
    v.setBigUint64(16, BigInt(s.data.length), true);
    this.listed.push({ partition: s.partition, index: s.index, bytes: s.data.length });
    return [this.hashed(head), this.hashed(s.data)];
  }

  trailer(): Uint8Array {
    const t = this.hashed(framed(TAG.done, { partitions: this.listed } satisfies BackupTrailer));
    const out = new Uint8Array(t.length + SHA256_BYTES);
    out.set(t);
    out.set(this.hash.digest(), t.length);
    return out;
  }

  /** What a node that cannot finish writes instead of the trailer. */
  static failure(message: string): Uint8Array {
    return framed(TAG.fail, message);
  }

  private hashed(b: Uint8Array): Uint8Array {
    this.hash.update(b);
    return b;
  }
}

export type BackupEvent =
  | { readonly t: "header"; readonly header: BackupHeader }
  | { readonly t: "section"; readonly section: BackupSection }
  | { readonly t: "trailer"; readonly trailer: BackupTrailer };

/**
 * Reads a backup from chunks as they arrive and checks it: structure, partition order, the
 * trailer's list and the checksum. `end` throws unless the trailer was read, so a truncated file
 * or stream is never taken for a complete one. Sections come out before the checksum is known:
 * a reader that must write nothing from a damaged file reads it twice (src/store/backup-restore.ts).
 */
export class BackupDecoder {
  private buf = new Uint8Array(0);
  /** Chunks not yet in `buf`: joined only once the frame being read is complete (no quadratic copying). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes `buf` must hold before the next frame can be read. */
  private want = 0;
  /** Bytes consumed before `buf`. */
  private offset = 0;
  private readonly hash: Hash = createHash("sha256");
  private header?: BackupHeader;
  private readonly seen: { partition: number; index: number; bytes: number }[] = [];
  private done = false;

  push(chunk: Uint8Array): BackupEvent[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.buf.length + this.pendingBytes < this.want) return [];
    this.buf = Buffer.concat([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingBytes = 0;
    const out: BackupEvent[] = [];
    for (let e = this.next(); e; e = this.next()) out.push(e);
    return out;
  }

  /** The header, once read. */
  get headerRead(): BackupHeader | undefined {
    return this.header;
  }

  end(): void {
    if (this.pendingBytes > 0) this.push(new Uint8Array(0));
    if (this.done && this.buf.length === 0) return;
    if (this.done) throw new BackupFileError(`${this.buf.length} bytes after the trailer`, this.offset);
    const where = this.header ? `after ${this.seen.length} of ${this.header.partition_count} partitions` : "";
    throw new BackupFileError(
      `truncated: the backup ends ${where} without its trailer`.replace("  ", " "),
      this.offset,
    );
  }

  private next(): BackupEvent | undefined {
    if (this.done) {
      if (this.buf.length > 0) throw new BackupFileError(`${this.buf.length} bytes after the trailer`, this.offset);
      return undefined;
    }
    if (!this.header) {
      const body = this.json(BACKUP_MAGIC);
      if (body === undefined) return undefined;
      const h = body as BackupHeader;
      if (h.format !== BACKUP_FORMAT) {
        throw new BackupFileError(`backup format ${h.format}; this flydb reads format ${BACKUP_FORMAT}`, this.offset);
      }
      if (!Number.isInteger(h.partition_count) || h.partition_count < 1 || !Number.isInteger(h.databases)) {
        throw new BackupFileError(`header has no valid partition_count and databases: ${JSON.stringify(h)}`, 0);
      }
      this.header = h;
      return { t: "header", header: h };
    }
    if (this.buf.length < 4) return undefined;
    const tag = dec.decode(this.buf.subarray(0, 4));
    if (tag === TAG.part) return this.section();
    if (tag === TAG.fail) {
      const message = this.json(TAG.fail, true);
      if (message === undefined) return undefined;
      throw new BackupFileError(`the node writing the backup failed: ${message}`, this.offset);
    }
    if (tag === TAG.done) return this.trailer();
    throw new BackupFileError(`damaged: expected a section or the trailer, found ${JSON.stringify(tag)}`, this.offset);
  }

  private section(): BackupEvent | undefined {
    if (this.buf.length < 24) return undefined;
    const v = new DataView(this.buf.buffer, this.buf.byteOffset, 24);
    const partition = v.getUint32(4, true);
    const index = Number(v.getBigUint64(8, true));
    const length = Number(v.getBigUint64(16, true));
    if (partition !== this.seen.length || partition >= this.header!.partition_count) {
      throw new BackupFileError(
        `damaged: section for partition ${partition} where partition ${this.seen.length} of ` +
          `${this.header!.partition_count} was expected`,
        this.offset,
      );
    }
    if (this.buf.length < 24 + length) return this.needs(24 + length);
    const data = this.take(24 + length).subarray(24);
    this.seen.push({ partition, index, bytes: length });
    return { t: "section", section: { partition, index, data } };
  }

  private trailer(): BackupEvent | undefined {
    if (this.buf.length < 8) return undefined;
    const length = new DataView(this.buf.buffer, this.buf.byteOffset, 8).getUint32(4, true);
    if (this.buf.length < 8 + length + SHA256_BYTES) return this.needs(8 + length + SHA256_BYTES);
    const at = this.offset;
    const t = this.json(TAG.done) as BackupTrailer;
    const stored = this.buf.subarray(0, SHA256_BYTES);
    const digest = this.hash.digest();
    if (!digest.equals(stored)) throw new BackupFileError("damaged: the checksum does not match the contents", at);
    this.buf = this.buf.subarray(SHA256_BYTES);
    this.offset += SHA256_BYTES;
    if (
      this.seen.length !== this.header!.partition_count ||
      JSON.stringify(t.partitions) !== JSON.stringify(this.seen)
    ) {
      throw new BackupFileError(
        `damaged: the trailer lists ${t.partitions?.length} partitions, the file holds ${this.seen.length} of ` +
          `${this.header!.partition_count}`,
        at,
      );
    }
    this.done = true;
    return { t: "trailer", trailer: t };
  }

  /** A `tag | u32 length | JSON` frame (text when `raw`), or undefined until it is all here. */
  private json(tag: string, raw = false): unknown {
    const n = tag.length;
    if (this.buf.length < n + 4) return undefined;
    const found = dec.decode(this.buf.subarray(0, n));
    if (found !== tag) {
      throw new BackupFileError(`not a FlyDB backup: it starts with ${JSON.stringify(found)}, not ${tag}`, this.offset);
    }
    const length = new DataView(this.buf.buffer, this.buf.byteOffset, n + 4).getUint32(n, true);
    if (length > MAX_JSON) throw new BackupFileError(`damaged: a ${length}-byte ${tag} frame`, this.offset);
    if (this.buf.length < n + 4 + length) return this.needs(n + 4 + length);
    const at = this.offset;
    const text = dec.decode(this.take(n + 4 + length).subarray(n + 4));
    if (raw) return text;
    try {
      return JSON.parse(text);
    } catch {
      throw new BackupFileError(`damaged: the ${tag} frame is not JSON`, at);
    }
  }

  private needs(bytes: number): undefined {
    this.want = bytes;
    return undefined;
  }

  private take(n: number): Uint8Array {
    this.want = 0;
    const out = this.buf.subarray(0, n);
    this.hash.update(out);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }
}
