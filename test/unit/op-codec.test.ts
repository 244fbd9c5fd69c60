import { expect, test } from "bun:test";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { decodeOp, decodeProposal, encodeOp } from "../../src/store/op-codec.ts";

test("ops survive encoding byte for byte", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.integer({ min: 0, max: 2 ** 50 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (cmds, now, seed) => {
        const decoded = decodeOp(encodeOp({ cmds, now, seed }));
        expect(decoded.now).toBe(now);
        expect(decoded.seed).toBe(seed);
        expect(decoded.cmds.map((c) => c.map((a) => [...a]))).toEqual(cmds.map((c) => c.map((a) => [...a])));
        for (const c of decoded.cmds) for (const a of c) expect(a).toBeInstanceOf(Uint8Array);
      },
    ),
  );
});

test("data that is not an op is refused with its size", () => {
  expect(() => decodeOp(encodeOp({ cmds: [], now: 1, seed: 2 }).subarray(0, 1))).toThrow();
  expect(() => decodeOp(new Uint8Array([0x01]))).toThrow(/log entry of 1 bytes is not an encoded op/);
});

test("MULTI/EXEC ops keep their flag, WATCHed keys and reply shape", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ key: fc.uint8Array({ maxLength: 40 }), version: fc.nat(), existed: fc.boolean() }), {
        maxLength: 4,
      }),
      fc.boolean(),
      fc.boolean(),
      (watch, multi, resp3) => {
        const op = {
          cmds: [[new Uint8Array([0x61])]],
          now: 5,
          seed: 7,
          ...(multi ? { multi } : {}),
          ...(resp3 ? { resp3 } : {}),
          ...(watch.length ? { watch } : {}),
        };
        const decoded = decodeOp(encodeOp(op));
        expect(decoded.multi ?? false).toBe(multi);
        expect(decoded.resp3 ?? false).toBe(resp3);
        expect((decoded.watch ?? []).map((w) => [[...w.key], w.version, w.existed])).toEqual(
          watch.map((w) => [[...w.key], w.version, w.existed]),
        );
      },
    ),
  );
});

test("a cluster write keeps its proposal id; a standalone write gains no bytes", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.nat(),
      fc.nat(),
      fc.nat(),
      fc.boolean(),
      (node, session, seq, ack, multi) => {
        const op = { cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7, ...(multi ? { multi } : {}) };
        const { op: decoded, id } = decodeProposal(encodeOp(op, { node, session, seq, ack }));
        expect(id).toEqual({ node, session, seq, ack });
        expect(decoded.multi ?? false).toBe(multi);
        expect(decodeProposal(encodeOp(op)).id).toBeUndefined();
      },
    ),
  );
  const plain = { cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7 };
  expect(encodeOp(plain)).toEqual(
    new Uint8Array(new Packr({ useRecords: false, moreTypes: false }).pack([plain.cmds, plain.now, plain.seed])),
  );
});

test("encoding thresholds travel with the op, with or without a proposal id", () => {
  const limits = fc.record({
    hashEntries: fc.nat(),
    hashValue: fc.nat(),
    setIntsetEntries: fc.nat(),
    zsetEntries: fc.nat(),
    zsetValue: fc.nat(),
    streamNodeEntries: fc.nat(),
    streamNodeBytes: fc.nat(),
  });
  fc.assert(
    fc.property(limits, fc.boolean(), fc.boolean(), (encoding, withId, multi) => {
      const op = { cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7, encoding, ...(multi ? { multi } : {}) };
      const id = withId ? { node: "n1", session: 2, seq: 3, ack: 1 } : undefined;
      const decoded = decodeProposal(encodeOp(op, id));
      expect(decoded.op.encoding).toEqual(encoding);
      expect(decoded.op.multi ?? false).toBe(multi);
      expect(decoded.id).toEqual(id);
    }),
  );
  expect(decodeOp(encodeOp({ cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7 })).encoding).toBeUndefined();
  // What FlyDB wrote before streams: five thresholds, read with the stream node defaults.
  const before = new Packr({ useRecords: false, moreTypes: false }).pack([
    [[new Uint8Array([0x61])]],
    5,
    7,
    0,
    [],
    null,
    0,
    [1, 2, 3, 4, 5],
  ]);
  expect(decodeOp(before).encoding).toEqual({
    hashEntries: 1,
    hashValue: 2,
    setIntsetEntries: 3,
    zsetEntries: 4,
    zsetValue: 5,
    streamNodeEntries: 100,
    streamNodeBytes: 4096,
  });
});

