// `flydb restore`: a backup file (backup-file.ts) into a new standalone data dir, which then runs
// as a standalone node or founds a cluster with --bootstrap (src/cluster/grow.ts). The data dir
// is built under a temporary name and renamed into place only once the whole file was read and its
// trailer and checksum verified, so a damaged or truncated file leaves nothing behind.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  rmdirSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { BackupDecoder, type BackupEvent, type BackupHeader } from "./backup-file.ts";
import { STANDALONE_PART, writeLibraries } from "./function-libraries.ts";
import { addRepartitioned } from "./partition-snapshot.ts";
import { StateDb } from "./state.ts";

const CHUNK = 4 * 1024 * 1024;

export interface RestoreOptions {
  readonly file: string;
  readonly dataDir: string;
  /** Writes the data dir's flydb-node.json (src/node-identity.ts) into `dir` before it is renamed into place. */
  readonly identify: (dir: string, partitionCount: number) => void;
  /** Defaults to the backup's. */
  readonly partitionCount?: number;
  /** Defaults to the backup's; fewer than the backup holds rows of is refused. */
  readonly databases?: number;
  /** Called after each partition is written. */
  readonly progress?: (done: number, of: number) => void;
}

export interface RestoreReport {
  readonly header: BackupHeader;
  readonly partition_count: number;
  readonly keys: number;
  readonly bytes: number;
}

/** Reads every event of the file, throwing BackupFileError at the first flaw (a truncated file included). */
export function readBackup(file: string, each: (e: BackupEvent) => void): number {
  const fd = openSync(file, "r");
  const decoder = new BackupDecoder();
  let bytes = 0;
  try {
    for (;;) {
      const chunk = new Uint8Array(CHUNK);
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      bytes += n;
      for (const e of decoder.push(chunk.subarray(0, n))) each(e);
    }
    decoder.end();
    return bytes;
  } finally {
    closeSync(fd);
  }
}

export function restoreBackup(o: RestoreOptions): RestoreReport {
  if (existsSync(o.dataDir) && readdirSync(o.dataDir).length > 0) {
    throw new Error(`data_dir ${o.dataDir} is not empty: restore writes only into a new data dir`);
  }
  const tmp = join(dirname(o.dataDir), `.${basename(o.dataDir)}.restoring-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  let header: BackupHeader | undefined;
  let state: StateDb | undefined;
  let partitionCount = 0;
  let keys = 0;
  let bytes = 0;
  try {
    let libraries: Uint8Array | undefined;
    bytes = readBackup(o.file, (e) => {
      if (e.t === "header") {
        header = e.header;
        partitionCount = o.partitionCount ?? e.header.partition_count;
        const databases = o.databases ?? e.header.databases;
        if (databases < e.header.databases) {
          throw new Error(
            `the backup holds ${e.header.databases} databases; restoring into databases = ${databases} would drop some`,
          );
        }
        state = StateDb.open({ path: join(tmp, "data.db"), partitionCount, databases, exclusive: true });
        state.db.run("BEGIN");
      } else if (e.t === "section") {
        const carried = addRepartitioned(state!, e.section.data, partitionCount);
        libraries ??= carried;
        o.progress?.(e.section.partition + 1, header!.partition_count);
      }
    });
    // A cluster keeps one copy of the libraries per partition, a standalone store one for all.
    writeLibraries(state!.db, STANDALONE_PART, libraries);
    keys = state!.db.query<{ n: number }, []>("SELECT count(*) AS n FROM keys").get()!.n;
    state!.db.run("COMMIT");
    state!.close();
    state = undefined;
    o.identify(tmp, partitionCount);
    if (existsSync(o.dataDir)) rmdirSync(o.dataDir);
    renameSync(tmp, o.dataDir);
  } catch (e) {
    state?.close();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { header: header!, partition_count: partitionCount, keys, bytes };
}
