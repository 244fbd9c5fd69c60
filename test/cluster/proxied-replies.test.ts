// Replies under concurrent proxied load on a 3-node cluster of real processes: 40 connections,
// each on a member that does not lead its keys, keep several commands in flight on their own keys
// and check every reply against the one only that connection and that request could get (SET …
// GET answers the connection's previous unique value, INCR its own counter's exact count, APPEND
// its own string's exact length, a split MGET its own two values). A reply delivered to the wrong
// connection, or to the wrong request of the right one, fails the test; "+OK" would not show it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type Redis from "ioredis";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { startLoopbackCluster, type LoopbackCluster, type LoopbackMember } from "../helpers/loopback-cluster.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;
const CONNECTIONS = 40;
const ROUNDS = 25;
let c: LoopbackCluster;

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: PARTITIONS, prefix: "pr" });
  await c.settled();
});

afterAll(async () => {
  await c?.stop();
});

const partOf = (key: string) => partitionOf(keySlot(new TextEncoder().encode(key)), PARTITIONS);

/** One connection's keys: a register, a counter and a string under one tag, a second register in another partition. */
interface Conn {
  readonly i: number;
  readonly via: LoopbackMember;
  readonly redis: Redis;
  readonly k: string;
  readonly n: string;
  readonly a: string;
  readonly k2: string;
}

/**
 * Connection i's member and tags: the first tag's partition is led by another member, and so is
 * the second's (in another partition) when the leaders leave one.
 */
function placement(i: number, leaders: Map<number, LoopbackMember>): { via: LoopbackMember; tags: [string, string] } {
  const t1 = `{pr${i}}`;
  const notLeading = c.members.filter((m) => m !== leaders.get(partOf(t1)));
  const via = notLeading[i % notLeading.length]!;
  const others = Array.from({ length: 200 }, (_, t) => `{pr${i}.${t}}`).filter((t) => partOf(t) !== partOf(t1));
  return { via, tags: [t1, others.find((t) => leaders.get(partOf(t)) !== via) ?? others[0]!] };
}

describe("unique replies per connection under concurrent proxied load", () => {
  test(`${CONNECTIONS} connections through non-leading members each get exactly their own replies`, async () => {
    const leaders = new Map<number, LoopbackMember>();
    for (let p = 0; p < PARTITIONS; p++) {
      // A key of partition p, to ask who leads it.
      const key = Array.from({ length: 200 }, (_, n) => `lead-probe-${n}`).find((k) => partOf(k) === p)!;
      leaders.set(p, await c.leaderOf(key));
    }
    const conns: Conn[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const {
        via,
        tags: [t1, t2],
      } = placement(i, leaders);
      conns.push({ i, via, redis: c.connect(via), k: `${t1}k`, n: `${t1}n`, a: `${t1}a`, k2: `${t2}k2` });
    }
    // Counters start far apart, so no two connections' INCR replies can be equal.
    await Promise.all(conns.map((x) => x.redis.set(x.n, String(x.i * 1_000_000))));

    const wrong: string[] = [];
    const expectReply = (x: Conn, j: number, what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        wrong.push(
          `conn ${x.i} via ${x.via.id} round ${j} ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
        );
      }
    };
    const started = performance.now();
    await Promise.all(
      conns.map(async (x) => {
        let appended = 0;
        for (let j = 1; j <= ROUNDS; j++) {
          const piece = `c${x.i}j${j};`;
          appended += piece.length;
          // All in flight at once on the one connection, replies matched by position.
          const [prev, read, count, length, prev2, both] = await Promise.all([
            x.redis.set(x.k, `v-${x.i}-${j}`, "GET"),
            x.redis.get(x.k),
            x.redis.incr(x.n),
            x.redis.append(x.a, piece),
            x.redis.set(x.k2, `w-${x.i}-${j}`, "GET"),
            x.redis.mget(x.k, x.k2),
          ]);
          expectReply(x, j, "SET k GET", prev, j === 1 ? null : `v-${x.i}-${j - 1}`);
          expectReply(x, j, "GET k", read, `v-${x.i}-${j}`);
          expectReply(x, j, "INCR n", count, x.i * 1_000_000 + j);
          expectReply(x, j, "APPEND a", length, appended);
          expectReply(x, j, "SET k2 GET", prev2, j === 1 ? null : `w-${x.i}-${j - 1}`);
          expectReply(x, j, "MGET k k2", both, [`v-${x.i}-${j}`, `w-${x.i}-${j}`]);
        }
      }),
    );
    const ms = performance.now() - started;
    console.log(
      `${CONNECTIONS} connections × ${ROUNDS} rounds × 6 commands: ${ms.toFixed(0)} ms, ${wrong.length} wrong`,
    );
    expect(wrong.slice(0, 20)).toEqual([]);

    // What each connection wrote is what every member serves, through a fresh connection.
    for (const m of c.members) {
      const r = c.connect(m);
      const want = conns.flatMap((x) => [`v-${x.i}-${ROUNDS}`, `w-${x.i}-${ROUNDS}`, String(x.i * 1_000_000 + ROUNDS)]);
      expect(await r.mget(...conns.flatMap((x) => [x.k, x.k2, x.n]))).toEqual(want);
      for (const x of conns) {
        expect(await r.get(x.a)).toBe(Array.from({ length: ROUNDS }, (_, j) => `c${x.i}j${j + 1};`).join(""));
      }
    }
  });
});
