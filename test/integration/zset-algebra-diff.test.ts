// Differential test of the sorted-set algebra (ZUNION, ZINTER, ZDIFF, their STORE forms,
// ZINTERCARD, ZMPOP) against a real redis-server 7.0: scripted edge cases (inf and NaN rules,
// sets as inputs, argument errors, RESP3 shapes) and random command sequences over a few keys.
import { describe, test } from "bun:test";
import fc from "fast-check";
import { compareSequence, useDiffServers } from "../helpers/diff-servers.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

type Cmd = string[];

const SETUP: Cmd[] = [
  ["ZADD", "a", "1", "x", "2", "y", "3", "z", "-1", "m"],
  ["ZADD", "b", "4", "y", "5", "z", "6", "w", "0.5", "m"],
  ["SADD", "s", "y", "q", "m"],
  ["SADD", "n", "1", "2", "3"],
  ["ZADD", "pinf", "+inf", "x", "inf", "y"],
  ["ZADD", "ninf", "-inf", "x", "-inf", "y", "1", "z"],
  ["ZADD", "big", "1", "x", "inf", "y", "3", "z", "4", "q"],
  ["SET", "str", "v"],
];

const CASES: Cmd[] = [
  ["ZUNION", "2", "a", "b", "WITHSCORES"],
  ["ZUNION", "3", "a", "b", "s", "WEIGHTS", "1", "2", "3", "AGGREGATE", "MAX", "WITHSCORES"],
  ["ZUNION", "2", "a", "b", "AGGREGATE", "MIN"],
  ["ZINTER", "2", "a", "b", "WITHSCORES"],
  ["ZINTER", "3", "a", "b", "s", "WITHSCORES", "AGGREGATE", "MIN"],
  ["ZINTER", "2", "a", "a", "WEIGHTS", "2", "3", "WITHSCORES"],
  ["ZDIFF", "2", "a", "b", "WITHSCORES"],
  ["ZDIFF", "2", "a", "a"],
  ["ZDIFF", "1", "s", "WITHSCORES"],
  ["ZDIFF", "2", "n", "nokey", "WITHSCORES"],
  ["ZUNION", "1", "nokey"],
  // inf + -inf is 0 in a SUM; inf * 0 is 0 in a weight; MIN/MAX ignore NaN.
  ["ZUNION", "2", "pinf", "ninf", "WITHSCORES"],
  ["ZINTER", "2", "pinf", "ninf", "WITHSCORES"],
  ["ZINTER", "2", "pinf", "ninf", "AGGREGATE", "MAX", "WITHSCORES"],
  ["ZUNION", "2", "pinf", "a", "WEIGHTS", "0", "1", "WITHSCORES"],
  ["ZINTER", "2", "a", "pinf", "WEIGHTS", "1", "0", "WITHSCORES"],
  ["ZINTER", "2", "a", "pinf", "WEIGHTS", "1", "0", "AGGREGATE", "MIN", "WITHSCORES"],
  ["ZUNION", "2", "a", "b", "WEIGHTS", "inf", "-inf", "WITHSCORES"],
  // The smallest input is walked first: only its weighted NaN becomes 0, a later one reaches the aggregate.
  ["ZINTER", "2", "big", "pinf", "WEIGHTS", "0", "1", "AGGREGATE", "MIN", "WITHSCORES"],
  ["ZINTER", "2", "big", "pinf", "WEIGHTS", "0", "1", "AGGREGATE", "MAX", "WITHSCORES"],
  ["ZINTER", "2", "big", "pinf", "WEIGHTS", "0", "1", "WITHSCORES"],
  // DBL_MAX written out: a score longer than 128 bytes is parsed whole.
  ["ZADD", "big", `1${"7".repeat(308)}.5`, "huge"],
  ["ZUNION", "2", "big", "a", "WITHSCORES"],
  ["ZINTERCARD", "2", "a", "b"],
  ["ZINTERCARD", "3", "a", "b", "s", "LIMIT", "1"],
  ["ZINTERCARD", "2", "a", "b", "LIMIT", "0"],
  ["ZINTERCARD", "1", "nokey"],
  ["ZUNIONSTORE", "d", "2", "a", "s", "WEIGHTS", "2", "1"],
  ["ZRANGE", "d", "0", "-1", "WITHSCORES"],
  ["OBJECT", "ENCODING", "d"],
  ["ZINTERSTORE", "d", "2", "a", "b", "AGGREGATE", "MAX"],
  ["ZRANGE", "d", "0", "-1", "WITHSCORES"],
  ["ZDIFFSTORE", "a", "2", "a", "b"],
  ["ZRANGE", "a", "0", "-1", "WITHSCORES"],
  ["SET", "d2", "x"],
  ["EXPIRE", "d2", "100"],
  ["ZINTERSTORE", "d2", "2", "a", "nokey"],
  ["EXISTS", "d2"],
  ["ZMPOP", "3", "nokey", "b", "a", "MAX", "COUNT", "2"],
  ["ZMPOP", "1", "b", "MIN", "COUNT", "10"],
  ["EXISTS", "b"],
  ["ZMPOP", "2", "nokey", "b", "MIN"],
  ["ZMPOP", "2", "str", "a", "MIN"],
  ["ZMPOP", "2", "a", "str", "MIN"],
  // Errors, in Redis's order: numkeys, key types, then options.
  ["ZUNION", "x", "a"],
  ["ZUNION", "0", "a"],
  ["ZUNION", "-1", "a"],
  ["ZUNIONSTORE", "d", "0", "a"],
  ["ZDIFFSTORE", "d", "0", "a"],
  ["ZINTERCARD", "0", "a"],
  ["ZUNION", "3", "a", "b"],
  ["ZUNION", "2", "a", "str"],
  ["ZUNION", "2", "a", "str", "BADOPT"],
  ["ZUNION", "2", "a", "b", "WEIGHTS", "1"],
  ["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"],
  ["ZUNION", "2", "a", "b", "WEIGHTS", "1", "nan"],
  ["ZUNION", "2", "a", "b", "AGGREGATE", "AVG"],
  ["ZUNION", "2", "a", "b", "AGGREGATE"],
  ["ZUNION", "1", "a", "WITHSCORES", "WITHSCORES"],
  ["ZUNIONSTORE", "d", "1", "a", "WITHSCORES"],
  ["ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"],
  ["ZDIFF", "1", "a", "AGGREGATE", "SUM"],
  ["ZINTERCARD", "1", "a", "WITHSCORES"],
  ["ZINTERCARD", "1", "a", "LIMIT", "-1"],
  ["ZINTERCARD", "1", "a", "LIMIT", "x"],
  ["ZINTERCARD", "1", "a", "LIMIT"],
  ["ZINTERCARD", "1", "a", "WEIGHTS", "1"],
  ["ZMPOP", "0", "a", "MIN"],
  ["ZMPOP", "x", "a", "MIN"],
  ["ZMPOP", "2", "a", "MIN"],
  ["ZMPOP", "1", "a", "LEFT"],
  ["ZMPOP", "1", "a", "MIN", "COUNT", "0"],
  ["ZMPOP", "1", "a", "MIN", "COUNT", "-1"],
  ["ZMPOP", "1", "a", "MIN", "COUNT"],
  ["ZMPOP", "1", "a", "MIN", "COUNT", "1", "COUNT", "1"],
  ["ZMPOP", "1", "a", "MIN", "FOO"],
  ["ZMPOP", "99999999999999999999", "a", "MIN"],
  ["ZMPOP", "1", "a"],
  ["ZUNION", "1"],
  ["ZUNIONSTORE", "d", "1"],
  ["COMMAND", "GETKEYS", "ZUNION", "2", "a", "b", "WITHSCORES"],
  ["COMMAND", "GETKEYS", "ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
  ["COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN"],
];

describe("the sorted-set algebra answers like redis-server 7.0", () => {
  test("edge cases and errors, RESP2", async () => {
    await compareSequence(servers, [...SETUP, ...CASES]);
  });
  test("edge cases and errors, RESP3", async () => {
    await compareSequence(resp3, [...SETUP, ...CASES]);
  });

  const c = fc.constantFrom;
  const key = c("k1", "k2", "k3", "s1");
  const member = c("a", "b", "c", "d", "1", "10", "b\x00", "\xff");
  const score = c("0", "1", "2", "-1", "1.5", "inf", "-inf", "0.1");
  const weight = c("1", "2", "0", "-1", "0.5", "inf");
  const keys = fc.array(key, { minLength: 1, maxLength: 3 });
  const withOpts = (k: string[], extra: fc.Arbitrary<string[]>) => extra.map((e) => [String(k.length), ...k, ...e]);
  const opts = (k: string[]) =>
    fc
      .tuple(
        fc.option(fc.array(weight, { minLength: k.length, maxLength: k.length }), { nil: undefined }),
        fc.option(c("SUM", "MIN", "MAX"), { nil: undefined }),
      )
      .map(([w, a]) => [...(w ? ["WEIGHTS", ...w] : []), ...(a ? ["AGGREGATE", a] : [])]);
  const pairs = fc.array(fc.tuple(score, member), { minLength: 1, maxLength: 4 });
  const combine = keys.chain((k) => withOpts(k, opts(k)));
  const command: fc.Arbitrary<Cmd> = fc.oneof(
    { arbitrary: fc.tuple(key, pairs).map(([k, p]) => ["ZADD", k, ...p.flat()]), weight: 4 },
    { arbitrary: fc.array(member, { minLength: 1, maxLength: 3 }).map((m) => ["SADD", "s1", ...m]), weight: 1 },
    { arbitrary: fc.tuple(c("ZUNION", "ZINTER"), combine).map(([n, a]) => [n, ...a, "WITHSCORES"]), weight: 3 },
    { arbitrary: keys.map((k) => ["ZDIFF", String(k.length), ...k, "WITHSCORES"]), weight: 2 },
    { arbitrary: fc.tuple(c("ZUNIONSTORE", "ZINTERSTORE"), key, combine).map(([n, d, a]) => [n, d, ...a]), weight: 2 },
    { arbitrary: fc.tuple(key, keys).map(([d, k]) => ["ZDIFFSTORE", d, String(k.length), ...k]), weight: 1 },
    {
      arbitrary: fc.tuple(keys, c("0", "1", "2")).map(([k, l]) => ["ZINTERCARD", String(k.length), ...k, "LIMIT", l]),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(keys, c("MIN", "MAX"), c("1", "2", "5"))
        .map(([k, w, n]) => ["ZMPOP", String(k.length), ...k, w, "COUNT", n]),
      weight: 1,
    },
    { arbitrary: key.map((k) => ["ZRANGE", k, "0", "-1", "WITHSCORES"]), weight: 1 },
  );
  const sequences = fc.array(command, { minLength: 5, maxLength: 30 });
  const RUNS = Number(process.env.TYPES_DIFF_RUNS ?? 40);
  test("random sequences", async () => {
    await fc.assert(
      fc.asyncProperty(sequences, (cmds) => compareSequence(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);
  test("random sequences, RESP3", async () => {
    await fc.assert(
      fc.asyncProperty(sequences, (cmds) => compareSequence(resp3, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);
});
