// Length-prefixed frames for node-to-node TCP: a 4-byte big-endian length, then the payload.
// The length is checked against the limit before any buffer is allocated for the payload, so a
// peer (or garbage on the port) cannot make us allocate gigabytes.

export const FRAME_HEADER = 4;

export class FrameError extends Error {
  override readonly name = "FrameError";
}

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, FRAME_HEADER);
  return out;
}

/** Incremental decoder: push TCP chunks of any size, take whole frames out. */
export class FrameDecoder {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;

  constructor(private readonly maxFrame: number) {}

  /** Appends a chunk; throws FrameError when a header announces more than maxFrame bytes. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk);
    const frames: Uint8Array[] = [];
    for (;;) {
      const avail = this.end - this.start;
      if (avail < FRAME_HEADER) break;
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + this.start, FRAME_HEADER).getUint32(0);
      if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`);
      if (avail < FRAME_HEADER + len) break;
      // Copy out: the buffer is reused for later chunks.
      frames.push(this.buf.slice(this.start + FRAME_HEADER, this.start + FRAME_HEADER + len));
      this.start += FRAME_HEADER + len;
    }
    if (this.start === this.end) this.start = this.end = 0;
    return frames;
  }

  private append(chunk: Uint8Array): void {
    const need = this.end + chunk.length;
    if (need > this.buf.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(Math.max(live + chunk.length, this.buf.length * 2, 4096));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.end = live;
      this.start = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
}
