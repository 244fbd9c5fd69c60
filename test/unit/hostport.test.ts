import { describe, expect, test } from "bun:test";
import { formatHostPort, parseHostPort } from "../../src/net/hostport.ts";

describe("host:port", () => {
  test("IPv4 addresses and host names", () => {
    expect(parseHostPort("10.0.0.1:1")).toEqual({ host: "10.0.0.1", port: 1 });
    expect(parseHostPort("node-1.example:6380")).toEqual({ host: "node-1.example", port: 6380 });
    expect(formatHostPort("10.0.0.1", 7946)).toBe("10.0.0.1:7946");
  });

  test("IPv6 addresses are bracketed and lose their brackets when parsed", () => {
    expect(parseHostPort("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(parseHostPort("[fe80::1:2]:65535")).toEqual({ host: "fe80::1:2", port: 65535 });
    expect(formatHostPort("::1", 80)).toBe("[::1]:80");
    expect(parseHostPort(formatHostPort("fd00::a", 7947))).toEqual({ host: "fd00::a", port: 7947 });
  });

  test(":port takes the default host", () => {
    expect(parseHostPort(":7946")).toEqual({ host: "0.0.0.0", port: 7946 });
    expect(parseHostPort(":0", "")).toEqual({ host: "", port: 0 });
    expect(parseHostPort("[::]:6380")).toEqual({ host: "::", port: 6380 });
  });

  test("anything else is refused, naming the address", () => {
    for (const bad of ["nope", "h:70000", "::1:80", "h:", "h:port", " h:1", "[::1]80", "[x]:1", "a b:1", "h:123456"]) {
      expect(() => parseHostPort(bad)).toThrow(`bad address ${JSON.stringify(bad)}`);
    }
  });
});
