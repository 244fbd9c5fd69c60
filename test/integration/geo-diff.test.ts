// Differential test of the GEO commands: fixed data (cities, points at the latitude limits and
// on the antimeridian, a seeded cloud large enough for the skiplist encoding) goes to FlyDB and
// a real redis-server 7.0, and every reply must be identical in RESP2 and RESP3: stored scores,
// coordinates (17 decimals), distances (4 decimals), geohashes, and the order of unsorted and
// ANY searches, which follows the cells Redis reads.
import { describe, expect, test } from "bun:test";
import { useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import type { Wire } from "../helpers/resp-client.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

type Point = readonly [long: number, lat: number, name: string];

const CITIES: Point[] = [
  [13.361389, 38.115556, "Palermo"],
  [15.087269, 37.502669, "Catania"],
  [2.3522, 48.8566, "Paris"],
  [-0.1276, 51.5072, "London"],
  [13.405, 52.52, "Berlin"],
  [12.4964, 41.9028, "Rome"],
  [-3.7038, 40.4168, "Madrid"],
  [-74.006, 40.7128, "NewYork"],
  [-118.2437, 34.0522, "LosAngeles"],
  [139.6917, 35.6895, "Tokyo"],
  [151.2093, -33.8688, "Sydney"],
  [-43.1729, -22.9068, "Rio"],
  [18.4241, -33.9249, "CapeTown"],
  [37.6173, 55.7558, "Moscow"],
  [77.209, 28.6139, "Delhi"],
  [-149.9003, 61.2181, "Anchorage"],
  [174.7633, -36.8485, "Auckland"],
  [-171.7514, -13.8333, "Apia"],
  [179.2, -16.5, "Labasa"],
  [-179.9, 51.3, "Adak"],
  [-68.3, -54.8, "Ushuaia"],
  [15.6356, 78.2232, "Longyearbyen"],
];
const EDGES: Point[] = [
  [180, 85.05112878, "ne-corner"],
  [-180, -85.05112878, "sw-corner"],
  [180, -85.05112878, "se-corner"],
  [-180, 85.05112878, "nw-corner"],
  [0, 0, "origin"],
  [179.9999, 0.5, "east-edge"],
  [-179.9999, 0.5, "west-edge"],
  [0.0001, 84.9, "near-north"],
  [45, -84.99, "near-south"],
  [-0.000001, -0.000001, "tiny-neg"],
  [120, 80.5, "arctic"],
  [-60, -70.25, "antarctic"],
];

/** A seeded cloud around Europe, deterministic so both servers get the same points. */
function cloud(n: number): Point[] {
  let s = 12345;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, (_, i) => [-10 + next() * 40, 35 + next() * 25, `p${i}`] as const);
}
const CLOUD = cloud(400);

const addArgs = (key: string, pts: readonly Point[]) => [
  "GEOADD",
  key,
  ...pts.flatMap(([a, b, n]) => [String(a), String(b), n]),
];

async function same(argv: string[], pair: Pair = servers): Promise<Wire> {
  const r = await pair.redis.call(...argv);
  const f = await pair.fly.call(...argv);
  expect({ argv, reply: f }).toEqual({ argv, reply: r });
  return r;
}

async function both(argv: string[]): Promise<void> {
  await same(argv);
  await same(argv, resp3);
}

