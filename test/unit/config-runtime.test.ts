import { expect, test } from "bun:test";
import { RUNTIME_KEYS } from "../../src/commands/config.ts";
import { CONFIG_KEYS, SCHEMA } from "../../src/config/schema.ts";

test("every parameter CONFIG SET changes is a configuration key, so CONFIG REWRITE can write it", () => {
  for (const key of RUNTIME_KEYS)
    expect({ key, known: (CONFIG_KEYS as readonly string[]).includes(key) }).toEqual({ key, known: true });
  expect(RUNTIME_KEYS).toContain("hash_max_listpack_entries");
  expect(RUNTIME_KEYS).toContain("routing_strategy");
  expect(SCHEMA.timeout.def).toBe(0);
});
