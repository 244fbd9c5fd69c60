// The pure geohash codec against values taken from redis-server 7.0.15 (GEOADD scores, GEOPOS,
// GEOHASH, GEODIST), plus the corner cases of its bit arithmetic.
import { describe, expect, test } from "bun:test";
import {
  cellOfScore,
  cellScoreRange,
  decodeScore,
  distance,
  estimateStep,
  formatDistance,
  LAT_MAX,
  scoreOf,
  searchCells,
  standardGeohash,
} from "../../src/commands/geohash.ts";
import { formatLongDouble, longDoubleOf } from "../../src/commands/longdouble.ts";

const human = (x: number) => formatLongDouble(longDoubleOf(x));

describe("geohash", () => {
  test("scores, positions and geohashes match Redis", () => {
    expect(scoreOf(13.361389, 38.115556)).toBe(3479099956230698);
    expect(scoreOf(15.087269, 37.502669)).toBe(3479447370796909);
    const [long, lat] = decodeScore(3479099956230698);
    expect([human(long), human(lat)]).toEqual(["13.36138933897018433", "38.11555639549629859"]);
    expect(standardGeohash(3479099956230698)).toBe("sqc8b49rny0");
    expect(standardGeohash(3479447370796909)).toBe("sqdtr74hyu0");
  });

  test("GEODIST's haversine and 4-decimal layout", () => {
    const [a, b] = [decodeScore(3479099956230698), decodeScore(3479447370796909)];
    expect(formatDistance(distance(a[0], a[1], b[0], b[1]) / 1000)).toBe("166.2742");
    expect(formatDistance(0)).toBe("0.0000");
    expect(formatDistance(0.00005)).toBe("0.0000"); // 0.5 after scaling, rounded to even
    expect(formatDistance(0.00025)).toBe("0.0002"); // 2.5: to even
    expect(formatDistance(0.00035)).toBe("0.0004"); // 3.5: to even
    expect(formatDistance(12.5)).toBe("12.5000");
  });

  test("the upper limits get an index one past the last cell, as in Redis", () => {
    const s = scoreOf(180, LAT_MAX)!;
    expect(s).toBeGreaterThan(2 ** 52);
    expect(cellOfScore(s)).toEqual({ lat: 2 ** 26, long: 2 ** 26, step: 26 });
    expect(decodeScore(s)).toEqual([180, LAT_MAX]);
    expect(scoreOf(180.0001, 0)).toBeUndefined();
    expect(scoreOf(0, -85.06)).toBeUndefined();
  });

  test("scores GEOADD did not write decode through a uint64 cast", () => {
    expect(cellOfScore(-1)).toEqual({ lat: 2 ** 32 - 1, long: 2 ** 32 - 1, step: 26 });
    expect(cellOfScore(3.9)).toEqual(cellOfScore(3));
  });

  test("search step and cells", () => {
    expect(estimateStep(0, 0)).toBe(26);
    expect(estimateStep(1000, 0)).toBe(14);
    expect(estimateStep(1000, 70)).toBe(13);
    expect(estimateStep(1000, -85)).toBe(12);
    expect(estimateStep(1e9, 0)).toBe(1);
    const cells = searchCells({ kind: "radius", long: 15, lat: 37, radius: 200, toMeters: 1000 });
    expect(cells).toHaveLength(9);
    const centre = cells[0]!;
    const { min, max } = cellScoreRange(centre);
    expect(max - min).toBe(2 ** (52 - 2 * centre.step));
    const s = scoreOf(15, 37)!;
    expect(s >= min && s < max).toBe(true);
    // Neighbours wrap around the antimeridian.
    const west = searchCells({ kind: "radius", long: -180, lat: 0, radius: 10, toMeters: 1000 });
    expect(west.some((c) => c && c.long === 2 ** west[0]!.step - 1)).toBe(true);
  });
});
