// GEO commands with Redis 7.0's replies and error texts. A geo index is a plain sorted set whose
// scores are 52-bit geohashes (src/commands/geohash.ts), so ZRANGE, ZREM and the rest work on it
// and a value moved between FlyDB and Redis keeps its points.
import { array, bulk, EMPTY_ARRAY, err, int, NULL_ARRAY, NULL_BULK, ZERO, type Reply } from "../resp/reply.ts";
import { isReply, sizeOf } from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import {
  cellScoreRange,
  decodeScore,
  distance,
  distanceWithin,
  formatDistance,
  LAT_MAX,
  LAT_MIN,
  LONG_MAX,
  LONG_MIN,
  scoreOf,
  searchCells,
  standardGeohash,
  type Shape,
} from "./geohash.ts";
import { formatLongDouble, longDoubleOf } from "./longdouble.ts";
import type { CommandContext, ZEntry } from "./types.ts";
import { E, lower, parseFloatArg, parseInt64, str, utf8 } from "./util.ts";
import { storeZset, zadd } from "./zset.ts";

const NO_MEMBER = err("ERR could not decode requested zset member");

/** C's "%f": six decimals of the exact binary value, ties to even. */
function fixed6(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const ld = longDoubleOf(x);
  const SCALE = 10n ** 6n;
  let scaled: bigint;
  if (ld.e >= 0) scaled = (ld.m << BigInt(ld.e)) * SCALE;
  else {
    const den = 1n << BigInt(-ld.e);
    const n = ld.m * SCALE;
    scaled = n / den;
    const twice = 2n * (n % den);
    if (twice > den || (twice === den && (scaled & 1n) === 1n)) scaled++;
  }
  const frac = (scaled % SCALE).toString().padStart(6, "0");
  return `${ld.neg ? "-" : ""}${scaled / SCALE}.${frac}`;
}

/** Longitude then latitude at argv[i], argv[i+1], within Redis's limits. */
function longLat(argv: readonly Uint8Array[], i: number): [number, number] | Reply {
  const long = parseFloatArg(argv[i]!);
  if (long === undefined) return E.notFloat;
  const lat = parseFloatArg(argv[i + 1]!);
  if (lat === undefined) return E.notFloat;
  if (long < LONG_MIN || long > LONG_MAX || lat < LAT_MIN || lat > LAT_MAX) {
    return err(`ERR invalid longitude,latitude pair ${fixed6(long)},${fixed6(lat)}`);
  }
  return [long, lat];
}

/** Meters per unit. */
function unit(b: Uint8Array): number | Reply {
  const u = lower(b);
  if (u === "m") return 1;
  if (u === "km") return 1000;
  if (u === "ft") return 0.3048;
  if (u === "mi") return 1609.34;
  return err("ERR unsupported unit provided. please use M, KM, FT, MI");
}

/** A radius, width or height, with the error text Redis gives for that argument (the caller checks the sign). */
function numeric(b: Uint8Array, what: string): number | Reply {
  const v = parseFloatArg(b);
  return v === undefined ? err(`ERR need numeric ${what}`) : v;
}

/** Redis's addReplyHumanLongDouble: "%.17Lf" without trailing zeros, a double in RESP3. */
const coordinate = (x: number): Reply => ({ t: "double", v: x, text: formatLongDouble(longDoubleOf(x)) });

function memberPoint(ctx: CommandContext, key: Uint8Array, member: Uint8Array): [number, number] | undefined {
  const s = ctx.db.zsetScore(key, member);
  return s === undefined ? undefined : decodeScore(s);
}

function geoadd(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  let i = 2;
  let nx = false,
    xx = false;
  for (; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (opt === "nx") nx = true;
    else if (opt === "xx") xx = true;
    else if (opt !== "ch") break;
  }
  if ((argv.length - i) % 3 !== 0 || (nx && xx)) return E.syntax;
  // Every point is checked before anything is written, then ZADD does the rest.
  const zargv: Uint8Array[] = argv.slice(0, i);
  for (; i < argv.length; i += 3) {
    const p = longLat(argv, i);
    if (isReply(p)) return p;
    zargv.push(utf8(String(scoreOf(p[0], p[1])!)), argv[i + 2]!);
  }
  return zadd(ctx, zargv, false);
}

