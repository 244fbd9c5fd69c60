import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DEFAULT_RESP_LIMITS, RespDecoder, type RespLimits } from "../../src/resp/decoder.ts";

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const text = (b: Uint8Array): string => String.fromCharCode(...b);

interface Decoded {
  commands: string[][];
  error: string | null;
}

function decodeChunks(chunks: Uint8Array[], limits?: Partial<RespLimits>): Decoded {
  const decoder = new RespDecoder(limits);
  const commands: string[][] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let argv = decoder.next(); argv !== null; argv = decoder.next()) commands.push(argv.map(text));
  }
  return { commands, error: decoder.error };
}

const decode = (input: string, limits?: Partial<RespLimits>): Decoded => decodeChunks([bytes(input)], limits);

/** Splits data at the given cut points (any order, duplicates and out-of-range ones ignored). */
function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(data.slice(from, p));
    from = p;
  }
  chunks.push(data.slice(from));
  return chunks;
}

const multibulk = (argv: Uint8Array[]): Uint8Array => {
  const parts: number[] = [...bytes(`*${argv.length}\r\n`)];
  for (const a of argv) parts.push(...bytes(`$${a.length}\r\n`), ...a, 13, 10);
  return Uint8Array.from(parts);
};

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
};

describe("multibulk", () => {
  test("decodes commands, binary-safe, several per chunk", () => {
    expect(decode("*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n")).toEqual({
      commands: [["PING"], ["SET", "k", "a\r\nb"]],
      error: null,
    });
    expect(decode("*2\r\n$3\r\nGET\r\n$0\r\n\r\n")).toEqual({ commands: [["GET", ""]], error: null });
  });

  test("`*0` and negative counts are consumed and ignored, as by redis", () => {
    expect(decode("*0\r\n*-1\r\n*-9223372036854775808\r\n*1\r\n$1\r\nx\r\n")).toEqual({
      commands: [["x"]],
      error: null,
    });
  });

  test("waits for the rest of a command", () => {
    const d = new RespDecoder();
    d.push(bytes("*2\r\n$3\r\nGET\r\n$5\r\nab"));
    expect(d.next()).toBeNull();
    expect(d.pendingBytes).toBe(2);
    d.push(bytes("cde"));
    expect(d.next()).toBeNull();
    d.push(bytes("\r\n"));
    expect(d.next()?.map(text)).toEqual(["GET", "abcde"]);
    expect(d.next()).toBeNull();
    expect(d.error).toBeNull();
  });

  test("arguments that arrive in one chunk are views of it", () => {
    const chunk = bytes("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    const d = new RespDecoder();
    d.push(chunk);
    const argv = d.next()!;
    expect(argv[1].buffer).toBe(chunk.buffer);
    expect(argv[1].byteOffset).toBe(17);
  });

  test("earlier arguments stay intact while later chunks are joined to partial ones", () => {
    const d = new RespDecoder();
    const out: string[][] = [];
    const input = bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n*1\r\n$4\r\nPING\r\n");
    for (const chunk of splitAt(input, [10, 20, 25, 26, 27, 40])) {
      d.push(chunk);
      for (let a = d.next(); a !== null; a = d.next()) out.push(a.map(text));
    }
    expect(out).toEqual([["SET", "key", "0123456789"], ["PING"]]);
  });

  test("a bulk sent in many small chunks is assembled once it is complete", () => {
    const value = new Uint8Array(300_000).map((_, i) => i % 251);
    const input = multibulk([bytes("SET"), bytes("k"), value]);
    const d = new RespDecoder();
    let argv: Uint8Array[] | null = null;
    for (let i = 0; i < input.length; i += 1000) {
      d.push(input.subarray(i, i + 1000));
      argv ??= d.next();
    }
    expect(argv).not.toBeNull();
    expect(argv![2]).toEqual(value);
  });
});

describe("inline", () => {
  test("splits like sdssplitargs", () => {
    expect(decode("PING\r\n").commands).toEqual([["PING"]]);
    expect(decode("PING\n").commands).toEqual([["PING"]]);
    expect(decode("  SET   k\tv  \r\n").commands).toEqual([["SET", "k", "v"]]);
    expect(decode(`SET "a b" 'c d'\r\n`).commands).toEqual([["SET", "a b", "c d"]]);
    expect(decode(`SET "\\x41\\x4a\\n\\r\\t\\b\\a\\"\\\\\\q" x\n`).commands).toEqual([
      ["SET", 'AJ\n\r\t\b\x07"\\q', "x"],
    ]);
    expect(decode(`SET "\\x4" x\n`).commands).toEqual([["SET", "x4", "x"]]);
    expect(decode(`SET 'it\\'s' '\\n'\n`).commands).toEqual([["SET", "it's", "\\n"]]);
    expect(decode(`SET k"v w"\n`).commands).toEqual([["SET", "kv w"]]);
    expect(decode(`SET "" ''\n`).commands).toEqual([["SET", "", ""]]);
  });

  test("empty and blank lines are ignored", () => {
    expect(decode("\r\n\n  \r\nPING\r\n\n")).toEqual({ commands: [["PING"]], error: null });
  });

  test("a NUL byte hides the end of its line, as redis's strchr does, until the limit is hit", () => {
    expect(decode("PING\r\nSET a\0b c\r\nPING\r\n")).toEqual({ commands: [["PING"]], error: null });
    expect(decode("x\0\r\n*1\r\n$4\r\nPING\r\n", { maxInlineLength: 16 }).error).toBe(
      "Protocol error: too big inline request",
    );
    expect(decode("*1\0\r\n", { maxInlineLength: 8 }).error).toBeNull();
    expect(decode("*1\0\r\n*1\r\n$4\r\nPING\r\n", { maxInlineLength: 8 }).error).toBe(
      "Protocol error: too big mbulk count string",
    );
    expect(decode("*1\r\n\0\r\nPING\r\n", { maxInlineLength: 8 }).error).toBe(
      "Protocol error: too big bulk count string",
    );
  });

  test("unbalanced quotes are a protocol error", () => {
    for (const line of [`SET "abc\r\n`, `SET 'abc\r\n`, `SET "a"b\r\n`, `SET 'a'b\r\n`]) {
      expect(decode(`PING\r\n${line}PING\r\n`)).toEqual({
        commands: [["PING"]],
        error: "Protocol error: unbalanced quotes in request",
      });
    }
  });

  test("a line longer than the inline limit is an error, with or without its newline", () => {
    const long = "a".repeat(DEFAULT_RESP_LIMITS.maxInlineLength + 1);
    expect(decode(long).error).toBe("Protocol error: too big inline request");
    expect(decode(`${long}\r\n`).error).toBe("Protocol error: too big inline request");
    expect(decode(`${"a".repeat(DEFAULT_RESP_LIMITS.maxInlineLength - 1)}\r\n`).commands).toHaveLength(1);
    expect(decode("abcdef", { maxInlineLength: 5 }).error).toBe("Protocol error: too big inline request");
    expect(decode("abcd\r\n", { maxInlineLength: 5 })).toEqual({ commands: [["abcd"]], error: null });
  });
});

describe("protocol errors carry redis's text", () => {
  const cases: [string, string][] = [
    ["*abc\r\n", "Protocol error: invalid multibulk length"],
    ["*\r\n", "Protocol error: invalid multibulk length"],
    ["*01\r\n", "Protocol error: invalid multibulk length"],
    ["*+1\r\n", "Protocol error: invalid multibulk length"],
    ["*-0\r\n", "Protocol error: invalid multibulk length"],
    ["*1 \r\n", "Protocol error: invalid multibulk length"],
    ["*1048577\r\n", "Protocol error: invalid multibulk length"],
    ["*9223372036854775808\r\n", "Protocol error: invalid multibulk length"],
    ["*-9223372036854775809\r\n", "Protocol error: invalid multibulk length"],
    ["*1\r\n$abc\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$-1\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$2147483648\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'"],
    ["*1\r\n\r\n", "Protocol error: expected '$', got ' '"],
    [`*${"1".repeat(70_000)}`, "Protocol error: too big mbulk count string"],
    [`*1\r\n$${"1".repeat(70_000)}\r\n`, "Protocol error: too big bulk count string"],
  ];
  for (const [input, error] of cases) {
    test(JSON.stringify(input.slice(0, 24)), () => {
      expect(decode(`PING\r\n${input}`)).toEqual({ commands: [["PING"]], error });
    });
  }

  test("the largest allowed bulk header is accepted without allocating for it", () => {
    const d = new RespDecoder();
    d.push(bytes(`*1\r\n$${DEFAULT_RESP_LIMITS.maxBulkLength}\r\nabc`));
    expect(d.next()).toBeNull();
    expect(d.error).toBeNull();
    expect(d.pendingBytes).toBe(3);
  });

  test("limits are configurable", () => {
    const limits = { maxBulkLength: 3, maxMultibulkLength: 2 };
    expect(decode("*1\r\n$3\r\nabc\r\n", limits).error).toBeNull();
    expect(decode("*1\r\n$4\r\nabcd\r\n", limits).error).toBe("Protocol error: invalid bulk length");
    expect(decode("*3\r\n", limits).error).toBe("Protocol error: invalid multibulk length");
  });

  test("a client that has not authenticated gets redis's small limits", () => {
    const stranger = (input: string): Decoded => {
      const d = new RespDecoder();
      d.setAuthenticated(false);
      d.push(bytes(input));
      const commands: string[][] = [];
      for (let a = d.next(); a !== null; a = d.next()) commands.push(a.map(text));
      return { commands, error: d.error };
    };
    expect(stranger(`*10\r\n${"$1\r\na\r\n".repeat(10)}`).commands).toHaveLength(1);
    expect(stranger("*11\r\n").error).toBe("Protocol error: unauthenticated multibulk length");
    expect(stranger("*1\r\n$16385\r\n").error).toBe("Protocol error: unauthenticated bulk length");
    expect(stranger("*1\r\n$16384\r\n").error).toBeNull();
    expect(stranger("*1\r\n$2147483648\r\n").error).toBe("Protocol error: invalid bulk length");
    expect(stranger("*x\r\n").error).toBe("Protocol error: invalid multibulk length");
  });

  test("after an error nothing more is decoded", () => {
    const d = new RespDecoder();
    d.push(bytes("*x\r\n"));
    expect(d.next()).toBeNull();
    d.push(bytes("PING\r\n"));
    expect(d.next()).toBeNull();
    expect(d.error).toBe("Protocol error: invalid multibulk length");
    expect(d.pendingBytes).toBe(0);
  });
});

describe("properties", () => {
  const arg = fc.uint8Array({ maxLength: 40 });
  const command = fc.array(arg, { minLength: 1, maxLength: 6 });
  const word = fc.stringMatching(/^[A-Za-z0-9_:.-]{1,12}$/);
  const inlineCommand = fc.array(word, { minLength: 1, maxLength: 5 });
  type Item = { kind: "multi"; argv: Uint8Array[] } | { kind: "inline"; argv: string[] };
  const item: fc.Arbitrary<Item> = fc.oneof(
    command.map((argv) => ({ kind: "multi" as const, argv })),
    inlineCommand.map((argv) => ({ kind: "inline" as const, argv })),
  );
  const cuts = fc.array(fc.nat(), { maxLength: 30 });

  test("any command sequence split at any byte boundaries decodes to the same commands", () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), cuts, (items, cutPoints) => {
        const wire = concat(
          items.map((it) => (it.kind === "multi" ? multibulk(it.argv) : bytes(`${it.argv.join(" ")}\r\n`))),
        );
        const expected = items.map((it) => (it.kind === "multi" ? it.argv.map(text) : it.argv));
        expect(decodeChunks([wire])).toEqual({ commands: expected, error: null });
        expect(decodeChunks(splitAt(wire, cutPoints))).toEqual({ commands: expected, error: null });
      }),
      { numRuns: 400 },
    );
  });

  test("byte-by-byte delivery decodes the same", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 5 }), (commands) => {
        const wire = concat(commands.map(multibulk));
        const oneByOne = Array.from(wire, (b) => Uint8Array.of(b));
        expect(decodeChunks(oneByOne).commands).toEqual(commands.map((c) => c.map(text)));
      }),
      { numRuns: 100 },
    );
  });

  // Garbage made of protocol-ish pieces reaches the interesting states far more often than
  // uniform bytes; small limits make the limit checks reachable too.
  const piece = fc.oneof(
    fc.constantFrom("*", "$", "\r\n", "\r", "\n", "0", "1", "2", "3", "-", " ", '"', "'", "\\", "\\x4", "a", "\0"),
    fc.string({ maxLength: 4 }),
  );
  const garbage = fc.oneof(
    fc.array(piece, { maxLength: 60 }).map((p) => bytes(p.join("").replace(/[^\0-\xff]/g, "?"))),
    fc.uint8Array({ maxLength: 200 }),
  );
  const smallLimits: Partial<RespLimits> = { maxBulkLength: 20, maxMultibulkLength: 6, maxInlineLength: 16 };

  test("arbitrary garbage never throws and decodes the same however it is split", () => {
    fc.assert(
      fc.property(garbage, cuts, fc.boolean(), (wire, cutPoints, small) => {
        const limits = small ? smallLimits : undefined;
        const whole = decodeChunks([wire], limits);
        expect(decodeChunks(splitAt(wire, cutPoints), limits)).toEqual(whole);
        // Commands come first; at most one error, after which nothing is decoded.
        expect(whole.error === null || whole.error.startsWith("Protocol error: ")).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
