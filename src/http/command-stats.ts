// Per-command counters and latency histograms, kept in plain arrays and written in Prometheus's
// text format at scrape time. prom-client's labelled observe() cost ~12 % of a GET's CPU (label
// hashing on every call); this costs a Map lookup and a few additions.

export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

interface Stats {
  count: number;
  errors: number;
  sum: number;
  /** Non-cumulative: buckets[i] counts observations in (LATENCY_BUCKETS[i-1], LATENCY_BUCKETS[i]]; the last slot is +Inf. */
  readonly buckets: Float64Array;
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export class CommandStats {
  private readonly byName = new Map<string, Stats>();

  record(name: string, seconds: number, error: boolean): void {
    let s = this.byName.get(name);
    if (!s)
      this.byName.set(
        name,
        (s = { count: 0, errors: 0, sum: 0, buckets: new Float64Array(LATENCY_BUCKETS.length + 1) }),
      );
    s.count++;
    s.sum += seconds;
    if (error) s.errors++;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    s.buckets[i]!++;
  }

  /** flydb_commands_total, flydb_command_errors_total, flydb_command_duration_seconds. */
  exposition(): string {
    const entries = [...this.byName].sort(([a], [b]) => (a < b ? -1 : 1));
    const out: string[] = [
      "# HELP flydb_commands_total Commands processed, by command name",
      "# TYPE flydb_commands_total counter",
      ...entries.map(([n, s]) => `flydb_commands_total{command="${escapeLabel(n)}"} ${s.count}`),
      "# HELP flydb_command_errors_total Commands answered with an error, by command name",
      "# TYPE flydb_command_errors_total counter",
      ...entries.map(([n, s]) => `flydb_command_errors_total{command="${escapeLabel(n)}"} ${s.errors}`),
      "# HELP flydb_command_duration_seconds Time from receiving a command to having its reply, by command name",
      "# TYPE flydb_command_duration_seconds histogram",
    ];
    for (const [n, s] of entries) {
      const label = `command="${escapeLabel(n)}"`;
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        out.push(`flydb_command_duration_seconds_bucket{le="${le}",${label}} ${cumulative}`);
      });
      out.push(`flydb_command_duration_seconds_bucket{le="+Inf",${label}} ${s.count}`);
      out.push(`flydb_command_duration_seconds_sum{${label}} ${s.sum}`);
      out.push(`flydb_command_duration_seconds_count{${label}} ${s.count}`);
    }
    return `${out.join("\n")}\n`;
  }
}
