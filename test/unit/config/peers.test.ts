import { describe, expect, test } from "bun:test";
import { parsePeerList } from "../../../src/config/peers.ts";

describe("parsePeerList", () => {
  test("comma-separated", () => {
    expect(parsePeerList("10.0.0.1:7946,10.0.0.2:7946")).toEqual(["10.0.0.1:7946", "10.0.0.2:7946"]);
  });
  test("newline-separated, as flydb-discover --quiet prints", () => {
    expect(parsePeerList("10.0.0.1:7946\n10.0.0.2:7946\n")).toEqual(["10.0.0.1:7946", "10.0.0.2:7946"]);
  });
  test("mixed commas, spaces, tabs and CRLF; empty entries dropped", () => {
    expect(parsePeerList(" a:1 ,, b:2\t c:3\r\nd:4 , ")).toEqual(["a:1", "b:2", "c:3", "d:4"]);
  });
  test("duplicates kept once in first-seen order", () => {
    expect(parsePeerList("b:2 a:1,b:2")).toEqual(["b:2", "a:1"]);
  });
  test("empty and blank strings give no peers", () => {
    expect(parsePeerList("")).toEqual([]);
    expect(parsePeerList(" \n, ")).toEqual([]);
  });
  test("IPv6 bracket addresses pass through intact", () => {
    expect(parsePeerList("[fe80::1]:7946, [::1]:7946")).toEqual(["[fe80::1]:7946", "[::1]:7946"]);
  });
});