/** How a search command reads its arguments (Redis's georadiusGeneric flags). */
interface Variant {
  readonly from: "coords" | "member" | "search";
  /** Index of the source key. */
  readonly src: number;
  /** STORE/STOREDIST key arguments accepted (GEORADIUS, GEORADIUSBYMEMBER). */
  readonly storeArgs: boolean;
  /** GEOSEARCHSTORE: the destination is argv[1], STOREDIST is a flag. */
  readonly searchStore: boolean;
}

interface Found {
  readonly member: Uint8Array;
  readonly score: number;
  readonly long: number;
  readonly lat: number;
  dist: number;
}

/** Members in the shape, cell by cell in Redis's order; stops once `limit` were found (ANY) when limit > 0. */
function search(ctx: CommandContext, key: Uint8Array, shape: Shape, limit: number): Found[] {
  const found: Found[] = [];
  const cells = searchCells(shape);
  let last = 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (!c) continue;
    // A huge radius can make neighbours coincide; Redis skips a cell equal to the last one read.
    const prev = cells[last];
    if (last && prev && prev.lat === c.lat && prev.long === c.long && prev.step === c.step) continue;
    if (limit && found.length >= limit) break;
    const { min, max } = cellScoreRange(c);
    const range = { by: "score", min: { value: min, exclusive: false }, max: { value: max, exclusive: true } } as const;
    const entries: ZEntry[] = ctx.db.zsetRange(key, range, false, 0, -1);
    for (const e of entries) {
      const [long, lat] = decodeScore(e.score);
      const d = distanceWithin(shape, long, lat);
      if (d !== undefined) found.push({ member: e.member, score: e.score, long, lat, dist: d });
      if (limit && found.length >= limit) break;
    }
    last = i;
  }
  return found;
}

