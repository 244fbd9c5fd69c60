// Lines of a child process's output as they arrive, for tests that wait for a log line.
/** Reads a process's stdout as lines and waits for one that satisfies `match`. */
export class LineReader {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let buf = "";
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        for (const w of this.waiters.splice(0)) w();
      }
      for (const w of this.waiters.splice(0)) w();
    })();
  }
  async waitFor(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.lines.length; seen++) if (match(this.lines[seen])) return this.lines[seen];
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got:\n${this.lines.join("\n")}`);
      let finished = false;
      await Promise.race([
        new Promise<void>((r) => this.waiters.push(r)),
        this.done.then(() => (finished = true)),
        Bun.sleep(left),
      ]);
      if (finished && seen >= this.lines.length) {
        for (; seen < this.lines.length; seen++) if (match(this.lines[seen])) return this.lines[seen];
        throw new Error(`process ended before ${what}; output:\n${this.lines.join("\n")}`);
      }
    }
  }
}
