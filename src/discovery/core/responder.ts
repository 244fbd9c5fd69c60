// The advertising side of mDNS as a pure state machine (RFC 6762 §6–§10): probe the unique names,
// rename on conflict, announce, answer queries, defend names, say goodbye. Time comes in as `now`
// (ms) and randomness as an injected function; the adapter sends what comes out and calls tick()
// at nextWakeAt().
import type { Answer, Message, OutMessage, Question } from "./codec.ts";
import { decodeMessage, rdataBytes, sameName, sameRecord, ttlOf } from "./codec.ts";
import type { ServiceDescription, ServiceRecords } from "./records.ts";
import {
  MDNS_PORT,
  SERVICE_ENUMERATION,
  SERVICE_TYPE,
  allRecords,
  hostName,
  instanceName,
  serviceRecords,
} from "./records.ts";
import { formatHostPort } from "../../net/hostport.ts";

export type Destination =
  | { readonly kind: "multicast" }
  | { readonly kind: "unicast"; readonly address: string; readonly port: number };
export interface Outgoing {
  readonly to: Destination;
  readonly message: OutMessage;
}
export type ResponderEvent =
  | { readonly type: "probing"; readonly instance: string; readonly host: string }
  | {
      readonly type: "renamed";
      readonly kind: "instance" | "host";
      readonly from: string;
      readonly to: string;
      readonly reason: string;
    }
  | { readonly type: "probe-deferred"; readonly name: string }
  | { readonly type: "conflict-after-announce"; readonly name: string }
  | { readonly type: "announced"; readonly instance: string; readonly host: string; readonly count: number }
  | { readonly type: "malformed"; readonly error: string; readonly from: string }
  | { readonly type: "goodbye"; readonly instance: string };
export interface Step {
  readonly send: Outgoing[];
  readonly events: ResponderEvent[];
}
export interface Source {
  readonly address: string;
  readonly port: number;
}
export type Phase = "idle" | "probing" | "announcing" | "announced" | "stopped";

export interface ResponderOptions {
  /** Uniform in [0, 1): probe start jitter and shared-answer delays. */
  readonly random: () => number;
  /** True for an address of this machine: another responder (avahi) claiming it for our host name is no conflict. */
  readonly isLocalAddress?: (address: string) => boolean;
}

const PROBES = 3;
/** RFC 6762 §8.3: at least two announcements, one second apart (then doubling). */
const ANNOUNCEMENTS = 2;
const PROBE_INTERVAL_MS = 250;
const ANNOUNCE_INTERVAL_MS = 1000;
const LOST_TIEBREAK_DELAY_MS = 1000;
const MULTICAST_MIN_INTERVAL_MS = 1000;
const DEFENCE_MIN_INTERVAL_MS = 250;
const LEGACY_TTL_CAP = 10;
const CONFLICT_BURST = 15;
const CONFLICT_WINDOW_MS = 10_000;
const CONFLICT_BACKOFF_MS = 5000;

export interface ResponderStats {
  packets: number;
  malformedPackets: number;
  skippedRecords: number;
  answers: number;
  conflicts: number;
}

export class Responder {
  private desc: ServiceDescription;
  private records: ServiceRecords;
  private phase: Phase = "idle";
  private probesSent = 0;
  private announcementsSent = 0;
  private wakeAt: number | null = null;
  private readonly pending: { at: number; out: Outgoing }[] = [];
  private readonly lastMulticast = new Map<string, number>();
  private readonly conflictTimes: number[] = [];
  private readonly baseInstance: string;
  private readonly baseHost: string;
  private instanceSuffix = 1;
  private hostSuffix = 1;
  readonly stats: ResponderStats = { packets: 0, malformedPackets: 0, skippedRecords: 0, answers: 0, conflicts: 0 };

  constructor(
    desc: ServiceDescription,
    private readonly opts: ResponderOptions,
  ) {
    this.desc = desc;
    this.records = serviceRecords(desc);
    this.baseInstance = desc.instance;
    this.baseHost = desc.host;
  }

