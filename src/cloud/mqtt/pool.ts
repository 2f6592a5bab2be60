/**
 * A paced pool of MQTT connections, one per device, for platforms where every device connects on its own
 * (Huawei device management, Lierda). Protocol-free: the adapter builds each member's `MqttLinkOptions`
 * (credentials callback, subscriptions, CONNACK codes that mean a refusal) and reads topics and payloads itself.
 *
 * API
 * - `new MqttPool({ connectsPerSecond, maxConnections, logger, burst?, closeBeforeConnackIsRefusal? })`
 * - `add(id, { link, priority? })` → the member's `MqttLink` (an id already present keeps its link and options).
 *   Members are keyed by route id (the device key). Priority members (the gateway's own device) are opened
 *   before every other waiting member and do not count against `maxConnections`; the others open in the
 *   order they were added.
 * - `start()`: begins opening members (members added before it wait in state `waiting`); `add` after `start`
 *   queues the new member at once.
 * - `remove(id)`: DISCONNECT (when connected; a socket still waiting for its CONNACK is closed instead), no
 *   reconnection, the member is forgotten; its slot goes to the next member waiting for one. Resolves when the
 *   DISCONNECT went out.
 * - `stop(order, deadlineMs)`: `"priorityLast"` closes every other member first (in parallel), then the
 *   priority members; `"together"` closes all at once. Bounded by `deadlineMs` (members that did not finish by
 *   then are left closing). No reconnection after it.
 * - `link(id)`, `has(id)`, `ids()`, `member(id)`, `members()`, `counts()` (members per state).
 * - Events: `up` (id) after CONNACK and the SUBACKs, `down` (id, reason) when an online member lost its
 *   connection (including `remove` and `stop`), `state` (id, state, reason), `message` (id, topic, payload).
 *
 * Pacing: every CONNECT of the pool, first connects and reconnects alike, takes a token from one bucket of
 * `connectsPerSecond` (burst = `burst`, default the rate), so a broker outage with 1,000 members reconnects them
 * at that rate instead of all within the first backoff step. Therefore the pool, not the link, times retries:
 * when a link fails an attempt, the pool stops it and starts it again after its own per-member backoff
 * (`reconnectMinMs`..`reconnectMaxMs` of the member's link options, doubling, jitter [0.5, 1]); a refusal
 * (the link's `refused` state: a CONNACK code of `credentialRefusals`, or, with `closeBeforeConnackIsRefusal`,
 * a socket the server closed before any CONNACK) waits `reconnectMaxMs`, never less. The backoff resets after a
 * connection stayed up `stableMs` (default 60 s).
 *
 * Cap: at most `maxConnections` non-priority members hold a connection slot (connecting, online, in backoff or
 * refused); the others stay in state `overLimit`, are not connected, and get a slot in order as slots free.
 *
 * Member states: `waiting` (before `start`, or waiting for a connect token), `overLimit`, `connecting`,
 * `online`, `backoff`, `refused`, `stopped` (after `stop`). Each has a reason (secret-free) and a since.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { Backoff } from "../../core/backoff.js";
import { TokenBucket } from "../../core/token-bucket.js";
import type { MqttClient } from "mqtt";
import { MqttLink, type MqttLinkOptions } from "./link.js";

export type PoolMemberState = "waiting" | "overLimit" | "connecting" | "online" | "backoff" | "refused" | "stopped";
export const POOL_MEMBER_STATES: readonly PoolMemberState[] = ["waiting", "overLimit", "connecting", "online", "backoff", "refused", "stopped"];

export type StopOrder = "priorityLast" | "together";

export interface MqttPoolOptions {
  /** CONNECT attempts per second across the pool. */
  connectsPerSecond: number;
  /** Tokens available at once (default: `connectsPerSecond`). */
  burst?: number;
  /** Non-priority members connected at once. */
  maxConnections: number;
  logger: Logger;
  /** A socket the server closed before any CONNACK counts as a refusal (retried at the cap). */
  closeBeforeConnackIsRefusal?: boolean;
  /** Jitter source (tests). */
  random?: () => number;
}

export interface PoolMemberOptions {
  link: MqttLinkOptions;
  priority?: boolean;
}

export interface PoolMemberStatus {
  id: string;
  state: PoolMemberState;
  since: number;
  reason?: string;
  priority: boolean;
  /** CONNECT attempts so far. */
  attempts: number;
  /** Successful connections so far. */
  connects: number;
  refusals: number;
}

type PoolEvents = {
  up: [id: string];
  down: [id: string, reason: string];
  state: [id: string, state: PoolMemberState, reason: string | undefined];
  message: [id: string, topic: string, payload: Buffer];
};

