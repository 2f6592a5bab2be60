/**
 * The device connections of the X platform (lierda.md §3, §6.2, §9) on the shared MQTT pool: one paced pool of
 * connections in which every CONNECT, auth and device alike, takes a token from the same bucket. The auth
 * exchange runs on its own pool member (`<key>#auth`), so it is paced and retried like any connection; once
 * it returns a DeviceSecret the member is removed and the device member is added.
 *
 * What this adds to the pool: the auth exchange and its codes (§3.3), dropping a cached secret and
 * re-authenticating after CONNACK 4/5 (types 0/1), and for connect type 1 a reconnect that never starts in the
 * second of the last disconnect (§3.4; the pool has no "not before" per member, so such a member is removed on
 * loss and added again once that second has passed, with its own backoff).
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { Backoff } from "../../core/backoff.js";
import type { MqttLink, MqttLinkOptions } from "../mqtt/link.js";
import { MqttPool, type PoolMemberState } from "../mqtt/pool.js";
import type { SecretStore } from "../../store/secrets.js";
import type { LierdaConfig } from "./bootstrap.js";
import { authCredentials, connectTimestamp, deviceCredentials } from "./credentials.js";
import { decodeDownlink } from "./downlink.js";
import { sameId, type MessageId } from "./envelope.js";
import { authOutcome, authRequest, type AuthOutcome } from "./gateway-messages.js";
import { secretOf, setState, type Entry } from "./entries.js";
import { AUTH_TOPIC, deviceTopics, subscriptions } from "./topics.js";

export interface ConnectionEvents {
  up(e: Entry): void;
  down(e: Entry, reason: string): void;
  message(e: Entry, topic: string, payload: Buffer): void;
  changed(e: Entry): void;
}

const AUTH_SUFFIX = "#auth";
/** CONNACK codes retried at the cap (§3.6): 1, 2 are defects, 4, 5 refusals; on the auth connection only 4, 5 (§3.3). */
const AT_MAX: ReadonlySet<number> = new Set([1, 2, 4, 5]);
const AUTH_AT_MAX: ReadonlySet<number> = new Set([4, 5]);

export class Connections {
  readonly pool: MqttPool;
  /** Measured clock offset (time sync, §8.3); corrects type-1 timestamps when above 2 s. */
  timeOffsetMs = 0;
  private readonly ca: Buffer | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly authBackoff = new Map<string, Backoff>();
  private readonly lossBackoff = new Map<string, Backoff>();
  private readonly authWait = new Map<string, { id: MessageId; timer: NodeJS.Timeout }>();
  private stopping = false;

  constructor(
    private readonly cfg: LierdaConfig,
    private readonly secrets: SecretStore,
    private readonly entries: Map<string, Entry>,
    private readonly log: Logger,
    private readonly ev: ConnectionEvents,
  ) {
    this.ca = cfg.mqtt.tls && cfg.mqtt.caFile ? readFileSync(cfg.mqtt.caFile) : undefined;
    this.pool = new MqttPool({ connectsPerSecond: cfg.lierda.connectsPerSecond, burst: Math.max(1, cfg.lierda.connectsPerSecond), maxConnections: Number.MAX_SAFE_INTEGER, logger: log });
    this.pool.on("up", (id) => this.onUp(id));
    this.pool.on("down", (id, reason) => this.onDown(id, reason));
    this.pool.on("state", (id, state, reason) => this.onState(id, state, reason));
    this.pool.on("message", (id, topic, payload) => this.onMessage(id, topic, payload));
  }

  start(): void {
    this.pool.start();
  }

  /** Starts the device's state machine (paced): auth first when a type-0/1 device has no stored secret. */
  open(e: Entry): void {
    if (this.stopping || e.removed) return;
    if (!e.productKey) {
      this.change(e, "no-credentials", e.reason);
      return;
    }
    if (secretOf(e, this.secrets) === undefined && e.authType !== 2) this.startAuth(e);
    else this.addDevice(e);
  }

  /** DISCONNECT and forget (device removed from the document). */
  async close(e: Entry): Promise<void> {
    e.removed = true;
    this.clearTimer(e.key);
    this.clearAuthWait(e.key);
    await Promise.all([this.pool.remove(e.key), this.pool.remove(e.key + AUTH_SUFFIX)]);
  }

