// Imports point one way: a module may import only from its own unit or a lower layer, and from a
// sibling unit of its layer only where SIBLINGS allows it. Every file under src/ and cli/ must
// belong to a unit, so a new folder has to be placed in a layer before it can be used.
// Run: bun scripts/check-imports.ts (exits 1 and lists each violation).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/** Units (a folder, or one file) by layer, lowest first. */
export const LAYERS: readonly (readonly string[])[] = [
  [
    "src/lib",
    "src/keyspace",
    "src/rdb",
    "src/resp",
    "src/raft",
    "src/version.ts",
    "src/log.ts",
    "src/wall-clock.ts",
    "src/net",
    "src/scripting",
    "src/acl",
  ],
  ["src/commands", "src/config"],
  ["src/store", "src/pubsub", "src/cluster/core", "src/gossip/core", "src/discovery/core", "src/node-identity.ts"],
  ["src/transport", "src/gossip", "src/discovery"],
  ["src/cluster"],
  ["src/server", "src/http"],
  ["src/node.ts", "src/data-plane.ts"],
  ["cli"],
];

/** Same-layer imports allowed between sibling units: importer → imported. */
export const SIBLINGS: readonly (readonly [string, string])[] = [
  // The node wires its listeners around the data plane it opens.
  ["src/node.ts", "src/data-plane.ts"],
  // Membership decisions read gossip's member states (pure types, no I/O).
  ["src/cluster/core", "src/gossip/core"],
  // RDB listpacks hold scores as Redis prints doubles.
  ["src/rdb", "src/resp"],
  // Scripts turn replies into Lua values and back.
  ["src/scripting", "src/resp"],
  // Scripts' math.randomseed.
  ["src/scripting", "src/lib"],
];

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly message: string;
}

/** The unit a repository path belongs to: the longest unit that is the path or a folder holding it. */
export function unitOf(path: string, layers = LAYERS): { unit: string; layer: number } | undefined {
  let best: { unit: string; layer: number } | undefined;
  layers.forEach((units, layer) => {
    for (const unit of units) {
      const holds = path === unit || path.startsWith(`${unit}/`);
      if (holds && (!best || unit.length > best.unit.length)) best = { unit, layer };
    }
  });
  return best;
}

const STATIC = /(?:^|[;\s}])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/.source;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/.source;
const SPECIFIER = new RegExp(`${STATIC}|${DYNAMIC}`, "g");

/** Relative module specifiers of a source file (packages and bun:/node: modules are outside the layers). */
export function relativeImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith(".")) out.push(spec);
  }
  return out;
}

/** Violations among `files` (repository path → source text). */
export function checkImports(files: ReadonlyMap<string, string>, layers = LAYERS, siblings = SIBLINGS): Violation[] {
  const allowed = new Set(siblings.map(([a, b]) => `${a} ${b}`));
  const out: Violation[] = [];
  for (const [file, source] of files) {
    const from = unitOf(file, layers);
    if (!from) {
      const message = `${file} is in no layer (add its folder to LAYERS in scripts/check-imports.ts)`;
      out.push({ file, specifier: "", message });
      continue;
    }
    for (const specifier of relativeImports(source)) {
      const target = normalize(join(dirname(file), specifier));
      const to = unitOf(target, layers);
      if (to?.unit === from.unit) continue;
      const sibling = to?.layer === from.layer && allowed.has(`${from.unit} ${to.unit}`);
      if (to && (to.layer < from.layer || sibling)) continue;
      const where = to ? `layer ${from.layer} ${from.unit} → layer ${to.layer} ${to.unit}` : `${target} is in no layer`;
      out.push({ file, specifier, message: `${file} → ${specifier} (${where})` });
    }
  }
  return out;
}

function sourcesUnder(root: string, dir: string, into: Map<string, string>): void {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) sourcesUnder(root, path, into);
    else if (entry.name.endsWith(".ts")) into.set(path, readFileSync(join(root, path), "utf8"));
  }
}

if (import.meta.main) {
  const root = relative(process.cwd(), join(import.meta.dir, "..")) || ".";
  const files = new Map<string, string>();
  for (const dir of ["src", "cli"]) sourcesUnder(root, dir, files);
  const violations = checkImports(files);
  for (const v of violations) console.log(v.message);
  console.log(`import layers: ${files.size} files, ${violations.length} violations`);
  if (violations.length > 0) process.exit(1);
}
