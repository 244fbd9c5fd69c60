// Interface selection reads the machine's interface table; it sends nothing.
import { describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { selectInterfaces } from "../../../src/discovery/interfaces.ts";

const loopback = Object.entries(networkInterfaces()).find(([, e]) => e?.some((a) => a.family === "IPv4" && a.internal));

describe.skipIf(!loopback)("selectInterfaces", () => {
  const [loName] = loopback ?? ["lo"];
  test("a name resolves to the interface's IPv4 address (a name given to addMembership would join INADDR_ANY)", () => {
    expect(selectInterfaces(loName)).toEqual([expect.objectContaining({ name: loName, address: "127.0.0.1" })]);
  });
  test("an address pins the interface that has it", () => {
    expect(selectInterfaces("127.0.0.1")).toEqual([expect.objectContaining({ name: loName, address: "127.0.0.1" })]);
  });
  test("unknown names and foreign addresses are errors that say what was asked", () => {
    expect(() => selectInterfaces("no-such-if0")).toThrow(/no-such-if0/);
    expect(() => selectInterfaces("192.0.2.123")).toThrow(/192\.0\.2\.123/);
  });
  test("the default never includes loopback", () => {
    let chosen: { name: string }[] = [];
    try {
      chosen = selectInterfaces();
    } catch (e) {
      expect(String(e)).toMatch(/no up, multicast-capable/);
    }
    expect(chosen.map((i) => i.name)).not.toContain(loName);
  });
});
