// The pure parts of blocking pops (src/commands/blocking.ts): the registry's wake order and
// bookkeeping, Redis's timeout parsing, and the push that returns a pop for a closed connection.
import { describe, expect, test } from "bun:test";
import { BlockingRegistry, parseTimeout, pushBack, type Waiter } from "../../src/commands/blocking.ts";
import { array, bulk, double, err } from "../../src/resp/reply.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (xs: readonly Uint8Array[] | undefined) => xs?.map((x) => new TextDecoder().decode(x));

function waiter(log: string[], name: string, keys: string[], db = 0): Waiter {
  return {
    clientId: name.charCodeAt(0),
    db,
    keys,
    wake: () => {
      log.push(`wake ${name}`);
      return undefined;
    },
    unblock: (e) => log.push(`unblock ${name} ${e}`),
  };
}

describe("BlockingRegistry", () => {
  test("a write wakes the clients blocked on its keys in the order they blocked, each once", () => {
    const log: string[] = [];
    const r = new BlockingRegistry();
    const a = waiter(log, "a", ["k2"]);
    const b = waiter(log, "b", ["k1", "k2"]);
    const c = waiter(log, "c", ["k1"]);
    const other = waiter(log, "d", ["k1"], 1);
    for (const w of [a, b, c, other]) r.add(w);
    r.touched(0, ["k1", "k2"]);
    expect(log).toEqual(["wake a", "wake b", "wake c"]);
    r.remove(b);
    log.length = 0;
    r.touched(0, ["k1"]);
    expect(log).toEqual(["wake c"]);
    expect(r.size).toBe(3);
  });

  test("behind a waiter whose previous try is in flight, later waiters retry only after its retry", async () => {
    const log: string[] = [];
    const r = new BlockingRegistry();
    let settle = () => {};
    const inFlight = new Promise<void>((res) => (settle = res));
    const a: Waiter = {
      ...waiter(log, "a", ["k"]),
      wake: () => {
        log.push("wake a (in flight)");
        return inFlight.then(() => void log.push("a retries"));
      },
    };
    const b = waiter(log, "b", ["k"]);
    const c = waiter(log, "c", ["k"]);
    for (const w of [a, b, c]) r.add(w);
    r.remove(c);
    r.touched(0, ["k"]);
    expect(log).toEqual(["wake a (in flight)"]);
    settle();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    // c left while b waited behind a: it is not woken.
    expect(log).toEqual(["wake a (in flight)", "a retries", "wake b"]);
  });

  test("CLIENT UNBLOCK reaches only a blocked client", () => {
    const log: string[] = [];
    const r = new BlockingRegistry();
    const a = waiter(log, "a", ["k"]);
    r.add(a);
    expect(r.unblock(a.clientId, true)).toBe(true);
    expect(r.unblock(12345, false)).toBe(false);
    expect(log).toEqual(["unblock a true"]);
  });
});

describe("parseTimeout", () => {
  const t = (name: string, ...argv: string[]) => parseTimeout(name, argv.map(enc));
  test("seconds with fractions, truncated to milliseconds; Redis's errors", () => {
    expect(t("blpop", "blpop", "k", "0.0105")).toBe(10);
    expect(t("blpop", "blpop", "k", "0")).toBe(0);
    expect(t("blmpop", "blmpop", "2.5", "1", "k", "left")).toBe(2500);
    expect(t("blpop", "blpop", "k", "-0.5")).toEqual(err("ERR timeout is negative"));
    expect(t("blpop", "blpop", "k", "x")).toEqual(err("ERR timeout is not a float or out of range"));
    expect(t("bzpopmin", "bzpopmin", "k", "inf")).toEqual(err("ERR timeout is negative"));
    expect(t("bzpopmin", "bzpopmin", "k", "1e400")).toEqual(err("ERR timeout is negative"));
  });
});

describe("pushBack", () => {
  test("undoes each pop where it came from", () => {
    const [k, a, b] = ["k", "a", "b"].map(enc) as [Uint8Array, Uint8Array, Uint8Array];
    expect(dec(pushBack("blpop", [], array([bulk(k), bulk(a)])))).toEqual(["lpush", "k", "a"]);
    expect(dec(pushBack("brpop", [], array([bulk(k), bulk(a)])))).toEqual(["rpush", "k", "a"]);
    const lmpop = array([bulk(k), array([bulk(a), bulk(b)])]);
    expect(dec(pushBack("blmpop", ["blmpop", "0", "1", "k", "LEFT"].map(enc), lmpop))).toEqual([
      "lpush",
      "k",
      "b",
      "a",
    ]);
    expect(dec(pushBack("bzpopmax", [], array([bulk(k), bulk(a), double(1.5)])))).toEqual(["zadd", "k", "1.5", "a"]);
    const zmpop = array([bulk(k), array([array([bulk(a), bulk("2")]), array([bulk(b), double(3)])])]);
    expect(dec(pushBack("bzmpop", [], zmpop))).toEqual(["zadd", "k", "2", "a", "3", "b"]);
    expect(pushBack("blmove", [], bulk(a))).toBeUndefined();
  });
});