  link(e: Entry): MqttLink | undefined {
    return this.pool.link(e.key);
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const k of [...this.authWait.keys()]) this.clearAuthWait(k);
    await this.pool.stop("priorityLast", deadlineMs);
  }

  // ---------------------------------------------------------------- members

  private linkOptions(e: Entry, auth: boolean): MqttLinkOptions {
    const m = this.cfg.mqtt;
    return {
      host: m.host,
      port: m.port,
      tls: m.tls,
      ...(this.ca ? { ca: this.ca } : {}),
      keepaliveSeconds: m.keepaliveSeconds,
      reconnectMinMs: m.reconnectMinSeconds * 1000,
      reconnectMaxMs: m.reconnectMaxSeconds * 1000,
      requestTimeoutMs: m.requestTimeoutSeconds * 1000,
      credentialRefusals: auth ? AUTH_AT_MAX : AT_MAX,
      refusalHint: auth ? "check the ProductKey in the bootstrap config" : this.cfg.lierda.connectType === 1 ? "check the DeviceSecret, or the clock (connect type 1)" : "check the DeviceSecret",
      logger: this.log.child({ device: e.key, ...(auth ? { connection: "auth" } : {}) }),
      quiet: true,
      credentials: auth
        ? () => authCredentials(e.id, e.productKey!)
        : () => {
            const secret = secretOf(e, this.secrets);
            if (!secret) throw new Error("no DeviceSecret");
            e.lastConnect = Date.now();
            const ts = connectTimestamp(Date.now(), e.lastDisconnectS, this.timeOffsetMs);
            return deviceCredentials(e.id, e.productKey!, secret, this.cfg.lierda.connectType, ts);
          },
      subscriptions: auth ? () => [deviceTopics(e.id).downlink] : () => subscriptions(e.id),
    };
  }

  private addDevice(e: Entry): void {
    if (this.stopping || e.removed) return;
    if (this.cfg.lierda.connectType === 1 && e.lastDisconnectS !== undefined) {
      // The Timestamp must be after the last disconnect second, which may be now (a quick restart, §3.4).
      const wait = (e.lastDisconnectS + 1) * 1000 - Date.now();
      if (wait > 0) return this.later(e.key, wait + 20, () => this.addDevice(e));
    }
    this.change(e, "connecting", undefined);
    this.pool.add(e.key, { priority: e.gateway, link: this.linkOptions(e, false) });
  }

  private startAuth(e: Entry): void {
    if (this.stopping || e.removed) return;
    this.change(e, "authenticating", e.state === "authenticating" ? e.reason : undefined);
    this.pool.add(e.key + AUTH_SUFFIX, { priority: e.gateway, link: this.linkOptions(e, true) });
  }

  private entryOf(id: string): { e: Entry; auth: boolean } | undefined {
    const auth = id.endsWith(AUTH_SUFFIX);
    const e = this.entries.get(auth ? id.slice(0, -AUTH_SUFFIX.length) : id);
    return e && !e.removed ? { e, auth } : undefined;
  }

  // ---------------------------------------------------------------- pool events

  private onUp(id: string): void {
    const x = this.entryOf(id);
    if (!x) return;
    if (x.auth) return void this.sendAuth(x.e);
    x.e.onlineSince = Date.now();
    this.change(x.e, "online", undefined);
    this.ev.up(x.e);
  }

  private onDown(id: string, reason: string): void {
    const x = this.entryOf(id);
    if (!x || x.auth) return;
    const e = x.e;
    const lasted = Date.now() - e.onlineSince;
    e.onlineSince = 0;
    e.lastDisconnectS = Math.floor(Date.now() / 1000);
    if (this.cfg.lierda.connectType === 1) e.saveDisconnect(e.lastDisconnectS);
    e.reconnects++;
    this.ev.down(e, reason);
    if (this.stopping || this.cfg.lierda.connectType !== 1) return;
    // Connect type 1: the next Timestamp must be after this second; re-added with our own backoff (see above).
    const b = this.backoffOf(this.lossBackoff, e.key);
    if (lasted >= 60_000) b.reset();
    const delay = b.next();
    this.change(e, "backoff", reason);
    void this.pool.remove(e.key).then(() => this.later(e.key, delay, () => this.addDevice(e)));
  }

  private onState(id: string, state: PoolMemberState, reason: string | undefined): void {
    const x = this.entryOf(id);
    if (!x || this.stopping) return;
    const e = x.e;
    if (x.auth) {
      if (state === "refused" || state === "backoff") {
        const why = `auth connection: ${reason ?? state}`;
        if (state === "refused" && (e.state !== "refused" || e.reason !== why)) this.log.warn({ device: e.key, reason: why }, "auth connection refused (check the ProductKey)");
        this.change(e, state, why);
      }
      else if ((state === "connecting" || state === "waiting") && e.state !== "refused" && e.state !== "disabled") this.change(e, "authenticating", e.reason);
      return;
    }
    // A device retried after a refusal keeps showing the refusal until it is online again.
    if (state === "waiting" || state === "connecting") {
      if (e.state !== "refused" && e.state !== "disabled") this.change(e, "connecting", e.reason);
    }
    else if (state === "backoff") this.change(e, "backoff", reason);
    else if (state === "refused") {
      if (e.state !== "refused" || e.reason !== reason) {
        // Pool members log quietly; a refusal is logged here once per change of reason.
        const hint = this.cfg.lierda.connectType === 1 && /CONNACK [45]\b/.test(reason ?? "") ? " (check the DeviceSecret, or the clock: connect type 1 checks the timestamp)" : "";
        this.log.warn({ device: e.key, reason, retryInSeconds: this.cfg.mqtt.reconnectMaxSeconds }, `device connection refused${hint}`);
      }
      this.change(e, "refused", reason);
      if (e.authType !== 2 && /CONNACK [45]\b/.test(reason ?? "")) {
        // The cached secret is no longer accepted: drop it and authenticate again before the next connect.
        this.secrets.delete(e.id.productId, e.id.nodeEui);
        this.log.warn({ device: e.key, reason }, "device connection refused: the stored DeviceSecret is dropped and the device authenticates again");
        const delay = this.cfg.mqtt.reconnectMaxSeconds * 1000;
        void this.pool.remove(e.key).then(() => this.later(e.key, delay, () => this.startAuth(e)));
      }
    }
  }

  private onMessage(id: string, topic: string, payload: Buffer): void {
    const x = this.entryOf(id);
    if (!x) return;
    if (!x.auth) return this.ev.message(x.e, topic, payload);
    const wait = this.authWait.get(x.e.key);
    const a = decodeDownlink(topic, payload, { id: x.e.id, tsl: undefined });
    if (!wait || a.kind !== "authReply" || !sameId(a.messageId, wait.id)) return;
    this.finishAuth(x.e, authOutcome(a.payload));
  }

  // ---------------------------------------------------------------- auth

  private sendAuth(e: Entry): void {
    const link = this.pool.link(e.key + AUTH_SUFFIX);
    if (!link) return;
    const id = e.ids.take();
    this.clearAuthWait(e.key);
    const timer = setTimeout(
      () => this.finishAuth(e, { ok: false, code: undefined, reason: "no auth reply in time", atMax: false, disabled: false }),
      this.cfg.mqtt.requestTimeoutSeconds * 1000,
    );
    this.authWait.set(e.key, { id, timer });
    link.publish(AUTH_TOPIC, authRequest(id, e.id, e.authType as 0 | 1)).catch((err: Error) => {
      this.finishAuth(e, { ok: false, code: undefined, reason: `auth request not delivered: ${err.message}`, atMax: false, disabled: false });
    });
  }

  private finishAuth(e: Entry, outcome: AuthOutcome): void {
    if (!this.authWait.has(e.key)) return;
    this.clearAuthWait(e.key);
    const b = this.backoffOf(this.authBackoff, e.key);
    void this.pool.remove(e.key + AUTH_SUFFIX).then(() => {
      if (this.stopping || e.removed) return;
      if (outcome.ok) {
        b.reset();
        try {
          this.secrets.set(e.id.productId, e.id.nodeEui, outcome.deviceSecret);
        } catch (err) {
          this.log.error({ device: e.key, err: (err as Error).message }, "cannot store the DeviceSecret; it is used until the next restart");
          e.burnedSecret = outcome.deviceSecret;
          e.authType = 2;
        }
        this.log.info({ device: e.key }, "device authenticated");
        this.addDevice(e);
        return;
      }
      const state = outcome.disabled ? "disabled" : outcome.atMax ? "refused" : "backoff";
      if (e.state !== state || e.reason !== outcome.reason) this.log.warn({ device: e.key, reason: outcome.reason }, "device auth failed");
      this.change(e, state, outcome.reason);
      this.later(e.key, outcome.atMax ? b.atMax() : b.next(), () => this.startAuth(e));
    });
  }

  // ---------------------------------------------------------------- internals

  private change(e: Entry, state: Entry["state"], reason: string | undefined): void {
    if (setState(e, state, reason)) this.ev.changed(e);
  }

  private backoffOf(map: Map<string, Backoff>, key: string): Backoff {
    let b = map.get(key);
    if (!b) {
      b = new Backoff(this.cfg.mqtt.reconnectMinSeconds * 1000, this.cfg.mqtt.reconnectMaxSeconds * 1000);
      map.set(key, b);
    }
    return b;
  }

  private later(key: string, ms: number, fn: () => void): void {
    this.clearTimer(key);
    if (this.stopping) return;
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      fn();
    }, ms));
  }

  private clearTimer(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  private clearAuthWait(key: string): void {
    const w = this.authWait.get(key);
    if (w) clearTimeout(w.timer);
    this.authWait.delete(key);
  }
}
