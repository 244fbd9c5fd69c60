import { describe, expect, test } from "bun:test";
import { checkImports, relativeImports } from "../../scripts/check-imports.ts";

describe("import layer check", () => {
  test("an upward import is reported with both layers", () => {
    const files = new Map([
      [
        "src/store/state.ts",
        'import type { Config } from "../config/schema.ts";\nimport { route } from "../cluster/cluster-node.ts";\n',
      ],
    ]);
    expect(checkImports(files).map((v) => v.message)).toEqual([
      "src/store/state.ts → ../cluster/cluster-node.ts (layer 2 src/store → layer 4 src/cluster)",
    ]);
  });

  test("a sibling import is reported unless listed; the own unit and lower layers pass", () => {
    const files = new Map([
      ["src/store/a.ts", 'import { x } from "./b.ts";\nimport { keySlot } from "../keyspace/slot.ts";\n'],
      [
        "src/cluster/core/route.ts",
        'import { SLOT_COUNT } from "../../keyspace/slot.ts";\nexport { y } from "../../store/a.ts";\n',
      ],
    ]);
    expect(checkImports(files).map((v) => v.message)).toEqual([
      "src/cluster/core/route.ts → ../../store/a.ts (layer 2 src/cluster/core → layer 2 src/store)",
    ]);
    expect(checkImports(files, undefined, [["src/cluster/core", "src/store"]])).toEqual([]);
  });

  test("a file outside every layer is reported", () => {
    expect(checkImports(new Map([["src/stray/x.ts", ""]])).map((v) => v.file)).toEqual(["src/stray/x.ts"]);
  });

  test("finds multi-line, side-effect, re-export and dynamic imports, and skips packages", () => {
    const source = [
      'import {\n  a,\n  b,\n} from "./multi.ts";',
      'import "./side-effect.ts";',
      'export * from "./reexport.ts";',
      'const m = await import("./dynamic.ts");',
      'import { Hono } from "hono";',
      'import { Database } from "bun:sqlite";',
    ].join("\n");
    expect(relativeImports(source)).toEqual(["./multi.ts", "./side-effect.ts", "./reexport.ts", "./dynamic.ts"]);
  });
});