test("an op keeps its database and each WATCHed key's; database 0 and logs written before databases decode alike", () => {
  fc.assert(
    fc.property(fc.nat({ max: 15 }), fc.nat({ max: 15 }), fc.boolean(), (db, watchDb, withId) => {
      const watch = [{ db: watchDb, key: new Uint8Array([0x6b]), version: 3, existed: true }];
      const op = { cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7, multi: true, db, watch };
      const id = withId ? { node: "n1", session: 1, seq: 2, ack: 0 } : undefined;
      const { op: decoded, id: decodedId } = decodeProposal(encodeOp(op, id));
      expect(decoded.db ?? 0).toBe(db);
      expect(decoded.watch![0]!.db ?? decoded.db ?? 0).toBe(watchDb);
      expect(decodedId).toEqual(id);
    }),
  );
  // What FlyDB wrote before databases existed: [cmds, now, seed] and [cmds, now, seed, flags, watch].
  const packr = new Packr({ useRecords: false, moreTypes: false });
  expect(decodeOp(packr.pack([[[new Uint8Array([0x61])]], 5, 7])).db).toBeUndefined();
  expect(
    decodeOp(packr.pack([[[new Uint8Array([0x61])]], 5, 7, 1, [[new Uint8Array([0x6b]), 3, true]]])).watch![0]!.db,
  ).toBeUndefined();
  // Database 0 adds no bytes.
  expect(encodeOp({ cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7, db: 0 })).toEqual(
    encodeOp({ cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7 }),
  );
});

test("an op carries its database and its encoding thresholds together, and keeps either alone", () => {
  const limits = fc.record({
    hashEntries: fc.nat(),
    hashValue: fc.nat(),
    setIntsetEntries: fc.nat(),
    zsetEntries: fc.nat(),
    zsetValue: fc.nat(),
    streamNodeEntries: fc.nat(),
    streamNodeBytes: fc.nat(),
  });
  fc.assert(
    fc.property(fc.nat({ max: 15 }), fc.option(limits, { nil: undefined }), fc.boolean(), (db, encoding, withId) => {
      const op = { cmds: [[new Uint8Array([0x61])]], now: 5, seed: 7, db, ...(encoding ? { encoding } : {}) };
      const id = withId ? { node: "n1", session: 1, seq: 2, ack: 0 } : undefined;
      const { op: decoded, id: decodedId } = decodeProposal(encodeOp(op, id));
      expect(decoded.db ?? 0).toBe(db);
      expect(decoded.encoding).toEqual(encoding);
      expect(decodedId).toEqual(id);
    }),
  );
  // What FlyDB wrote with databases but before thresholds: [cmds, now, seed, flags, watch, id | null, db].
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const old = decodeOp(packr.pack([[[new Uint8Array([0x61])]], 5, 7, 0, [], null, 3]));
  expect(old.db).toBe(3);
  expect(old.encoding).toBeUndefined();
});

test("an op encoded after a large one does not live in the large one's buffer", () => {
  const bytes = (t: string) => new TextEncoder().encode(t);
  const value = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 253);
  const large = encodeOp({ cmds: [[bytes("SET"), bytes("big"), value]], now: 1, seed: 2 });
  const small = encodeOp({ cmds: [[bytes("SET"), bytes("k"), bytes("v")]], now: 3, seed: 4, resp3: true });
  expect(small.buffer.byteLength).toBeLessThan(1024 * 1024);
  // Copies decode without the encoder's cache: the bytes themselves are right.
  expect(decodeOp(large.slice()).cmds[0]![2]).toEqual(value);
  expect(decodeOp(small.slice())).toEqual({
    cmds: [[bytes("SET"), bytes("k"), bytes("v")]],
    now: 3,
    seed: 4,
    resp3: true,
  });
});
