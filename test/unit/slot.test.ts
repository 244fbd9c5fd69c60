import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { crc16, isValidPartitionCount, keySlot, partitionOf, SLOT_COUNT } from "../../src/keyspace/slot.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

// Answers of `CLUSTER KEYSLOT` from redis-server 7.0.15 in cluster mode (recorded 2026-11-26).
const REDIS_KEYSLOTS: readonly (readonly [string, number])[] = [
  ["foo", 12182],
  ["bar", 5061],
  ["hello", 866],
  ["{user1}.a", 8106],
  ["{user1}.b", 8106],
  ["", 0],
  ["{}", 15257],
  ["{}foo", 9500],
  ["foo{}{bar}", 8363],
  ["{bar", 4015],
  ["foo{{bar}}zap", 4015],
  ["foo{bar}{zap}", 5061],
  ["a{b}c", 3300],
  ["123456789", 12739],
  ["user:1000", 1649],
  ["}{x}", 16287],
  ["key:__rand_int__", 13782],
  ["{", 4092],
  ["}", 12090],
];

describe("keySlot", () => {
  test.each(REDIS_KEYSLOTS)("CLUSTER KEYSLOT %p = %p", (key, slot) => {
    expect(keySlot(utf8(key))).toBe(slot);
  });

  test("binary keys hash their raw bytes", () => {
    // printf '\xff\x00\x80binary' | redis-cli -x CLUSTER KEYSLOT
    expect(keySlot(new Uint8Array([0xff, 0x00, 0x80, ...utf8("binary")]))).toBe(5226);
  });

  test("CRC16-XMODEM check value", () => {
    expect(crc16(utf8("123456789"))).toBe(0x31c3);
  });

  test("keys sharing a non-empty hash tag share a slot", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((t) => !t.includes("}")),
        fc.string(),
        fc.string(),
        (tag, a, b) => {
          const prefixA = a.replaceAll("{", "");
          const prefixB = b.replaceAll("{", "");
          expect(keySlot(utf8(`${prefixA}{${tag}}x`))).toBe(keySlot(utf8(`${prefixB}{${tag}}y${b}`)));
          expect(keySlot(utf8(`${prefixA}{${tag}}`))).toBe(keySlot(utf8(tag)));
        },
      ),
    );
  });

  test("slots are always in range", () => {
    fc.assert(fc.property(fc.uint8Array(), (key) => keySlot(key) >= 0 && keySlot(key) < SLOT_COUNT));
  });
});

describe("partitionOf", () => {
  test("contiguous ranges of 16384 / partitionCount slots", () => {
    expect(partitionOf(0, 256)).toBe(0);
    expect(partitionOf(63, 256)).toBe(0);
    expect(partitionOf(64, 256)).toBe(1);
    expect(partitionOf(16383, 256)).toBe(255);
    expect(partitionOf(12182, 1)).toBe(0);
    expect(partitionOf(12182, 16384)).toBe(12182);
  });

  test("rejects counts that do not split the slot space and slots out of range", () => {
    expect(() => partitionOf(0, 100)).toThrow(/partition count 100/);
    expect(() => partitionOf(0, 32768)).toThrow(/partition count 32768/);
    expect(() => partitionOf(16384, 256)).toThrow(/slot 16384/);
    expect(() => partitionOf(-1, 256)).toThrow(/slot -1/);
    expect(isValidPartitionCount(256)).toBe(true);
    expect(isValidPartitionCount(0)).toBe(false);
    expect(isValidPartitionCount(3)).toBe(false);
  });
});
