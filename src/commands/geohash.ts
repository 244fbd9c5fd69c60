// Redis's geohash, bit for bit: a point is a 52-bit integer (26 bits of latitude and 26 of
// longitude interleaved, latitude in the even bits) stored as a sorted set score, and a radius
// or box search reads the score ranges of the cell holding the centre and its 8 neighbours at a
// precision picked from the search size. Every step below follows Redis 7.0's src/geohash.c and
// src/geohash_helper.c in its order of floating-point operations, so that the cells searched,
// the members found and the distances printed are the ones Redis finds and prints.

export const LONG_MIN = -180;
export const LONG_MAX = 180;
/** Web Mercator's limits (EPSG:3785): Redis cannot index points nearer the poles. */
export const LAT_MIN = -85.05112878;
export const LAT_MAX = 85.05112878;
/** Bits per coordinate of a stored score. */
export const STEP_MAX = 26;
/** Earth's quadratic mean radius (WGS-84) that Redis's haversine uses. */
export const EARTH_RADIUS_M = 6372797.560856;
const MERCATOR_MAX = 20037726.37;
const TWO_32 = 2 ** 32;

export interface Range {
  readonly min: number;
  readonly max: number;
}
const LONG_RANGE: Range = { min: LONG_MIN, max: LONG_MAX };
const LAT_RANGE: Range = { min: LAT_MIN, max: LAT_MAX };

/**
 * A cell: `lat` and `long` are its indexes (0 .. 2^step - 1 each; a point exactly on the upper
 * limit gets index 2^step, as in Redis, whose cell then lies past the limit).
 */
export interface Cell {
  readonly lat: number;
  readonly long: number;
  readonly step: number;
}

export interface Area {
  readonly lat: Range;
  readonly long: Range;
}

/** Spreads the low 16 bits of x over the even bits of a 32-bit word. */
function spread16(x: number): number {
  x = (x | (x << 8)) & 0x00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f;
  x = (x | (x << 2)) & 0x33333333;
  return (x | (x << 1)) & 0x55555555;
}

/** Gathers the even bits of a 32-bit word into its low 16 bits. */
function squash16(x: number): number {
  x &= 0x55555555;
  x = (x | (x >>> 1)) & 0x33333333;
  x = (x | (x >>> 2)) & 0x0f0f0f0f;
  x = (x | (x >>> 4)) & 0x00ff00ff;
  return (x | (x >>> 8)) & 0x0000ffff;
}

/**
 * The interleaved bits of a cell as a number: exact below 2^53; above (a point on the upper
 * limits) rounded to the nearest double, as ZADD rounds the integer Redis's GEOADD passes it.
 */
export function cellBits(c: Cell): number {
  const lo = (spread16(c.lat & 0xffff) | (spread16(c.long & 0xffff) << 1)) >>> 0;
  const hi = (spread16(c.lat >>> 16) | (spread16(c.long >>> 16) << 1)) >>> 0;
  return hi * TWO_32 + lo;
}

/** Encodes a point at `step` bits per coordinate within the given ranges; undefined outside Redis's limits. */
export function encode(
  long: number,
  lat: number,
  step: number,
  longRange = LONG_RANGE,
  latRange = LAT_RANGE,
): Cell | undefined {
  if (long > LONG_MAX || long < LONG_MIN || lat > LAT_MAX || lat < LAT_MIN) return undefined;
  if (lat < latRange.min || lat > latRange.max || long < longRange.min || long > longRange.max) return undefined;
  let latOffset = (lat - latRange.min) / (latRange.max - latRange.min);
  let longOffset = (long - longRange.min) / (longRange.max - longRange.min);
  latOffset *= 2 ** step;
  longOffset *= 2 ** step;
  return { lat: Math.trunc(latOffset), long: Math.trunc(longOffset), step };
}

/** The sorted set score Redis stores for a point (GEOADD). */
export function scoreOf(long: number, lat: number): number | undefined {
  const c = encode(long, lat, STEP_MAX);
  return c && cellBits(c);
}

/**
 * The full-precision cell a score stands for. Redis casts the score to uint64; scores that GEOADD
 * did not write (negative, fractional, huge) get the same wrap-around through BigInt.
 */
