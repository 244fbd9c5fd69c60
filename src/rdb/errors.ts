/** A payload that does not decode: truncated, inconsistent or of a kind the codec refuses. */
export class RdbFormatError extends Error {
  override readonly name = "RdbFormatError";
}

/** Throws RdbFormatError unless `ok`; the message says which structure broke and where. */
export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new RdbFormatError(what);
}
