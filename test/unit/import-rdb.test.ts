// import-rdb's sending loop (cli/admin/import-rdb.ts) against a scripted RESP server on loopback:
// expired keys are skipped and counted, no more than the window is in flight, and the first refused
// key stops the import with the key, its offset and how many keys were imported.
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { importRecords } from "../../cli/admin/import-rdb.ts";
import { RespConnection } from "../../cli/admin/resp-client.ts";
import { parseRdbFile, RdbFileWriter } from "../../src/rdb/file.ts";

const NOW = 1_800_000_000_000;
const enc = (s: string) => new TextEncoder().encode(s);

function file(keys: { key: string; expireAtMs?: number }[]) {
  const w = new RdbFileWriter(new Map());
  for (const k of keys)
    w.add({ key: enc(k.key), value: { type: "string", value: enc("v") }, expireAtMs: k.expireAtMs });
  return parseRdbFile(Buffer.concat([w.take(), w.end()]));
}

let server: TCPSocketListener<undefined> | undefined;
afterEach(() => server?.stop(true));

/** Answers +OK to everything but a RESTORE of `refuse`; records each RESTORE's key and TTL. */
function scripted(refuse?: string) {
  const seen: string[] = [];
  server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s: Socket<undefined>, chunk: Buffer) {
        // Each command's argv starts with "*"; a RESTORE's key and TTL are its second and third arguments.
        const text = chunk.toString("latin1");
        const commands = text.split(/\*(?=\d+\r\n\$)/).filter((c) => c.length > 0);
        const replies = commands.map((c) => {
          const args = c.split("\r\n").filter((_, i) => i % 2 === 0 && i > 0);
          if (args[0] === "RESTORE") seen.push(`${args[1]} ${args[2]}`);
          return args[0] === "RESTORE" && args[1] === refuse ? "-ERR refused\r\n" : "+OK\r\n";
        });
        s.write(replies.join(""));
      },
    },
  });
  return { port: server.port, seen };
}

describe("import-rdb sending", () => {
  test("expired keys are skipped and counted; live ones keep their expiry", async () => {
    const srv = scripted();
    const conn = await RespConnection.open("127.0.0.1", srv.port, 1000);
    const f = file([{ key: "old", expireAtMs: NOW - 1 }, { key: "live", expireAtMs: NOW + 1000 }, { key: "forever" }]);
    const r = await importRecords(f, conn, { window: 2, now: () => NOW });
    conn.close();
    expect(r).toMatchObject({ imported: 2, expired_skipped: 1, keys_in_file: 3 });
    expect(srv.seen).toEqual([`live ${NOW + 1000}`, "forever 0"]);
  });

  test("the first refused key stops the import and is named with its offset", async () => {
    const srv = scripted("k5");
    const conn = await RespConnection.open("127.0.0.1", srv.port, 1000);
    const f = file(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}` })));
    const r = await importRecords(f, conn, { window: 4, now: () => NOW });
    conn.close();
    const k5 = f.records[5]!;
    expect(r.failed).toEqual({ key: "k5", offset: k5.offset, error: "ERR refused" });
    // Those in flight with k5 still count; at most a window more was sent after it.
    expect(r.imported).toBe(srv.seen.length - 1);
    expect(srv.seen.length).toBeLessThanOrEqual(6 + 4);
  });
});