  get state(): Phase {
    return this.phase;
  }
  get instance(): string {
    return this.desc.instance;
  }
  get host(): string {
    return this.desc.host;
  }

  start(now: number): Step {
    if (this.phase !== "idle") throw new Error(`responder for ${this.desc.instance} already started (${this.phase})`);
    return this.beginProbing(now, this.opts.random() * PROBE_INTERVAL_MS);
  }

  nextWakeAt(): number | null {
    const times = this.pending.map((p) => p.at);
    if (this.wakeAt !== null) times.push(this.wakeAt);
    return times.length ? Math.min(...times) : null;
  }

  tick(now: number): Step {
    const step: Step = { send: [], events: [] };
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i].at > now) continue;
      const [p] = this.pending.splice(i, 1);
      this.noteMulticast(p.out, now);
      step.send.push(p.out);
    }
    if (this.wakeAt === null || this.wakeAt > now) return step;
    if (this.phase === "probing") {
      if (this.probesSent < PROBES) {
        this.probesSent++;
        step.send.push(this.probe());
        this.wakeAt = now + PROBE_INTERVAL_MS;
      } else {
        this.phase = "announcing";
        this.announcementsSent = 0;
      }
    }
    if (this.phase === "announcing" && this.wakeAt <= now) {
      this.announcementsSent++;
      const out: Outgoing = {
        to: { kind: "multicast" },
        message: { isResponse: true, answers: allRecords(this.records) },
      };
      this.noteMulticast(out, now);
      step.send.push(out);
      step.events.push({
        type: "announced",
        instance: this.desc.instance,
        host: this.desc.host,
        count: this.announcementsSent,
      });
      if (this.announcementsSent >= ANNOUNCEMENTS) {
        this.phase = "announced";
        this.wakeAt = null;
      } else {
        this.wakeAt = now + ANNOUNCE_INTERVAL_MS * 2 ** (this.announcementsSent - 1);
      }
    }
    return step;
  }

  /** Goodbye for the service records (TTL 0). Host address records are left to expire: avahi may own the same ones. */
  stop(): Step {
    const wasLive = this.phase === "announcing" || this.phase === "announced";
    this.phase = "stopped";
    this.wakeAt = null;
    this.pending.length = 0;
    if (!wasLive) return { send: [], events: [] };
    const bye = serviceRecords(this.desc, 0);
    return {
      send: [{ to: { kind: "multicast" }, message: { isResponse: true, answers: [bye.ptr, bye.srv, bye.txt] } }],
      events: [{ type: "goodbye", instance: this.desc.instance }],
    };
  }

  receive(bytes: Uint8Array, from: Source, now: number): Step {
    const step: Step = { send: [], events: [] };
    if (this.phase === "idle" || this.phase === "stopped") return step;
    this.stats.packets++;
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) {
      this.stats.malformedPackets++;
      step.events.push({ type: "malformed", error: decoded.error, from: formatHostPort(from.address, from.port) });
      return step;
    }
    const msg = decoded.message;
    this.stats.skippedRecords += msg.skippedRecords;
    if (msg.isResponse) {
      const name = this.conflictingName(msg);
      if (name === null) return step;
      this.stats.conflicts++;
      if (this.phase === "probing") return this.renameAndReprobe(name, now, "another responder answered for it");
      // RFC 6762 §9: a conflict seen after announcing sends us back to probing, where the
      // simultaneous-probe tie-break or the other side's answer decides who renames.
      step.events.push({ type: "conflict-after-announce", name });
      return merge(step, this.beginProbing(now, 0));
    }
    if (this.phase === "probing") {
      const lost = this.lostTiebreak(msg);
      if (lost !== null) {
        step.events.push({ type: "probe-deferred", name: lost });
        this.probesSent = 0;
        this.wakeAt = now + LOST_TIEBREAK_DELAY_MS;
      }
      return step;
    }
    this.answer(msg, from, now, step);
    return step;
  }

  private beginProbing(now: number, delay: number): Step {
    this.phase = "probing";
    this.probesSent = 0;
    this.wakeAt = now + delay;
    this.pending.length = 0;
    return { send: [], events: [{ type: "probing", instance: this.desc.instance, host: this.desc.host }] };
  }

  private probe(): Outgoing {
    const r = this.records;
    return {
      to: { kind: "multicast" },
      message: {
        isResponse: false,
        questions: [
          { name: instanceName(this.desc.instance), type: "ANY" },
          { name: hostName(this.desc.host), type: "ANY" },
        ],
        authorities: [r.srv, r.txt, ...r.addresses],
      },
    };
  }

  /** Our unique records of a given name: SRV+TXT for the instance, A/AAAA for the host. */
  private uniqueRecordsNamed(name: string): Answer[] {
    if (sameName(name, instanceName(this.desc.instance))) return [this.records.srv, this.records.txt];
    if (sameName(name, hostName(this.desc.host))) return [...this.records.addresses];
    return [];
  }

  private conflictingName(msg: Message): string | null {
    for (const rec of [...msg.answers, ...msg.authorities, ...msg.additionals]) {
      if (ttlOf(rec) === 0) continue;
      const ours = this.uniqueRecordsNamed(rec.name);
      if (!ours.some((o) => o.type === rec.type)) continue; // NSEC, HINFO…: not a claim on our data
      if (ours.some((o) => sameRecord(o, rec))) continue;
      if (
        (rec.type === "A" || rec.type === "AAAA") &&
        typeof rec.data === "string" &&
        this.opts.isLocalAddress?.(rec.data)
      )
        continue;
      return rec.name;
    }
    return null;
  }

  /** RFC 6762 §8.2: simultaneous probes; the lexicographically later record set wins. Returns the name we lost. */
  private lostTiebreak(msg: Message): string | null {
    if (msg.authorities.length === 0) return null;
    for (const q of msg.questions) {
      const ours = this.uniqueRecordsNamed(q.name);
      if (ours.length === 0) continue;
      const theirs = msg.authorities.filter((a) => sameName(a.name, q.name));
      if (theirs.length === 0) continue;
      if (compareRecordSets(ours, theirs) < 0) return q.name;
    }
    return null;
  }

  private renameAndReprobe(name: string, now: number, reason: string): Step {
    const events: ResponderEvent[] = [];
    const from = name;
    if (sameName(name, instanceName(this.desc.instance))) {
      this.instanceSuffix++;
      this.desc = { ...this.desc, instance: `${this.baseInstance} (${this.instanceSuffix})` };
      events.push({ type: "renamed", kind: "instance", from, to: instanceName(this.desc.instance), reason });
    } else {
      this.hostSuffix++;
      this.desc = { ...this.desc, host: `${this.baseHost}-${this.hostSuffix}` };
      events.push({ type: "renamed", kind: "host", from, to: hostName(this.desc.host), reason });
    }
    this.records = serviceRecords(this.desc);
    // RFC 6762 §8.1: more than 15 conflicts in 10 s means something is wrong; slow down to one probe per 5 s.
    this.conflictTimes.push(now);
    while (this.conflictTimes.length && this.conflictTimes[0] < now - CONFLICT_WINDOW_MS) this.conflictTimes.shift();
    const delay = this.conflictTimes.length > CONFLICT_BURST ? CONFLICT_BACKOFF_MS : 0;
    const step = this.beginProbing(now, delay);
    return { send: step.send, events: [...events, ...step.events] };
  }

  private answer(msg: Message, from: Source, now: number, step: Step): void {
    const legacy = from.port !== MDNS_PORT;
    const isProbe = msg.authorities.length > 0;
    const multicast: Answer[] = [];
    const unicast: Answer[] = [];
    for (const q of msg.questions) {
      for (const rec of this.matching(q)) {
        if (msg.answers.some((k) => sameRecord(k, rec) && ttlOf(k) >= ttlOf(rec) / 2)) continue; // known-answer suppression
        if (legacy || (q.qu && !isProbe && !this.multicastRecently(rec, now, ttlOf(rec) * 250))) unicast.push(rec);
        else multicast.push(rec);
      }
    }
    if (legacy) {
      if (unicast.length === 0) return;
      // RFC 6762 §6.7: a one-shot querier gets a conventional DNS reply: same id, the question
      // repeated, no cache-flush bits, TTLs of at most 10 s.
      const capped = (a: Answer): Answer => ({ ...a, flush: false, ttl: Math.min(ttlOf(a), LEGACY_TTL_CAP) }) as Answer;
      step.send.push({
        to: { kind: "unicast", address: from.address, port: from.port },
        message: {
          id: msg.id,
          isResponse: true,
          questions: msg.questions.map(plainQuestion),
          answers: unique(unicast).map(capped),
          additionals: this.additionalsFor(unicast).map(capped),
        },
      });
      this.stats.answers++;
      return;
    }
    if (unicast.length) {
      step.send.push({
        to: { kind: "unicast", address: from.address, port: from.port },
        message: { isResponse: true, answers: unique(unicast), additionals: this.additionalsFor(unicast) },
      });
      this.stats.answers++;
    }
    const minInterval = isProbe ? DEFENCE_MIN_INTERVAL_MS : MULTICAST_MIN_INTERVAL_MS;
    const fresh = unique(multicast).filter((r) => !this.multicastRecently(r, now, minInterval));
    if (fresh.length === 0) return;
    const out: Outgoing = {
      to: { kind: "multicast" },
      message: { isResponse: true, answers: fresh, additionals: this.additionalsFor(fresh) },
    };
    this.stats.answers++;
    // Answers to a shared (PTR) question wait 20–120 ms so several responders do not collide (§6);
    // unique answers and probe defences go at once.
    if (!isProbe && fresh.some((r) => r.type === "PTR")) {
      this.pending.push({ at: now + 20 + this.opts.random() * 100, out });
    } else {
      this.noteMulticast(out, now);
      step.send.push(out);
    }
  }

  private matching(q: Question): Answer[] {
    const r = this.records;
    const pool = sameName(q.name, SERVICE_TYPE)
      ? [r.ptr]
      : sameName(q.name, SERVICE_ENUMERATION)
        ? [r.enumeration]
        : sameName(q.name, instanceName(this.desc.instance))
          ? [r.srv, r.txt]
          : sameName(q.name, hostName(this.desc.host))
            ? [...r.addresses]
            : [];
    return q.type === "ANY" ? pool : pool.filter((a) => a.type === q.type);
  }

  /** RFC 6763 §12: a PTR answer brings SRV, TXT and addresses; an SRV answer brings addresses. */
  private additionalsFor(answers: Answer[]): Answer[] {
    const r = this.records;
    const extra: Answer[] = [];
    if (answers.includes(r.ptr)) extra.push(r.srv, r.txt);
    if (answers.includes(r.ptr) || answers.includes(r.srv)) extra.push(...r.addresses);
    return unique(extra).filter((a) => !answers.includes(a));
  }

  private multicastRecently(rec: Answer, now: number, withinMs: number): boolean {
    const last = this.lastMulticast.get(recordKey(rec));
    return last !== undefined && now - last < withinMs;
  }

  private noteMulticast(out: Outgoing, now: number): void {
    if (out.to.kind !== "multicast") return;
    for (const a of out.message.answers ?? []) this.lastMulticast.set(recordKey(a), now);
  }
}

function recordKey(a: Answer): string {
  return `${a.name.toLowerCase()}|${rdataBytes(a).toString("hex")}`;
}

function unique(records: Answer[]): Answer[] {
  return [...new Set(records)];
}

function plainQuestion(q: Question): { name: string; type: string } {
  return { name: q.name, type: q.type };
}

function merge(a: Step, b: Step): Step {
  return { send: [...a.send, ...b.send], events: [...a.events, ...b.events] };
}

/** Compare two record sets as RFC 6762 §8.2 orders them: sorted, then pairwise by class, type, rdata. */
export function compareRecordSets(a: readonly Answer[], b: readonly Answer[]): number {
  const sa = a.map(rdataBytes).sort((x, y) => x.compare(y));
  const sb = b.map(rdataBytes).sort((x, y) => x.compare(y));
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const c = sa[i].compare(sb[i]);
    if (c !== 0) return c;
  }
  return sa.length - sb.length;
}
