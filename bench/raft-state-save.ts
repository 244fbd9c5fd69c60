// Cost of one Raft save (one entry and the hard state, as a busy group writes each turn) on a
// group whose compaction stored a snapshot of SIZE bytes in raft.db, for a SqliteRaftStorage
// module: the current one, or an older one written out next to it for an A/B, e.g.
//   git show ddeae70:src/store/raft-log.ts > src/store/raft-log-old.tmp.ts
//   npx bun bench/raft-state-save.ts src/store/raft-log-old.tmp.ts 2097152   (then remove the file)
//
//   npx bun bench/raft-state-save.ts [MODULE=src/store/raft-log.ts] [SIZE=2097152] [SAVES=300]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { SqliteRaftStorage } from "../src/store/raft-log.ts";
import { EntryKind } from "../src/raft/types.ts";

const [moduleArg, sizeArg, savesArg] = process.argv.slice(2);
const mod = (await import(resolve(moduleArg ?? "src/store/raft-log.ts"))) as {
  SqliteRaftStorage: typeof SqliteRaftStorage;
};
const SIZE = Number(sizeArg ?? 2_097_152);
const SAVES = Number(savesArg ?? 300);
const dir = mkdtempSync(join(tmpdir(), "flydb-raft-state-"));
const s = new mod.SqliteRaftStorage(join(dir, "raft.db"), { fsync: "never" });
const conf = { voters: ["a"], learners: [] };
const snapshot = { meta: { index: 100, term: 1, conf }, data: new Uint8Array(SIZE).map((_, i) => i * 7) };
s.saveBatch([{ grp: 1, snapshot, hardState: { term: 1, vote: "a", commit: 100_000 } }]);
s.db.exec("PRAGMA wal_autocheckpoint = 0");
s.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const data = new Uint8Array(60);
const started = performance.now();
for (let i = 0; i < SAVES; i++) {
  const entries = [{ index: 101 + i, term: 1, kind: EntryKind.Normal, data }];
  s.saveBatch([{ grp: 1, entries, hardState: { term: 1, vote: "a", commit: 100_001 + i } }]);
}
const us = ((performance.now() - started) * 1000) / SAVES;
const frames = s.db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!.log / SAVES;
console.log(`snapshot ${SIZE} B: ${us.toFixed(1)} µs per save, ${frames.toFixed(2)} WAL frames per save`);
s.close();
rmSync(dir, { recursive: true, force: true });