export function cellOfScore(score: number): Cell {
  let hi: number, lo: number;
  if (Number.isSafeInteger(score) && score >= 0) {
    hi = Math.floor(score / TWO_32);
    lo = score - hi * TWO_32;
  } else {
    const t = Number.isFinite(score) ? Math.trunc(score) : 0;
    const u = BigInt.asUintN(64, BigInt(t));
    hi = Number(u >> 32n);
    lo = Number(u & 0xffffffffn);
  }
  return {
    lat: (squash16(lo) | (squash16(hi) << 16)) >>> 0,
    long: (squash16(lo >>> 1) | (squash16(hi >>> 1) << 16)) >>> 0,
    step: STEP_MAX,
  };
}

export function decodeArea(c: Cell, longRange = LONG_RANGE, latRange = LAT_RANGE): Area {
  const latScale = latRange.max - latRange.min;
  const longScale = longRange.max - longRange.min;
  const cells = 2 ** c.step;
  return {
    lat: { min: latRange.min + (c.lat / cells) * latScale, max: latRange.min + ((c.lat + 1) / cells) * latScale },
    long: {
      min: longRange.min + (c.long / cells) * longScale,
      max: longRange.min + ((c.long + 1) / cells) * longScale,
    },
  };
}

const clamp = (v: number, lo: number, hi: number) => (v > hi ? hi : Math.max(v, lo));

/** The point a score stands for: the centre of its cell, clamped to Redis's limits. [long, lat]. */
export function decodeScore(score: number): [number, number] {
  const a = decodeArea(cellOfScore(score));
  return [
    clamp((a.long.min + a.long.max) / 2, LONG_MIN, LONG_MAX),
    clamp((a.lat.min + a.lat.max) / 2, LAT_MIN, LAT_MAX),
  ];
}

const GEOALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz";
const STANDARD_LONG: Range = { min: -180, max: 180 };
const STANDARD_LAT: Range = { min: -90, max: 90 };

/** GEOHASH's 11-character standard geohash (latitude range ±90) of a stored score; the 11th is always "0". */
export function standardGeohash(score: number): string {
  const [long, lat] = decodeScore(score);
  const c = encode(long, lat, STEP_MAX, STANDARD_LONG, STANDARD_LAT)!;
  const bits = cellBits(c);
  let out = "";
  for (let i = 0; i < 10; i++) out += GEOALPHABET[Math.floor(bits / 2 ** (52 - (i + 1) * 5)) % 32];
  return `${out}0`;
}

const degRad = (deg: number) => deg * (Math.PI / 180);
const radDeg = (rad: number) => rad / (Math.PI / 180);

export function latDistance(lat1: number, lat2: number): number {
  return EARTH_RADIUS_M * Math.abs(degRad(lat2) - degRad(lat1));
}

/** Haversine distance in meters between two points given in degrees. */
export function distance(long1: number, lat1: number, long2: number, lat2: number): number {
  const lon1r = degRad(long1);
  const lon2r = degRad(long2);
  const v = Math.sin((lon2r - lon1r) / 2);
  if (v === 0) return latDistance(lat1, lat2);
  const lat1r = degRad(lat1);
  const lat2r = degRad(lat2);
  const u = Math.sin((lat2r - lat1r) / 2);
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(a));
}

/** A search area; sizes are in the caller's unit, `toMeters` converts them. */
export type Shape =
  | {
      readonly kind: "radius";
      readonly long: number;
      readonly lat: number;
      readonly radius: number;
      readonly toMeters: number;
    }
  | {
      readonly kind: "box";
      readonly long: number;
      readonly lat: number;
      readonly width: number;
      readonly height: number;
      readonly toMeters: number;
    };

/** The distance in meters from the shape's centre to a point inside it, or undefined when outside. */
export function distanceWithin(shape: Shape, long: number, lat: number): number | undefined {
  if (shape.kind === "radius") {
    const d = distance(shape.long, shape.lat, long, lat);
    return d > shape.radius * shape.toMeters ? undefined : d;
  }
  const width = shape.width * shape.toMeters;
  const height = shape.height * shape.toMeters;
  if (latDistance(shape.lat, lat) > height / 2) return undefined;
  if (distance(long, lat, shape.long, lat) > width / 2) return undefined;
  return distance(shape.long, shape.lat, long, lat);
}

