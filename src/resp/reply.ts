// Replies are built as RESP3 values; the encoder downgrades them for RESP2 clients
// (map → flat array, set → array, double → bulk string, boolean → integer, null → $-1 or *-1).

export type Reply =
  | { readonly t: "simple"; readonly v: string }
  | { readonly t: "error"; readonly v: string } // "ERR …", "WRONGTYPE …": the code is the first word
  | { readonly t: "int"; readonly v: number | bigint }
  | { readonly t: "bulk"; readonly v: Uint8Array | string }
  | { readonly t: "verbatim"; readonly v: string; readonly format: string } // RESP3 "=" type, e.g. "txt"
  | { readonly t: "nullbulk" } // RESP2 $-1, RESP3 _
  | { readonly t: "nullarray" } // RESP2 *-1, RESP3 _
  | { readonly t: "array"; readonly v: readonly Reply[] }
  | { readonly t: "map"; readonly v: readonly (readonly [Reply, Reply])[] }
  | { readonly t: "set"; readonly v: readonly Reply[] }
  // `text`: how to print it when not %.17g (Redis's human long doubles: GEOPOS, WITHCOORD)
  | { readonly t: "double"; readonly v: number; readonly text?: string }
  | { readonly t: "bool"; readonly v: boolean }
  | { readonly t: "push"; readonly v: readonly Reply[] };

export const OK: Reply = { t: "simple", v: "OK" };
export const QUEUED: Reply = { t: "simple", v: "QUEUED" };
export const NULL_BULK: Reply = { t: "nullbulk" };
export const NULL_ARRAY: Reply = { t: "nullarray" };
export const ZERO: Reply = { t: "int", v: 0 };
export const ONE: Reply = { t: "int", v: 1 };
export const EMPTY_ARRAY: Reply = { t: "array", v: [] };

export const simple = (v: string): Reply => ({ t: "simple", v });
export const err = (v: string): Reply => ({ t: "error", v });
export const int = (v: number | bigint): Reply => ({ t: "int", v });
export const bulk = (v: Uint8Array | string): Reply => ({ t: "bulk", v });
export const bulkOrNull = (v: Uint8Array | string | undefined | null): Reply =>
  v === undefined || v === null ? NULL_BULK : { t: "bulk", v };
export const array = (v: readonly Reply[]): Reply => ({ t: "array", v });
export const bulkArray = (v: readonly (Uint8Array | string)[]): Reply => ({
  t: "array",
  v: v.map(bulk),
});
export const map = (v: readonly (readonly [Reply, Reply])[]): Reply => ({ t: "map", v });
export const set = (v: readonly Reply[]): Reply => ({ t: "set", v });
export const double = (v: number): Reply => ({ t: "double", v });
export const bool = (v: boolean): Reply => ({ t: "bool", v });
export const verbatim = (v: string, format = "txt"): Reply => ({ t: "verbatim", v, format });

export const isError = (r: Reply): r is { t: "error"; v: string } => r.t === "error";
