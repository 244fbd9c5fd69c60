// Pure rendering of the admin commands' output: aligned tables for people, and the exit codes
// scripts rely on. No I/O here, so test/unit/admin-format.test.ts covers it without a node.

/** Exit codes of the admin subcommands (documented in docs/CLUSTER_SETUP.md and `flydb --help`). */
export const EXIT = {
  ok: 0,
  /** The node answered with a failure, or was not ready/healthy when the wait ran out. */
  failed: 1,
  usage: 2,
  /** Nothing answered at the address (refused, unresolvable, or no reply in time). */
  unreachable: 3,
} as const;

/** Rows under a header, each column as wide as its widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** Key/value lines with the values aligned. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return `${pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join("\n")}\n`;
}

/** The member fields of GET /cluster/status the commands show (see src/http/cluster-status.ts). */
export interface MemberView {
  readonly id: string;
  readonly state: string;
  readonly zone?: string;
  readonly version?: string;
  readonly addresses?: Partial<Record<"resp" | "http" | "raft" | "gossip", string>>;
}

/** GET /cluster/status: a standalone node sends only `node`, `keys` and `connected_clients`. */
export interface StatusView {
  readonly node: { id: string; version: string; role: string; uptime_seconds: number };
  readonly keys: number;
  readonly connected_clients: number;
  readonly cluster_id?: string;
  readonly metadata_leader?: string | null;
  readonly map_version?: number;
  readonly members?: readonly MemberView[];
  readonly partitions?: {
    total: number;
    healthy: number;
    under_replicated: number;
    leaderless: number;
    leaders_per_node?: Record<string, number>;
  };
}

/** GET /cluster/partitions (see src/http/cluster-status.ts). */
export interface PartitionsView {
  readonly partitions: readonly {
    partition: number;
    group: number;
    slots: readonly [number, number];
    voters: readonly string[];
    learners: readonly string[];
    leader: string | null;
    term: number;
    healthy: boolean;
  }[];
}

const orDash = (s: string | null | undefined) => (s === undefined || s === null || s === "" ? "-" : s);

export function formatStatus(s: StatusView): string {
  const pairs: [string, string][] = [
    ["node", s.node.id],
    ["role", s.node.role],
    ["version", s.node.version],
    ["uptime", `${s.node.uptime_seconds}s`],
    ["keys", String(s.keys)],
    ["clients", String(s.connected_clients)],
  ];
  if (s.cluster_id !== undefined) pairs.push(["cluster", s.cluster_id]);
  if (s.metadata_leader !== undefined) pairs.push(["metadata leader", orDash(s.metadata_leader)]);
  if (s.map_version !== undefined) pairs.push(["map version", String(s.map_version)]);
  if (s.members) {
    const alive = s.members.filter((m) => m.state === "alive").length;
    pairs.push(["members", `${s.members.length} (${alive} alive)`]);
  }
  if (s.partitions) {
    const p = s.partitions;
    pairs.push([
      "partitions",
      `${p.healthy}/${p.total} healthy, ${p.under_replicated} under-replicated, ${p.leaderless} leaderless`,
    ]);
  }
  return fields(pairs);
}

export function formatMembers(s: StatusView): string {
  const leads = s.partitions?.leaders_per_node ?? {};
  const rows = (s.members ?? []).map((m) => [
    m.id,
    m.state,
    orDash(m.zone),
    orDash(m.version),
    orDash(m.addresses?.resp),
    orDash(m.addresses?.http),
    orDash(m.addresses?.raft),
    orDash(m.addresses?.gossip),
    String(leads[m.id] ?? 0),
  ]);
  return table(["ID", "STATE", "ZONE", "VERSION", "RESP", "HTTP", "RAFT", "GOSSIP", "LEADS"], rows);
}

export function formatPartitions(p: PartitionsView): string {
  const rows = p.partitions.map((x) => [
    String(x.partition),
    String(x.group),
    `${x.slots[0]}-${x.slots[1]}`,
    orDash(x.leader),
    String(x.term),
    x.voters.join(",") || "-",
    x.learners.join(",") || "-",
    x.healthy ? "yes" : "no",
  ]);
  return table(["PARTITION", "GROUP", "SLOTS", "LEADER", "TERM", "VOTERS", "LEARNERS", "HEALTHY"], rows);
}

/** A duration flag: "30s", "500ms", "2m", or a bare number of seconds; undefined when it is none. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000;
  return Math.round(Number(m[1]) * unit);
}

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";

/** The live line `wait` redraws on a terminal. */
export function waitLine(tick: number, what: string, addr: string, elapsedMs: number, state: string): string {
  const seconds = (elapsedMs / 1000).toFixed(1);
  return `${SPINNER[tick % SPINNER.length]} waiting for ${addr} to be ${what} ${seconds}s (${state})`;
}