export function estimateStep(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26;
  let step = 1;
  while (rangeMeters < MERCATOR_MAX) {
    rangeMeters *= 2;
    step++;
  }
  step -= 2;
  // Cells are narrower towards the poles.
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  return Math.min(26, Math.max(1, step));
}

/** [minLong, minLat, maxLong, maxLat] of the shape, wider on the side nearer the pole. */
export function boundingBox(shape: Shape): [number, number, number, number] {
  const { long, lat } = shape;
  const height = shape.toMeters * (shape.kind === "radius" ? shape.radius : shape.height / 2);
  const width = shape.toMeters * (shape.kind === "radius" ? shape.radius : shape.width / 2);
  const latDelta = radDeg(height / EARTH_RADIUS_M);
  const longDeltaTop = radDeg(width / EARTH_RADIUS_M / Math.cos(degRad(lat + latDelta)));
  const longDeltaBottom = radDeg(width / EARTH_RADIUS_M / Math.cos(degRad(lat - latDelta)));
  const south = lat < 0;
  return [
    south ? long - longDeltaBottom : long - longDeltaTop,
    lat - latDelta,
    south ? long + longDeltaBottom : long + longDeltaTop,
    lat + latDelta,
  ];
}

/** Moves one coordinate of a cell by d (wrapping around at 2^step, as Redis's bit arithmetic does). */
function move(c: Cell, dLong: number, dLat: number): Cell {
  const n = 2 ** c.step;
  const wrap = (v: number, d: number) => (d === 0 ? v : (((v + d) % n) + n) % n);
  return { lat: wrap(c.lat, dLat), long: wrap(c.long, dLong), step: c.step };
}

/**
 * The cells to read for a search, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW; a
 * neighbour that cannot hold a match is null.
 */
export function searchCells(shape: Shape): (Cell | null)[] {
  const [minLong, minLat, maxLong, maxLat] = boundingBox(shape);
  const radiusMeters =
    shape.toMeters *
    (shape.kind === "radius"
      ? shape.radius
      : Math.sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2)));
  let step = estimateStep(radiusMeters, shape.lat);
  let centre = encode(shape.long, shape.lat, step)!;
  // A neighbour too near the search area's edge to cover it: one level coarser.
  const north = decodeArea(move(centre, 0, 1));
  const south = decodeArea(move(centre, 0, -1));
  const east = decodeArea(move(centre, 1, 0));
  const west = decodeArea(move(centre, -1, 0));
  const tooFine =
    north.lat.max < maxLat || south.lat.min > minLat || east.long.max < maxLong || west.long.min > minLong;
  if (step > 1 && tooFine) {
    step--;
    centre = encode(shape.long, shape.lat, step)!;
  }
  const area = decodeArea(centre);
  let [n, s, e, w] = [true, true, true, true];
  if (step >= 2) {
    if (area.lat.min < minLat) s = false;
    if (area.lat.max > maxLat) n = false;
    if (area.long.min < minLong) w = false;
    if (area.long.max > maxLong) e = false;
  }
  const at = (keep: boolean, dLong: number, dLat: number) => (keep ? move(centre, dLong, dLat) : null);
  return [
    centre,
    at(n, 0, 1),
    at(s, 0, -1),
    at(e, 1, 0),
    at(w, -1, 0),
    at(n && e, 1, 1),
    at(n && w, -1, 1),
    at(s && e, 1, -1),
    at(s && w, -1, -1),
  ];
}

/** The scores of a cell's points: min inclusive, max exclusive. */
export function cellScoreRange(c: Cell): { min: number; max: number } {
  const shift = 2 ** (2 * (STEP_MAX - c.step));
  const bits = cellBits(c);
  return { min: bits * shift, max: (bits + 1) * shift };
}

/** Redis's fixedpoint_d2string(d, 4): GEODIST's and WITHDIST's 4 decimals, rounded half to even (llrint). */
export function formatDistance(d: number): string {
  if (d === 0) return "0.0000";
  const x = d * 10000;
  const f = Math.floor(x);
  const r = x - f;
  const n = r > 0.5 || (r === 0.5 && f % 2 !== 0) ? f + 1 : f;
  const neg = n < 0;
  const digits = String(Math.abs(n)).padStart(5, "0");
  return `${neg ? "-" : ""}${digits.slice(0, -4)}.${digits.slice(-4)}`;
}