function georadius(v: Variant) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const key = argv[v.src]!;
    const size = sizeOf(ctx, key, "zset");
    if (isReply(size)) return size;
    const exists = size > 0;
    let center: [number, number] | undefined;
    let radius: { kind: "radius"; radius: number } | { kind: "box"; width: number; height: number } | undefined;
    let toMeters = 1;
    let base: number;
    const readRadius = (i: number): Reply | undefined => {
      const r = numeric(argv[i]!, "radius");
      if (isReply(r)) return r;
      if (r < 0) return err("ERR radius cannot be negative");
      const u = unit(argv[i + 1]!);
      if (isReply(u)) return u;
      radius = { kind: "radius", radius: r };
      toMeters = u;
      return undefined;
    };
    if (v.from === "coords") {
      base = 6;
      const p = longLat(argv, 2);
      if (isReply(p)) return p;
      center = p;
      const e = readRadius(4);
      if (e) return e;
    } else if (v.from === "member") {
      base = 5;
      if (exists) {
        center = memberPoint(ctx, key, argv[2]!);
        if (!center) return NO_MEMBER;
        const e = readRadius(3);
        if (e) return e;
      }
    } else base = v.searchStore ? 3 : 2;

    let withDist = false,
      withHash = false,
      withCoord = false,
      any = false,
      storeDist = false;
    let fromMember = false,
      fromLonLat = false;
    let sort: "none" | "asc" | "desc" = "none";
    let count = 0;
    let storeKey: Uint8Array | undefined = v.searchStore ? argv[1] : undefined;
    const isSearch = v.from === "search";
    for (let i = base; i < argv.length; i++) {
      const opt = lower(argv[i]!);
      const left = argv.length - 1 - i;
      if (opt === "withdist") withDist = true;
      else if (opt === "withhash") withHash = true;
      else if (opt === "withcoord") withCoord = true;
      else if (opt === "any") any = true;
      else if (opt === "asc") sort = "asc";
      else if (opt === "desc") sort = "desc";
      else if (opt === "count" && left >= 1) {
        const n = parseInt64(argv[++i]!);
        if (n === undefined) return E.notInt;
        if (n <= 0n) return err("ERR COUNT must be > 0");
        count = Number(n);
      } else if ((opt === "store" || opt === "storedist") && left >= 1 && v.storeArgs) {
        storeKey = argv[++i]!;
        storeDist = opt === "storedist";
      } else if (opt === "storedist" && v.searchStore) storeDist = true;
      else if (opt === "frommember" && left >= 1 && isSearch && !fromLonLat) {
        const m = argv[++i]!;
        if (exists) {
          center = memberPoint(ctx, key, m);
          if (!center) return NO_MEMBER;
        }
        fromMember = true;
      } else if (opt === "fromlonlat" && left >= 2 && isSearch && !fromMember) {
        const p = longLat(argv, i + 1);
        if (isReply(p)) return p;
        center = p;
        fromLonLat = true;
        i += 2;
      } else if (opt === "byradius" && left >= 2 && isSearch && radius?.kind !== "box") {
        const e = readRadius(i + 1);
        if (e) return e;
        i += 2;
      } else if (opt === "bybox" && left >= 3 && isSearch && radius?.kind !== "radius") {
        const w = numeric(argv[i + 1]!, "width");
        if (isReply(w)) return w;
        const h = numeric(argv[i + 2]!, "height");
        if (isReply(h)) return h;
        if (h < 0 || w < 0) return err("ERR height or width cannot be negative");
        const u = unit(argv[i + 3]!);
        if (isReply(u)) return u;
        radius = { kind: "box", width: w, height: h };
        toMeters = u;
        i += 3;
      } else return E.syntax;
    }

    if (storeKey && (withDist || withHash || withCoord)) {
      const what = v.searchStore ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS";
      return err(`ERR ${what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options`);
    }
    const name = str(argv[0]!);
    if (isSearch && !(fromMember || fromLonLat)) {
      return err(`ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ${name}`);
    }
    if (isSearch && !radius) return err(`ERR exactly one of BYRADIUS and BYBOX can be specified for ${name}`);
    if (any && !count) return err("ERR the ANY argument requires COUNT argument");

    if (!exists) {
      if (!storeKey) return EMPTY_ARRAY;
      ctx.db.delete(storeKey, ctx.now);
      return ZERO;
    }
    // COUNT keeps the nearest, so it sorts unless ANY asked for whichever come first.
    if (count && sort === "none" && !any) sort = "asc";
    const shape: Shape = { ...radius!, long: center![0], lat: center![1], toMeters };
    const found = search(ctx, key, shape, any ? count : 0);
    if (found.length === 0 && !storeKey) return EMPTY_ARRAY;
    if (sort === "asc") found.sort((a, b) => a.dist - b.dist);
    else if (sort === "desc") found.sort((a, b) => b.dist - a.dist);
    const chosen = count && count < found.length ? found.slice(0, count) : found;
    for (const f of chosen) f.dist /= toMeters;

    if (storeKey) {
      const event = lower(argv[0]!) === "geosearchstore" ? "geosearchstore" : "georadiusstore";
      storeZset(
        ctx,
        storeKey,
        chosen.map((f) => ({ member: f.member, score: storeDist ? f.dist : f.score })),
        event,
      );
      return int(chosen.length);
    }
    if (!withDist && !withHash && !withCoord) return array(chosen.map((f) => bulk(f.member)));
    return array(
      chosen.map((f) => {
        const row: Reply[] = [bulk(f.member)];
        if (withDist) row.push(bulk(formatDistance(f.dist)));
        if (withHash) row.push(int(scoreAsInteger(f.score)));
        if (withCoord) row.push(array([coordinate(f.long), coordinate(f.lat)]));
        return array(row);
      }),
    );
  };
}

/** WITHHASH: Redis casts the score to a C long long. */
function scoreAsInteger(s: number): number | bigint {
  if (Number.isSafeInteger(s)) return s;
  return BigInt.asIntN(64, BigInt(Number.isFinite(s) ? Math.trunc(s) : 0));
}

function geopos(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const n = sizeOf(ctx, argv[1]!, "zset");
  if (isReply(n)) return n;
  return array(
    argv.slice(2).map((m) => {
      const p = n > 0 ? memberPoint(ctx, argv[1]!, m) : undefined;
      return p ? array([coordinate(p[0]), coordinate(p[1])]) : NULL_ARRAY;
    }),
  );
}

function geohash(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const n = sizeOf(ctx, argv[1]!, "zset");
  if (isReply(n)) return n;
  return array(
    argv.slice(2).map((m) => {
      const s = n > 0 ? ctx.db.zsetScore(argv[1]!, m) : undefined;
      return s === undefined ? NULL_BULK : bulk(standardGeohash(s));
    }),
  );
}

