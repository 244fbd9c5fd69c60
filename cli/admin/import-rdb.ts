// `flydb import-rdb FILE`: loads a Redis RDB file into a running node or cluster through the normal
// write path. The whole file is read and checked first (every value decodes, the checksum matches),
// so a damaged file imports nothing; then each key goes out as RESTORE key <abs ms> <payload> ABSTTL
// REPLACE over RESP, pipelined with a bounded number of commands in flight. Any member accepts them:
// it proxies each write to its partition's leader.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { crc64Bytes } from "../../src/rdb/crc64.ts";
import { parseRdbFile, RdbFileError, type RdbFile, type RdbRecord } from "../../src/rdb/file.ts";
import { byteText } from "../../src/rdb/text.ts";
import { EXIT } from "./format.ts";
import { run, UsageError } from "./commands.ts";
import { DEFAULT_RESP, openResp, type RespConnection, RespError, respAddress } from "./resp-client.ts";

const PROGRESS_MS = 200;

export interface ImportReport {
  file: string;
  rdb_version: number;
  checksum: RdbFile["checksum"];
  keys_in_file: number;
  imported: number;
  /** Keys whose expiry had passed when the import reached them: Redis drops those on load too. */
  expired_skipped: number;
  /** Function libraries loaded with FUNCTION LOAD REPLACE (before the keys, as Redis loads them). */
  functions: number;
  databases: number[];
  seconds: number;
  /** The first command the node refused; the import stopped there. */
  failed?: { key: string; offset: number; error: string };
}

/** The DUMP payload of a record: its object bytes, the file's RDB version and their CRC-64. */
export function restorePayload(rec: RdbRecord, version: number): Uint8Array {
  const out = new Uint8Array(rec.object.length + 10);
  out.set(rec.object);
  out[rec.object.length] = version & 0xff;
  out[rec.object.length + 1] = version >> 8;
  out.set(crc64Bytes(out.subarray(0, rec.object.length + 2)), rec.object.length + 2);
  return out;
}

/**
 * Sends every live key of the file over `conn`, at most `window` commands in flight; stops at the
 * first refused command (after the ones already in flight settle) and says so in the report.
 */
export async function importRecords(
  file: RdbFile,
  conn: RespConnection,
  o: { window: number; now: () => number; progress?: (done: number, total: number) => void },
): Promise<Omit<ImportReport, "file" | "seconds">> {
  const databases = [...new Set(file.records.map((r) => r.db))].sort((a, b) => a - b);
  const report: Omit<ImportReport, "file" | "seconds"> = {
    rdb_version: file.version,
    checksum: file.checksum,
    keys_in_file: file.records.length,
    imported: 0,
    expired_skipped: 0,
    functions: 0,
    databases,
  };
  // A database the node cannot select fails here, before any key is written.
  for (const db of databases) {
    const r = await conn.send(["SELECT", String(db)]);
    if (r instanceof RespError) {
      const n = file.records.filter((x) => x.db === db).length;
      throw new Error(`the file has ${n} keys in database ${db}, which the node refuses: ${r.message}`);
    }
  }
  for (const code of file.functions) {
    const r = await conn.send(["FUNCTION", "LOAD", "REPLACE", code]);
    const name = byteText(code).split("\n")[0];
    if (r instanceof RespError) throw new Error(`FUNCTION LOAD of library ${JSON.stringify(name)}: ${r.message}`);
    report.functions++;
  }
  let db = -1;
  const inFlight: Promise<void>[] = [];
  let head = 0;
  let failed: ImportReport["failed"];
  for (const rec of file.records) {
    if (failed) break;
    if (rec.expireAtMs !== undefined && rec.expireAtMs <= o.now()) {
      report.expired_skipped++;
      continue;
    }
    if (rec.db !== db) {
      db = rec.db;
      inFlight.push(expectOk(conn.send(["SELECT", String(db)]), rec, (f) => (failed ??= f)).then(() => {}));
    }
    const ttl = rec.expireAtMs === undefined ? "0" : String(rec.expireAtMs);
    const sent = conn.send(["RESTORE", rec.key, ttl, restorePayload(rec, file.version), "ABSTTL", "REPLACE"]);
    inFlight.push(
      expectOk(sent, rec, (f) => (failed ??= f)).then((ok) => {
        if (ok) report.imported++;
      }),
    );
    if (inFlight.length - head >= o.window) {
      await inFlight[head++];
      o.progress?.(report.imported, file.records.length);
    }
  }
  await Promise.all(inFlight.slice(head));
  o.progress?.(report.imported, file.records.length);
  return failed ? { ...report, failed } : report;
}

