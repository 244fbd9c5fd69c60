// `flydb export-rdb FILE`: writes database 0 of a running node or cluster as an RDB file that
// redis-server 7.0 loads. Keys come from SCAN (which a cluster member runs over every partition),
// values from DUMP (already Redis's encoding: the payload body is the file's record) and expiries
// from PEXPIRETIME, pipelined one SCAN page at a time. Not a point-in-time snapshot: a key written
// while the export runs may or may not be in the file.
import { closeSync, openSync, renameSync, writeSync } from "node:fs";
import type { Command } from "commander";
import { RdbFileWriter } from "../../src/rdb/file.ts";
import { VERSION } from "../../src/version.ts";
import { run } from "./commands.ts";
import { EXIT } from "./format.ts";
import { DEFAULT_RESP, openResp, type RespConnection, RespError, type RespValue } from "./resp-client.ts";

/** FlyDB answers a SCAN page in about the same time whatever its size (a page visits every partition). */
const SCAN_COUNT = "10000";
/** A DUMP payload ends with the RDB version (2 bytes) and the CRC-64 (8 bytes). */
const DUMP_FOOTER = 10;
const PROGRESS_MS = 200;

export interface ExportReport {
  file: string;
  keys: number;
  with_expiry: number;
  bytes: number;
  seconds: number;
}

/** Writes every key `conn` can SCAN to `write`, in file order; returns what it wrote. */
export async function exportKeys(
  conn: RespConnection,
  write: (chunk: Uint8Array) => void,
  o: { now: () => number; progress?: (keys: number) => void },
): Promise<Omit<ExportReport, "file" | "seconds">> {
  const aux = new Map([
    ["redis-bits", "64"],
    ["ctime", String(Math.floor(o.now() / 1000))],
    ["flydb-ver", VERSION],
  ]);
  const w = new RdbFileWriter(aux);
  const out = { keys: 0, with_expiry: 0, bytes: 0 };
  const emit = (b: Uint8Array) => {
    write(b);
    out.bytes += b.length;
  };
  let cursor = "0";
  do {
    const page = expect(await conn.send(["SCAN", cursor, "COUNT", SCAN_COUNT]), "SCAN") as [Uint8Array, Uint8Array[]];
    cursor = new TextDecoder().decode(page[0]);
    const replies = page[1].map((key) => [key, conn.send(["DUMP", key]), conn.send(["PEXPIRETIME", key])] as const);
    for (const [key, dumpReply, expiryReply] of replies) {
      const payload = expect(await dumpReply, "DUMP");
      const at = expect(await expiryReply, "PEXPIRETIME") as number;
      // Deleted (or expired) between SCAN and DUMP: not in the file.
      if (!(payload instanceof Uint8Array) || at === -2) continue;
      w.addObject(key, payload.subarray(0, payload.length - DUMP_FOOTER), at >= 0 ? at : undefined);
      out.keys++;
      if (at >= 0) out.with_expiry++;
    }
    emit(w.take());
    o.progress?.(out.keys);
  } while (cursor !== "0");
  emit(w.end());
  return out;
}

function expect(r: RespValue, what: string): RespValue {
  if (r instanceof RespError) throw new Error(`${what}: ${r.message}`);
  return r;
}

export function addExportRdbCommand(program: Command): void {
  program
    .command("export-rdb")
    .description("write a running node's or cluster's keys as an RDB file redis-server loads")
    .argument("<file>", "the RDB file to write (written to FILE.tmp, renamed when complete)")
    .option("--resp <addr>", "host:port of any member's RESP listener", DEFAULT_RESP)
    .option("--password-file <path>", "file holding the node's requirepass (default: $FLYDB_REQUIREPASS)")
    .option("--json", "print the report as JSON")
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : EXIT.usage))
    .action(
      run(async (path: string, o: { resp: string; passwordFile?: string; json?: boolean }) => {
        const started = performance.now();
        const conn = await openResp(o);
        const tmp = `${path}.tmp`;
        let fd = openSync(tmp, "w");
        const tty = process.stderr.isTTY === true;
        let shown = 0;
        try {
          const r = await exportKeys(conn, (b) => writeSync(fd, b), {
            now: Date.now,
            progress: (keys) => {
              if (!tty || performance.now() - shown < PROGRESS_MS) return;
              shown = performance.now();
              process.stderr.write(`\r\x1b[2Kexported ${keys} keys`);
            },
          });
          closeSync(fd);
          fd = -1;
          // Only a complete file gets the name: a failed export leaves FILE.tmp, never a short FILE.
          renameSync(tmp, path);
          if (tty) process.stderr.write("\r\x1b[2K");
          const report: ExportReport = { file: path, ...r, seconds: (performance.now() - started) / 1000 };
          process.stdout.write(
            o.json
              ? `${JSON.stringify(report, null, 2)}\n`
              : `${path}: ${r.keys} keys (${r.with_expiry} with an expiry), ${r.bytes} bytes in ` +
                  `${report.seconds.toFixed(2)}s\n`,
          );
          return EXIT.ok;
        } finally {
          conn.close();
          if (fd >= 0) closeSync(fd);
        }
      }),
    );
}