describe("geo differential", () => {
  test("GEOADD stores Redis's scores", async () => {
    await same(["FLUSHALL"]);
    await same(addArgs("cities", CITIES));
    await same(addArgs("edges", EDGES));
    for (let i = 0; i < CLOUD.length; i += 100) await same(addArgs("cloud", CLOUD.slice(i, i + 100)));
    for (const k of ["cities", "edges", "cloud"]) await both(["ZRANGE", k, "0", "-1", "WITHSCORES"]);
    await same(["OBJECT", "ENCODING", "cloud"]);
    // NX / XX / CH on existing and new members.
    await same(["GEOADD", "cities", "NX", "1", "1", "Paris", "2", "2", "Nowhere"]);
    await same(["GEOADD", "cities", "XX", "CH", "2.35", "48.85", "Paris", "3", "3", "Elsewhere"]);
    await same(["GEOADD", "cities", "CH", "XX", "2.35", "48.85", "Paris"]);
    await same(["GEOADD", "cities", "CH", "2.3522", "48.8566", "Paris", "5", "5", "Nowhere"]);
    await same(["GEOADD", "fresh", "XX", "1", "1", "a"]);
    await same(["EXISTS", "fresh"]);
    await both(["ZRANGE", "cities", "0", "-1", "WITHSCORES"]);
  });

  test("GEOPOS, GEOHASH and GEODIST", async () => {
    for (const [key, pts] of [
      ["cities", CITIES],
      ["edges", EDGES],
      ["cloud", CLOUD.slice(0, 50)],
    ] as const) {
      const names = [...pts.map((p) => p[2]), "missing"];
      await both(["GEOPOS", key, ...names]);
      await both(["GEOHASH", key, ...names]);
      for (let i = 0; i + 1 < names.length; i++) {
        const unit = ["m", "km", "ft", "mi", "KM"][i % 5]!;
        await both(["GEODIST", key, names[i]!, names[(i * 7 + 3) % names.length]!, unit]);
      }
    }
    await both(["GEODIST", "cities", "Paris", "Paris"]);
    await both(["GEODIST", "cities", "Paris", "London"]);
    await both(["GEODIST", "nokey", "a", "b"]);
    await both(["GEOPOS", "nokey", "a"]);
    await both(["GEOPOS", "cities"]);
    await both(["GEOHASH", "nokey", "a", "b"]);
  });

  const centers = [
    ["FROMLONLAT", "15", "37"],
    ["FROMLONLAT", "0", "0"],
    ["FROMLONLAT", "179.99", "-16"],
    ["FROMLONLAT", "-180", "50"],
    ["FROMLONLAT", "10", "84.5"],
    ["FROMLONLAT", "-50", "-85.05112878"],
    ["FROMMEMBER", "Paris"],
    ["FROMMEMBER", "Adak"],
  ];
  const radii = [
    ["0", "m"],
    ["1", "m"],
    ["150", "km"],
    ["900", "km"],
    ["3000", "mi"],
    ["9000", "km"],
    ["20000", "km"],
  ];
  const boxes = [
    ["1", "1", "m"],
    ["400", "200", "km"],
    ["2000", "6000", "km"],
    ["40000", "40000", "km"],
    ["600", "600", "mi"],
  ];

  test("GEOSEARCH by radius and by box, every option", async () => {
    for (const from of centers) {
      for (const by of [...radii.map((r) => ["BYRADIUS", ...r]), ...boxes.map((b) => ["BYBOX", ...b])]) {
        await both(["GEOSEARCH", "cities", ...from, ...by]);
        await both(["GEOSEARCH", "cities", ...from, ...by, "WITHCOORD", "WITHDIST", "WITHHASH", "ASC"]);
        await both(["GEOSEARCH", "cities", ...from, ...by, "DESC", "COUNT", "3", "WITHDIST"]);
        await both(["GEOSEARCH", "cities", ...from, ...by, "COUNT", "2", "ANY"]);
      }
    }
    for (const from of [
      ["FROMLONLAT", "5", "45"],
      ["FROMLONLAT", "179.9999", "0.5"],
      ["FROMMEMBER", "p7"],
    ]) {
      const shapes = [
        ["BYRADIUS", "100", "km"],
        ["BYRADIUS", "700", "km"],
        ["BYBOX", "500", "900", "km"],
        ["BYBOX", "50", "50", "km"],
      ];
      for (const by of shapes) {
        await same(["GEOSEARCH", "cloud", ...from, ...by]);
        await same(["GEOSEARCH", "cloud", ...from, ...by, "ASC", "WITHDIST", "WITHCOORD"]);
        await both(["GEOSEARCH", "cloud", ...from, ...by, "COUNT", "5", "ANY", "WITHHASH"]);
        await both(["GEOSEARCH", "cloud", ...from, ...by, "COUNT", "7", "DESC", "WITHDIST"]);
      }
    }
    for (const from of [
      ["FROMLONLAT", "0", "85"],
      ["FROMLONLAT", "180", "0"],
      ["FROMMEMBER", "ne-corner"],
    ]) {
      for (const by of [
        ["BYRADIUS", "500", "km"],
        ["BYRADIUS", "5000", "km"],
        ["BYBOX", "3000", "3000", "km"],
      ]) {
        await both(["GEOSEARCH", "edges", ...from, ...by, "WITHCOORD", "WITHDIST"]);
      }
    }
  });

  test("seeded searches anywhere on the globe, any size", async () => {
    let seed = 777;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const world = Array.from({ length: 300 }, (_, i) => [-180 + next() * 360, -85 + next() * 170, `w${i}`] as const);
    await same(addArgs("world", world));
    for (let i = 0; i < 300; i++) {
      const centre = ["FROMLONLAT", (-180 + next() * 360).toFixed(4), (-85 + next() * 170).toFixed(4)];
      const size = (10 ** (next() * 4)).toFixed(3);
      const height = (Number(size) * (0.2 + next() * 3)).toFixed(3);
      const by = i % 2 ? ["BYRADIUS", size, "km"] : ["BYBOX", size, height, "km"];
      await same(["GEOSEARCH", "world", ...centre, ...by, "WITHDIST", "WITHCOORD"]);
    }
  });

  test("GEORADIUS, GEORADIUSBYMEMBER and their _RO forms", async () => {
    for (const [long, lat] of [
      ["15", "37"],
      ["-179.5", "51"],
      ["0", "0"],
    ]) {
      for (const [r, u] of radii) {
        await both(["GEORADIUS", "cities", long!, lat!, r!, u!, "WITHDIST", "ASC"]);
        await both(["GEORADIUS_RO", "cities", long!, lat!, r!, u!, "WITHCOORD", "COUNT", "2"]);
      }
    }
    for (const m of ["Palermo", "Sydney", "Apia"]) {
      await both(["GEORADIUSBYMEMBER", "cities", m, "3000", "km", "WITHDIST", "WITHHASH", "DESC"]);
      await both(["GEORADIUSBYMEMBER_RO", "cities", m, "12000", "km"]);
    }
    await both(["GEORADIUSBYMEMBER", "nokey", "x", "1", "km"]);
    await both(["GEORADIUS", "nokey", "1", "1", "1", "km"]);
  });

  test("store forms write the same sorted sets", async () => {
    const rome = ["GEOSEARCHSTORE", "dst", "cities", "FROMMEMBER", "Rome"];
    const stores = [
      [...rome, "BYRADIUS", "2000", "km"],
      [...rome, "BYBOX", "4000", "2000", "km"],
      [...rome, "BYBOX", "4000", "2000", "km", "STOREDIST", "DESC", "COUNT", "3"],
      ["GEOSEARCHSTORE", "dst", "cloud", "FROMLONLAT", "5", "45", "BYRADIUS", "300", "mi", "STOREDIST"],
      ["GEORADIUS", "cities", "15", "37", "3000", "km", "STORE", "dst"],
      ["GEORADIUS", "cities", "15", "37", "3000", "km", "STOREDIST", "dst", "COUNT", "4"],
      ["GEORADIUSBYMEMBER", "cities", "Tokyo", "9000", "km", "STOREDIST", "dst"],
      ["GEORADIUSBYMEMBER", "cities", "Tokyo", "1", "m", "STORE", "dst"],
    ];
    for (const s of stores) {
      await same(["SET", "dst", "old"]);
      await same(s);
      await both(["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
      await same(["TYPE", "dst"]);
    }
    await same(["SET", "dst", "old"]);
    await same(["GEOSEARCHSTORE", "dst", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"]);
    await same(["EXISTS", "dst"]);
  });

  test("COMMAND GETKEYS finds the store keys as Redis's key specs do", async () => {
    const r = ["GEORADIUS", "k", "1", "1", "1", "km"];
    const stores = [
      ["STORE", "d1", "STOREDIST", "d2"],
      ["STOREDIST", "d2", "STORE", "d1"],
      ["STORE", "d1", "STORE", "d3"],
    ];
    for (const rest of stores) {
      await same(["COMMAND", "GETKEYS", ...r, ...rest]);
    }
    await same(["COMMAND", "GETKEYS", ...r, "COUNT", "STORE", "STORE", "d1"]);
    await same(["COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "k", "m", "1", "km", "STORE", "d1", "STOREDIST", "d2"]);
    await same(["COMMAND", "GETKEYS", "GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"]);
    await same(["COMMAND", "GETKEYS", "GEOSEARCH", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"]);
  });

  test("bad input gets Redis's errors and writes nothing", async () => {
    await same(["SET", "str", "x"]);
    const bad = [
      ["GEOADD", "g", "200", "10", "a"],
      ["GEOADD", "g", "10", "86", "a"],
      ["GEOADD", "g", "-180.0000001", "-85.05112879", "a"],
      ["GEOADD", "g", "x", "10", "a"],
      ["GEOADD", "g", "10", "y", "a"],
      ["GEOADD", "g", "10", "10"],
      ["GEOADD", "g", "NX", "XX", "1", "1", "a"],
      ["GEOADD", "g", "GT", "1", "1"],
      ["GEOADD", "g", "1", "1", "a", "2", "200", "b"],
      ["GEOADD", "g", "CH"],
      ["GEOADD", "g", "1", "inf", "a"],
      ["GEOADD", "str", "1", "1", "a"],
      ["GEOADD", "g"],
      ["GEOPOS", "str", "a"],
      ["GEOHASH", "str", "a"],
      ["GEODIST", "str", "a", "b"],
      ["GEODIST", "cities", "a", "b", "yd"],
      ["GEODIST", "cities", "Paris", "Rome", "km", "x"],
      ["GEODIST", "nokey", "a", "b", "parsec"],
      ["GEOSEARCH", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1"],
      ["GEOSEARCH", "cities", "BYRADIUS", "1", "km", "ASC"],
      ["geosearch", "cities", "FROMLONLAT", "1", "1", "ASC", "DESC"],
      ["GeoSearch", "cities", "BYBOX", "1", "1", "km", "ASC"],
      ["GEOSEARCH", "cities", "FROMMEMBER", "nobody", "BYRADIUS", "1", "km"],
      ["GEOSEARCH", "nokey", "FROMMEMBER", "nobody", "BYRADIUS", "1", "km"],
      ["GEOSEARCH", "cities", "FROMMEMBER", "Paris", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "-1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "x", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "parsec"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYBOX", "x", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYBOX", "1", "y", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYBOX", "-1", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYBOX", "1", "1", "au"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "200", "1", "BYRADIUS", "1", "km"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "COUNT", "0"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "COUNT", "x"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "ANY"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "x"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STOREDIST"],
      ["GEOSEARCH", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "COUNT"],
      ["GEOSEARCHSTORE", "d2", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "WITHDIST"],
      ["GEOSEARCHSTORE", "d2", "cities", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "x"],
      ["GEOSEARCHSTORE", "d2", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
      ["GEORADIUS", "cities", "1", "1", "1", "km", "STORE", "d2", "WITHCOORD"],
      ["GEORADIUS", "cities", "1", "1", "1"],
      ["GEORADIUS", "cities", "1", "91", "1", "km"],
      ["GEORADIUS_RO", "cities", "1", "1", "1", "km", "STORE", "d2"],
      ["GEORADIUSBYMEMBER", "cities", "nobody", "1", "km"],
      ["GEORADIUSBYMEMBER", "cities", "Paris", "-5", "km"],
      ["GEORADIUSBYMEMBER", "str", "Paris", "5", "km"],
      ["GEORADIUSBYMEMBER_RO", "cities", "Paris", "5", "km", "STOREDIST", "d2"],
      ["GEORADIUSBYMEMBER", "nokey", "Paris", "x", "km", "FOO"],
    ];
    for (const argv of bad) await both(argv);
    await same(["EXISTS", "g", "d2"]);
  });
});