function expectOk(
  reply: Promise<unknown>,
  rec: RdbRecord,
  fail: (f: NonNullable<ImportReport["failed"]>) => void,
): Promise<boolean> {
  return reply.then(
    (r) => {
      if (!(r instanceof RespError)) return true;
      fail({ key: byteText(rec.key), offset: rec.offset, error: r.message });
      return false;
    },
    (e: Error) => {
      fail({ key: byteText(rec.key), offset: rec.offset, error: e.message });
      return false;
    },
  );
}

export function addImportRdbCommand(program: Command): void {
  program
    .command("import-rdb")
    .description("load a Redis RDB file (dump.rdb) into a running node or cluster")
    .argument("<file>", "the RDB file (Redis 6.x or 7.0)")
    .option("--resp <addr>", "host:port of any member's RESP listener", DEFAULT_RESP)
    .option("--password-file <path>", "file holding the node's requirepass (default: $FLYDB_REQUIREPASS)")
    .option("--pipeline <n>", "commands in flight at once", "256")
    .option("--json", "print the report as JSON")
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : EXIT.usage))
    .action(
      run(async (path: string, o: { resp: string; passwordFile?: string; pipeline: string; json?: boolean }) => {
        const window = Number(o.pipeline);
        if (!Number.isInteger(window) || window < 1) throw new UsageError(`--pipeline: ${o.pipeline} is not a count`);
        respAddress(o);
        const started = performance.now();
        let file: RdbFile;
        try {
          file = parseRdbFile(new Uint8Array(readFileSync(path)));
        } catch (e) {
          const why = e instanceof RdbFileError ? e.message : (e as Error).message;
          process.stderr.write(`flydb: import-rdb ${path}: ${why}; nothing was imported\n`);
          return EXIT.failed;
        }
        const conn = await openResp(o);
        try {
          const tty = process.stderr.isTTY === true;
          let shown = 0;
          const progress = (done: number, total: number) => {
            if (!tty || performance.now() - shown < PROGRESS_MS) return;
            shown = performance.now();
            process.stderr.write(`\r\x1b[2Kimported ${done}/${total} keys (${Math.floor((100 * done) / total)}%)`);
          };
          const r = await importRecords(file, conn, { window, now: Date.now, progress });
          if (tty) process.stderr.write("\r\x1b[2K");
          const report: ImportReport = { file: path, ...r, seconds: (performance.now() - started) / 1000 };
          process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatImport(report));
          if (report.failed) {
            const f = report.failed;
            process.stderr.write(
              `flydb: import-rdb stopped at key ${JSON.stringify(f.key)} (offset ${f.offset}): ${f.error}; ` +
                `${report.imported} keys were imported before it\n`,
            );
            return EXIT.failed;
          }
          return EXIT.ok;
        } finally {
          conn.close();
        }
      }),
    );
}

export function formatImport(r: ImportReport): string {
  const lines = [
    `${r.file}: RDB version ${r.rdb_version}, checksum ${r.checksum}, ${r.keys_in_file} keys`,
    `imported ${r.imported} keys in ${r.seconds.toFixed(2)}s`,
  ];
  if (r.expired_skipped > 0) lines.push(`skipped ${r.expired_skipped} keys already expired`);
  if (r.functions > 0) lines.push(`loaded ${r.functions} function libraries`);
  return `${lines.join("\n")}\n`;
}
