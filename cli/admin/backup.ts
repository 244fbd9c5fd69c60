// `flydb backup [FILE]` and `flydb restore FILE`: a running node's or cluster's data to a backup
// file (GET /backup, src/http/backup.ts; the format: src/store/backup-file.ts) and back into a
// new data dir (src/store/backup-restore.ts). `--format rdb` turns the backup into an RDB file
// redis-server loads, by way of a restore into a temporary data dir.
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { BackupDecoder, BackupFileError, type BackupHeader } from "../../src/store/backup-file.ts";
import { restoreBackup } from "../../src/store/backup-restore.ts";
import { StateDb } from "../../src/store/state.ts";
import { writeIdentity } from "../../src/node-identity.ts";
import { writeRdb } from "../../src/store/backup-rdb.ts";
import { Unreachable } from "./client.ts";
import { adminCommand, run, target, UsageError, type CommonOpts } from "./commands.ts";
import { EXIT } from "./format.ts";

const PROGRESS_MS = 200;
const CONNECT_MS = 10_000;

export interface BackupReport {
  file: string;
  format: "flydb" | "rdb";
  cluster_id: string;
  partition_count: number;
  /** Each partition's Raft index, in partition order. */
  indexes: number[];
  bytes: number;
  seconds: number;
  keys?: number;
}

