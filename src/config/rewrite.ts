// CONFIG REWRITE: the keys changed at run time written back into the TOML file the node started
// from. The file is edited line by line, so comments and the keys nobody changed stay as they are:
// a key's line is replaced where it is (a commented-out example `# key = …` is left alone), and a
// key the file does not set yet is appended at the end.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { SCHEMA, type Config, type ConfigKey } from "./schema.ts";

function tomlValue(key: ConfigKey, c: Config): string {
  const v = c[key];
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

export function rewriteConfigFile(path: string, config: Config, keys: readonly ConfigKey[]): void {
  const lines = readFileSync(path, "utf8").split("\n");
  const appended: string[] = [];
  for (const key of keys) {
    if (!(key in SCHEMA)) throw new Error(`unknown config key ${key}`);
    const line = `${key} = ${tomlValue(key, config)}`;
    const at = lines.findIndex((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
    if (at >= 0) lines[at] = line;
    else appended.push(line);
  }
  if (appended.length > 0) {
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    lines.push("", "# Changed with CONFIG SET and written by CONFIG REWRITE.", ...appended, "");
  }
  // Written beside and renamed over, so a crash never leaves half a file.
  const tmp = `${path}.rewrite-${process.pid}`;
  writeFileSync(tmp, lines.join("\n"));
  renameSync(tmp, path);
}
