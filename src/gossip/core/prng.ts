import { seededRandom } from "../../lib/prng.ts";
import type { Rng } from "./types.ts";

/** The shared mulberry32 generator behind the core's Rng interface. */
export function seededRng(seed: number): Rng {
  return { next: seededRandom(seed) };
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