/** A progress line on stderr, only on a terminal, at most every PROGRESS_MS. */
function progressLine(): { show: (text: string) => void; clear: () => void } {
  const tty = process.stderr.isTTY === true;
  let shown = 0;
  return {
    show: (text) => {
      if (!tty || performance.now() - shown < PROGRESS_MS) return;
      shown = performance.now();
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    clear: () => tty && process.stderr.write("\r\x1b[2K"),
  };
}

/**
 * GET /backup into `write`, checking the stream as it comes: throws unless it ends with an intact
 * trailer (a node that failed or a connection that dropped midway).
 */
async function download(
  o: CommonOpts,
  write: (b: Uint8Array) => void,
  progress: (text: string) => void,
): Promise<{ header: BackupHeader; indexes: number[]; bytes: number }> {
  const t = target(o);
  const url = `http://${t.http}/backup`;
  const connect = new AbortController();
  const timer = setTimeout(() => connect.abort(), CONNECT_MS);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: t.token ? { authorization: `Bearer ${t.token}` } : {},
      signal: connect.signal,
    });
  } catch (e) {
    throw new Unreachable(`GET ${url}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (res.status !== 200) {
    const hint = res.status === 401 ? " (set FLYDB_HTTP_AUTH_TOKEN or pass --token-file)" : "";
    throw new Error(`GET ${url}: HTTP ${res.status}: ${await res.text()}${hint}`);
  }
  const decoder = new BackupDecoder();
  const indexes: number[] = [];
  let bytes = 0;
  try {
    for await (const chunk of res.body!) {
      write(chunk);
      bytes += chunk.length;
      for (const e of decoder.push(chunk)) if (e.t === "section") indexes.push(e.section.index);
      const h = decoder.headerRead;
      if (h) progress(`backup: partition ${indexes.length}/${h.partition_count}, ${mb(bytes)}`);
    }
    decoder.end();
  } catch (e) {
    if (e instanceof BackupFileError) throw new Error(`GET ${url}: ${e.message}`);
    const err = e as Error & { code?: string };
    // The node went away (kill, crash) or the connection dropped: nothing short is kept.
    throw new Error(`GET ${url}: the backup stream broke after ${bytes} bytes (${err.code ?? err.message})`);
  }
  return { header: decoder.headerRead!, indexes, bytes };
}

/** "7" when every partition is at index 7, "3..41" otherwise (the full list is in --json). */
const span = (indexes: number[]) => {
  const lo = Math.min(...indexes);
  const hi = Math.max(...indexes);
  return lo === hi ? String(lo) : `${lo}..${hi}`;
};
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function rdbOf(dataDir: string, partitionCount: number, write: (b: Uint8Array) => void, now: number): number {
  const state = StateDb.open({ path: join(dataDir, "data.db"), partitionCount });
  try {
    return writeRdb(state, write, now);
  } finally {
    state.close();
  }
}

interface BackupOpts extends CommonOpts {
  format: string;
}

async function backup(file: string | undefined, o: BackupOpts): Promise<number> {
  if (o.format !== "flydb" && o.format !== "rdb") throw new UsageError(`--format: ${o.format} is not flydb or rdb`);
  const toStdout = file === undefined || file === "-";
  if (toStdout && o.format === "rdb") throw new UsageError("--format rdb writes to a FILE, not stdout");
  const started = performance.now();
  const line = progressLine();
  const scratch = o.format === "rdb" ? mkdtempSync(join(tmpdir(), "flydb-backup-")) : undefined;
  const downloaded = scratch ? join(scratch, "backup.flydb") : toStdout ? undefined : `${file}.tmp`;
  const fd = downloaded ? openSync(downloaded, "w") : 1;
  let report: BackupReport;
  try {
    let d: Awaited<ReturnType<typeof download>>;
    try {
      d = await download(o, (b) => writeSync(fd, b), line.show);
    } finally {
      if (fd !== 1) closeSync(fd);
      line.clear();
    }
    const base = { cluster_id: d.header.cluster_id, partition_count: d.header.partition_count, indexes: d.indexes };
    if (scratch) {
      // Only a complete RDB file gets the name.
      restoreBackup({ file: downloaded!, dataDir: join(scratch, "data"), identify: () => {} });
      const out = openSync(`${file}.tmp`, "w");
      let bytes = 0;
      let keys: number;
      try {
        keys = rdbOf(
          join(scratch, "data"),
          d.header.partition_count,
          (b) => {
            writeSync(out, b);
            bytes += b.length;
          },
          Date.now(),
        );
      } finally {
        closeSync(out);
      }
      renameSync(`${file}.tmp`, file!);
      report = { file: file!, format: "rdb", ...base, bytes, keys, seconds: 0 };
    } else {
      if (!toStdout) renameSync(downloaded!, file!);
      report = { file: toStdout ? "-" : file!, format: "flydb", ...base, bytes: d.bytes, seconds: 0 };
    }
  } catch (e) {
    // A failed backup leaves no file behind under either name.
    if (!toStdout) rmSync(`${file}.tmp`, { force: true });
    throw e;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  report.seconds = (performance.now() - started) / 1000;
  const say = (s: string) => (toStdout ? process.stderr : process.stdout).write(s);
  if (o.json) say(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const what = report.keys !== undefined ? `${report.keys} keys, ` : "";
    say(
      `${report.file}: ${report.partition_count} partitions at Raft indexes ${span(report.indexes)}, ` +
        `${what}${report.bytes} bytes in ${report.seconds.toFixed(2)}s\n`,
    );
  }
  return EXIT.ok;
}

export function addBackupCommands(program: Command): void {
  adminCommand(program, "backup", "write a consistent snapshot of the cluster (or standalone node) to FILE")
    .argument("[file]", "the file to write (FILE.tmp until complete); - or none: stdout")
    .option("--format <format>", "flydb (for flydb restore) or rdb (for redis-server; database 0)", "flydb")
    .action(run((file: string | undefined, o: BackupOpts) => backup(file, o)));

  program
    .command("restore")
    .description("restore a backup FILE into a new data dir (then start a node on it)")
    .argument("<file>", "a file written by flydb backup")
    .requiredOption("--data-dir <dir>", "the data dir to create (must not exist or be empty)")
    .option("--node-id <id>", "the node id to record (a cluster founder keeps it)", "node1")
    .option("--partition-count <n>", "partition_count of the restored data (default: the backup's)")
    .option("--json", "print the report as JSON")
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : EXIT.usage))
    .action(
      run(async (file: string, o: { dataDir: string; nodeId: string; partitionCount?: string; json?: boolean }) => {
        const started = performance.now();
        const line = progressLine();
        const partitionCount = o.partitionCount === undefined ? undefined : Number(o.partitionCount);
        let r: ReturnType<typeof restoreBackup>;
        try {
          r = restoreBackup({
            file,
            dataDir: o.dataDir,
            identify: (dir, partition_count) =>
              writeIdentity(dir, { node_id: o.nodeId, mode: "standalone", partition_count }),
            partitionCount,
            progress: (done, of) => line.show(`restore: partition ${done}/${of}`),
          });
        } catch (e) {
          if (e instanceof BackupFileError) throw new Error(`${file}: ${e.message}; nothing was written`);
          throw e;
        } finally {
          line.clear();
        }
        const seconds = (performance.now() - started) / 1000;
        const report = { data_dir: o.dataDir, ...r, seconds };
        process.stdout.write(
          o.json
            ? `${JSON.stringify(report, null, 2)}\n`
            : `${o.dataDir}: ${r.keys} keys from ${file} (cluster ${JSON.stringify(r.header.cluster_id)}, ` +
                `${r.header.partition_count} partitions) into ${r.partition_count} partitions in ${seconds.toFixed(2)}s\n`,
        );
        return EXIT.ok;
      }),
    );
}
