// Wire and state types of the SWIM core. Messages are plain objects so any codec (msgpack on the
// wire, direct hand-off in the simulator) can carry them; validate.ts checks decoded input.

export type MemberState = "alive" | "suspect" | "dead" | "left";

/** Small per-member metadata spread by gossip. Bounded in size by the config. */
export interface MemberMeta {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly respAddr: string;
  readonly httpAddr: string;
  readonly raftAddr: string;
  readonly zone: string;
  readonly version: string;
  /** Gossip-reported load (e.g. ops/s or in-flight requests); routing compares it across members. */
  readonly load: number;
  /**
   * Which data dir the node runs on (src/node-identity.ts): a node id back on a wiped data dir
   * announces another one, so the cluster can tell it from the member it was. Absent from nodes
   * of older versions.
   */
  readonly dataDirId?: string;
}

export type Msg =
  | { readonly t: "ping"; readonly seq: number; readonly target: string }
  | { readonly t: "ack"; readonly seq: number }
  | { readonly t: "nack"; readonly seq: number }
  | { readonly t: "pingreq"; readonly seq: number; readonly target: string; readonly targetAddr: string }
  | AliveMsg
  | SuspectMsg
  | DeadMsg
  | PushPullMsg;

export interface AliveMsg {
  readonly t: "alive";
  readonly id: string;
  readonly inc: number;
  readonly addr: string;
  readonly meta: MemberMeta;
}
export interface SuspectMsg {
  readonly t: "suspect";
  readonly id: string;
  readonly inc: number;
  readonly from: string;
}
/** `from === id` means the member left on its own (graceful leave). */
export interface DeadMsg {
  readonly t: "dead";
  readonly id: string;
  readonly inc: number;
  readonly from: string;
}
export interface PushPullMsg {
  readonly t: "pp";
  /** The sender wants the receiver's full state back. */
  readonly reply: boolean;
  readonly states: readonly PushState[];
}
export interface PushState {
  readonly id: string;
  readonly addr: string;
  readonly inc: number;
  readonly state: MemberState;
  readonly meta: MemberMeta;
}

/** One datagram or TCP frame: the sender's cluster, id and reply address, and its messages. */
export interface Packet {
  readonly c: string;
  readonly f: string;
  readonly a: string;
  readonly m: readonly Msg[];
}

export type Via = "udp" | "tcp";

export interface Send {
  readonly to: string;
  readonly via: Via;
  readonly packet: Packet;
}

export interface MemberView {
  readonly id: string;
  readonly addr: string;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly meta: MemberMeta;
  /** `now` of the last state change, in the caller's clock. */
  readonly stateChangedAt: number;
  /** Last direct probe round-trip time in ms; null until one succeeded. */
  readonly rttMs: number | null;
}

/** `alive` is a suspect member that refuted; `joined` is new or back from dead/left. */
export type GossipEventType = "joined" | "updated" | "alive" | "suspect" | "dead" | "left";

export interface GossipEvent {
  readonly type: GossipEventType;
  readonly at: number;
  readonly member: MemberView;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}