function geodist(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  let toMeters = 1;
  if (argv.length === 5) {
    const u = unit(argv[4]!);
    if (isReply(u)) return u;
    toMeters = u;
  } else if (argv.length > 5) return E.syntax;
  const n = sizeOf(ctx, argv[1]!, "zset");
  if (isReply(n)) return n;
  if (n === 0) return NULL_BULK;
  const a = memberPoint(ctx, argv[1]!, argv[2]!);
  const b = memberPoint(ctx, argv[1]!, argv[3]!);
  if (!a || !b) return NULL_BULK;
  return bulk(formatDistance(distance(a[0], a[1], b[0], b[1]) / toMeters));
}

/**
 * GEORADIUS's keys as Redis's key specs find them: the source, then the argument after the first
 * STORE and the one after the first STOREDIST from `from` on.
 */
function radiusKeys(from: number) {
  return (argv: readonly Uint8Array[]): Uint8Array[] => {
    const keys = [argv[1]!];
    for (const keyword of ["store", "storedist"]) {
      for (let i = from; i < argv.length - 1; i++) {
        if (lower(argv[i]!) === keyword) {
          keys.push(argv[i + 1]!);
          break;
        }
      }
    }
    return keys;
  };
}

const SOURCE = { first: 1, last: 1, step: 1 } as const;

export const GEO_COMMANDS = define("geo", [
  {
    name: "geoadd",
    arity: -5,
    flags: ["write"],
    keys: SOURCE,
    since: "3.2.0",
    summary: "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
    run: geoadd,
  },
  {
    name: "geopos",
    arity: -2,
    flags: ["readonly"],
    keys: SOURCE,
    since: "3.2.0",
    summary: "Returns the longitude and latitude of members from a geospatial index.",
    run: geopos,
  },
  {
    name: "geohash",
    arity: -2,
    flags: ["readonly"],
    keys: SOURCE,
    since: "3.2.0",
    summary: "Returns members from a geospatial index as geohash strings.",
    run: geohash,
  },
  {
    name: "geodist",
    arity: -4,
    flags: ["readonly"],
    keys: SOURCE,
    since: "3.2.0",
    summary: "Returns the distance between two members of a geospatial index.",
    run: geodist,
  },
  {
    name: "georadius",
    arity: -6,
    flags: ["write"],
    keys: { ...SOURCE, find: radiusKeys(6) },
    since: "3.2.0",
    keyFlags: ["RO access", "OW update"],
    summary:
      "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
    run: georadius({ from: "coords", src: 1, storeArgs: true, searchStore: false }),
    cluster: ONE_SLOT,
  },
  {
    name: "georadiusbymember",
    arity: -5,
    flags: ["write"],
    keys: { ...SOURCE, find: radiusKeys(5) },
    since: "3.2.0",
    keyFlags: ["RO access", "OW update"],
    summary: "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
    run: georadius({ from: "member", src: 1, storeArgs: true, searchStore: false }),
    cluster: ONE_SLOT,
  },
  {
    name: "georadius_ro",
    arity: -6,
    flags: ["readonly"],
    keys: SOURCE,
    since: "3.2.10",
    summary: "Returns members from a geospatial index that are within a distance from a coordinate.",
    run: georadius({ from: "coords", src: 1, storeArgs: false, searchStore: false }),
  },
  {
    name: "georadiusbymember_ro",
    arity: -5,
    flags: ["readonly"],
    keys: SOURCE,
    since: "3.2.10",
    summary: "Returns members from a geospatial index that are within a distance from a member.",
    run: georadius({ from: "member", src: 1, storeArgs: false, searchStore: false }),
  },
  {
    name: "geosearch",
    arity: -7,
    flags: ["readonly"],
    keys: SOURCE,
    since: "6.2.0",
    summary: "Queries a geospatial index for members inside an area of a box or a circle.",
    run: georadius({ from: "search", src: 1, storeArgs: false, searchStore: false }),
  },
  {
    name: "geosearchstore",
    arity: -8,
    flags: ["write"],
    keys: { first: 1, last: 2, step: 1 },
    since: "6.2.0",
    keyFlags: ["OW update", "RO access"],
    summary:
      "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
    run: georadius({ from: "search", src: 2, storeArgs: false, searchStore: true }),
    cluster: ONE_SLOT,
  },
]);
