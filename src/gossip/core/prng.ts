import type { Rng } from "./types.ts";

/** mulberry32: tiny, fast, good enough for choosing probe orders and gossip targets. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/** Up to `k` distinct random items that pass `keep`. */
export function pickRandom<T>(items: readonly T[], k: number, rng: Rng, keep: (item: T) => boolean): T[] {
  return shuffle(items.filter(keep), rng).slice(0, k);
}