interface Member {
  id: string;
  seq: number;
  link: MqttLink;
  priority: boolean;
  backoff: Backoff;
  stableMs: number;
  state: PoolMemberState;
  reason: string | undefined;
  since: number;
  hasSlot: boolean;
  queued: boolean;
  online: boolean;
  onlineAt: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** Bumped whenever the pool stops the link itself, so late events of a stopped attempt are ignored. */
  epoch: number;
  gone: boolean;
  attempts: number;
  connects: number;
  refusals: number;
}

const CLOSED_BEFORE_CONNACK = "connection closed before CONNACK";

export class MqttPool extends EventEmitter<PoolEvents> {
  private readonly byId = new Map<string, Member>();
  private readonly bucket: TokenBucket;
  private readonly queue: Member[] = [];
  private pumpTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private seq = 0;
  private loggedOverLimit = false;

  constructor(private readonly o: MqttPoolOptions) {
    super();
    this.setMaxListeners(0);
    if (!(o.maxConnections >= 0)) throw new Error(`invalid maxConnections ${o.maxConnections}`);
    this.bucket = new TokenBucket(o.connectsPerSecond, o.burst ?? o.connectsPerSecond);
  }

  add(id: string, opts: PoolMemberOptions): MqttLink {
    const existing = this.byId.get(id);
    if (existing) return existing.link;
    const link = new MqttLink(opts.link);
    const m: Member = {
      id,
      seq: this.seq++,
      link,
      priority: opts.priority ?? false,
      backoff: new Backoff(opts.link.reconnectMinMs, opts.link.reconnectMaxMs, this.o.random),
      stableMs: opts.link.stableMs ?? 60_000,
      state: "waiting",
      reason: undefined,
      since: Date.now(),
      hasSlot: false,
      queued: false,
      online: false,
      onlineAt: 0,
      retryTimer: undefined,
      epoch: 0,
      gone: false,
      attempts: 0,
      connects: 0,
      refusals: 0,
    };
    this.byId.set(id, m);
    link.on("message", (topic, payload) => {
      if (!m.gone) this.emit("message", id, topic, payload);
    });
    link.on("connected", () => this.onConnected(m));
    link.on("disconnected", (reason) => this.onDisconnected(m, reason));
    link.on("state", (state, reason) => this.onLinkState(m, state, reason));
    if (this.started && !this.stopping) this.admit(m);
    return link;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  link(id: string): MqttLink | undefined {
    return this.byId.get(id)?.link;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    for (const m of [...this.byId.values()].sort(order)) this.admit(m);
  }

  async remove(id: string): Promise<void> {
    const m = this.byId.get(id);
    if (!m) return;
    this.byId.delete(id);
    const wasOnline = m.online;
    m.online = false;
    m.gone = true;
    m.epoch++;
    clearTimeout(m.retryTimer);
    this.unqueue(m);
    const hadSlot = m.hasSlot;
    m.hasSlot = false;
    await stopLink(m.link);
    m.link.removeAllListeners();
    this.setState(m, "stopped", "removed");
    if (wasOnline) this.emit("down", id, "removed");
    if (hadSlot) this.grantSlots();
  }

  async stop(order: StopOrder, deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.pumpTimer);
    this.queue.length = 0;
    const deadline = Date.now() + Math.max(0, deadlineMs);
    const all = [...this.byId.values()];
    for (const m of all) {
      clearTimeout(m.retryTimer);
      m.queued = false;
      m.epoch++;
    }
    const close = async (ms: Member[], until: number) => {
      const left = until - Date.now();
      if (ms.length === 0 || left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(ms.map((m) => this.closeMember(m))),
        new Promise<void>((r) => (timer = setTimeout(r, left))),
      ]);
      clearTimeout(timer);
    };
    if (order === "together") {
      await close(all, deadline);
    } else {
      // Leave the priority members (the gateway) a quarter of the time, at least, for their own DISCONNECT.
      const firstUntil = deadline - Math.min(2_000, Math.max(0, deadline - Date.now()) / 4);
      await close(all.filter((m) => !m.priority), firstUntil);
      await close(all.filter((m) => m.priority), deadline);
    }
  }

  member(id: string): PoolMemberStatus | undefined {
    const m = this.byId.get(id);
    return m ? view(m) : undefined;
  }

  members(): PoolMemberStatus[] {
    return [...this.byId.values()].sort(order).map(view);
  }

  counts(): Record<PoolMemberState, number> {
    const c = Object.fromEntries(POOL_MEMBER_STATES.map((s) => [s, 0])) as Record<PoolMemberState, number>;
    for (const m of this.byId.values()) c[m.state]++;
    return c;
  }

  // ---------------------------------------------------------------- internals

  private async closeMember(m: Member): Promise<void> {
    await stopLink(m.link);
    this.setState(m, "stopped", undefined);
    if (m.online) {
      m.online = false;
      this.emit("down", m.id, "stopped");
    }
  }

  /** Gives the member a slot when it needs one and one is free, then queues it for a connect token. */
  private admit(m: Member): void {
    if (m.gone || this.stopping) return;
    if (!m.priority && !m.hasSlot) {
      if (this.slotsUsed() >= this.o.maxConnections) {
        this.setState(m, "overLimit", `more than ${this.o.maxConnections} connections`);
        if (!this.loggedOverLimit) {
          this.loggedOverLimit = true;
          this.o.logger.warn({ maxConnections: this.o.maxConnections }, "connection limit reached: further devices are not connected");
        }
        return;
      }
      m.hasSlot = true;
    }
    this.enqueue(m);
  }

  private slotsUsed(): number {
    let n = 0;
    for (const m of this.byId.values()) if (m.hasSlot) n++;
    return n;
  }

  private grantSlots(): void {
    if (!this.started || this.stopping) return;
    const waiting = [...this.byId.values()].filter((m) => m.state === "overLimit").sort(order);
    for (const m of waiting) {
      if (this.slotsUsed() >= this.o.maxConnections) return;
      this.admit(m);
    }
  }

  private enqueue(m: Member): void {
    if (m.queued) return;
    m.queued = true;
    this.setState(m, "waiting", m.reason);
    this.queue.push(m);
    this.queue.sort(order);
    this.pump();
  }

  private unqueue(m: Member): void {
    const i = this.queue.indexOf(m);
    if (i >= 0) this.queue.splice(i, 1);
    m.queued = false;
  }

  private pump(): void {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    while (this.queue.length > 0 && !this.stopping) {
      if (this.bucket.available() < 1) {
        this.pumpTimer = setTimeout(() => this.pump(), Math.max(1, this.bucket.msUntilToken()));
        return;
      }
      const m = this.queue.shift()!;
      m.queued = false;
      if (m.gone) continue;
      this.bucket.consume(1);
      m.attempts++;
      m.link.start();
    }
  }

  private onConnected(m: Member): void {
    if (m.gone) return;
    m.online = true;
    m.onlineAt = Date.now();
    m.connects++;
    this.emit("up", m.id);
  }

  private onDisconnected(m: Member, reason: string): void {
    if (!m.online) return;
    m.online = false;
    if (Date.now() - m.onlineAt >= m.stableMs) m.backoff.reset();
    if (!m.gone) this.emit("down", m.id, reason);
  }

  private onLinkState(m: Member, state: string, reason: string | undefined): void {
    if (m.gone || this.stopping) return;
    switch (state) {
      case "connecting":
        this.setState(m, "connecting", m.reason);
        return;
      case "online":
        this.setState(m, "online", undefined);
        return;
      case "backoff":
      case "refused":
        this.retryLater(m, state === "refused" || (this.o.closeBeforeConnackIsRefusal === true && reason === CLOSED_BEFORE_CONNACK), reason);
        return;
      default:
        // "stopped"/"idle": the pool stopped the link itself; its own state says why.
        return;
    }
  }

  /**
   * The link failed an attempt and armed its own retry; the pool stops it (after the link finished arming, hence
   * the microtask) and times the retry itself so that it passes the connect bucket.
   */
  private retryLater(m: Member, refused: boolean, reason: string | undefined): void {
    const epoch = ++m.epoch;
    let delay: number;
    if (refused) {
      m.refusals++;
      delay = m.backoff.atMax();
      this.setState(m, "refused", reason);
    } else {
      delay = m.backoff.next();
      this.setState(m, "backoff", reason);
    }
    queueMicrotask(() => {
      void m.link.stop().then(() => {
        if (m.gone || this.stopping || epoch !== m.epoch) return;
        clearTimeout(m.retryTimer);
        m.retryTimer = setTimeout(() => {
          if (m.gone || this.stopping || epoch !== m.epoch) return;
          this.enqueue(m);
        }, delay);
      });
    });
  }

  private setState(m: Member, state: PoolMemberState, reason: string | undefined): void {
    if (m.state === state && m.reason === reason) return;
    m.state = state;
    m.reason = reason;
    m.since = Date.now();
    this.emit("state", m.id, state, reason);
  }
}

/**
 * Stops a link and makes sure its socket closes. A client still waiting for its CONNACK cannot send DISCONNECT:
 * mqtt.js queues the packet until a CONNACK that the stopped link then ignores, and the socket would stay open
 * (a second, orphaned connection of the device). Such a socket is destroyed instead.
 */
async function stopLink(link: MqttLink): Promise<void> {
  const client = (link as unknown as { client?: MqttClient }).client;
  const hadConnack = client?.connected ?? false;
  await link.stop();
  if (client && !hadConnack) client.stream?.destroy();
}

function order(a: Member, b: Member): number {
  if (a.priority !== b.priority) return a.priority ? -1 : 1;
  return a.seq - b.seq;
}

function view(m: Member): PoolMemberStatus {
  return {
    id: m.id,
    state: m.state,
    since: m.since,
    ...(m.reason !== undefined ? { reason: m.reason } : {}),
    priority: m.priority,
    attempts: m.attempts,
    connects: m.connects,
    refusals: m.refusals,
  };
}
