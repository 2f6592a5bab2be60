/**
 * The Tencent IoT Explorer adapter (tencent.md): one MQTT connection for the gateway; sub-devices are bound,
 * brought online and offline through `$gateway/operation`, and publish on their own `$thing` topics only after
 * their `online` succeeded on the current connection. Reports leave the outbox on their `report_reply`.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import { MqttLink } from "../mqtt/link.js";
import { type Core, type DeviceKey, GATEWAY_ROUTE, type PlatformAdapter, type PlatformDevice, type PlatformStatus, type RouteId, type Sending, type UplinkRecord } from "../platform.js";
import { tencentView, type TencentConfig } from "./bootstrap.js";
import { TokenSource } from "./codec.js";
import { Commands } from "./commands.js";
import { type DevicePair } from "./downlink.js";
import { handleDownlink } from "./inbound.js";
import { GatewayOps } from "./ops.js";
import { DeviceRetries } from "./retries.js";
import { GatewayService } from "./service.js";
import { bindEntry, connectFields } from "./sign.js";
import { gatewayFilters, subDeviceFilters } from "./topics.js";
import { Uplinks } from "./uplink.js";
import { deviceKey } from "../../core/device-key.js";

const KV_UNBOUND = "tencent.unbound";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Dev {
  d: PlatformDevice;
  state: string;
  since: number;
  reason?: string;
  /** Connection generation on which its `online` succeeded (0: not online). */
  onlineGen: number;
  reachable: boolean;
  offlineTimer?: NodeJS.Timeout;
  joinedBefore: boolean;
  /** The cause this adapter holds the device's polling with (core.hold), if any. */
  held?: string;
}

/** States in which the device is not polled (tencent.md 5.3, 4.8): the platform cannot take its data for a while. */
const HELD_STATES = new Set(["unbound-no-key", "refused", "over-limit"]);
/** States a newly applied document tries again (4.8: refused until the next connect, document or change). */
const RETRIED_BY_DOCUMENT = new Set(["unbound-no-key", "refused", "over-limit"]);

export const pairOf = (p: string): DevicePair => {
  const i = p.indexOf("/");
  return { product_id: p.slice(0, i), device_name: p.slice(i + 1) };
};

export class TencentAdapter implements PlatformAdapter {
  readonly name = "tencent" as const;
  readonly gateway: { key: DeviceKey; productKey: string; deviceName: string };
  readonly maxRecordsPerSend = 20;
  readonly perDeviceRoutes = false;
  readonly deviceStates = ["pending", "binding", "onlining", "online", "offline", "field-offline", "unbound", "unbound-no-key", "refused", "over-limit"] as const;
  readonly c: TencentConfig;
  readonly link: MqttLink;
  readonly ops: GatewayOps;
  readonly service: GatewayService;
  readonly commands: Commands;
  readonly uplinks: Uplinks;
  readonly devs = new Map<string, Dev>();
  readonly counters = { downlinksDropped: 0, changes: 0 };
  private readonly tokens = new TokenSource(randomBytes(3).toString("hex"));
  private readonly keys = new Map<string, string>();
  private readonly retries: DeviceRetries<Dev>;
  private gen = 0;
  /** Pruning needs an applied document: without one the topology is left alone (4.5). */
  private haveDocument = false;
  private stopping = false;

  constructor(cfg: BootstrapConfig, readonly core: Core) {
    this.c = tencentView(cfg);
    const g = this.c.gateway;
    this.gateway = { key: `${g.productId}/${g.deviceName}`, productKey: g.productId, deviceName: g.deviceName };
    for (const s of this.c.subDevices ?? []) this.keys.set(deviceKey(s.productKey, s.deviceName), s.deviceSecret);
    const m = this.c.mqtt;
    const log = core.logger.child({ platform: "tencent" });
    this.link = new MqttLink({
      host: m.host, port: m.port, tls: m.tls, ...(m.caFile ? { ca: readFileSync(m.caFile) } : {}),
      keepaliveSeconds: m.keepaliveSeconds,
      credentials: () => connectFields({ productId: g.productId, deviceName: g.deviceName, psk: g.deviceSecret, sdkAppId: this.c.tencent.sdkAppId, method: m.signMethod, expirySeconds: this.c.tencent.expirySeconds }),
      subscriptions: () => gatewayFilters(this.gateway.key),
      reconnectMinMs: m.reconnectMinSeconds * 1000, reconnectMaxMs: m.reconnectMaxSeconds * 1000,
      requestTimeoutMs: m.requestTimeoutSeconds * 1000,
      credentialRefusals: new Set([1, 2, 4, 5]),
      refusalHint: "check the device key, the sdkAppId and the clock",
      logger: log,
    });
    this.retries = new DeviceRetries<Dev>(m.reconnectMinSeconds * 1000, m.reconnectMaxSeconds * 1000, (again) => {
      // Only devices still waiting for it: a change, a document or a reconnect may have moved them meanwhile.
      const still = again.filter((v) => v.state === "pending" || v.state === "refused");
      if (this.link.connected && !this.stopping && still.length) void this.bringOnline(still);
    });
    this.ops = new GatewayOps(this.link, this.gateway.key, this.c.sessions.batchSize, this.c.sessions.loginsPerSecond, m.requestTimeoutSeconds * 1000);
    this.commands = new Commands(this.link, core, log);
    this.service = new GatewayService(this.link, core, this.gateway.key, this.c.tencent.configResourceName, this.c.download?.allowHttp ?? false, log, () => this.tokens.next(), () => this.pushedDocumentApplied());
    this.uplinks = new Uplinks(this.link, this.tokens, {
      unit: this.c.tencent.timestampUnit,
      replayMaxAgeHours: this.c.tencent.replayMaxAgeHours,
      publishesPerSecond: this.c.tencent.publishesPerSecond,
      replyTimeoutMs: m.requestTimeoutSeconds * 1000,
      tslOf: (k) => this.devs.get(k)?.d.tsl ?? this.gatewayTsl,
      ready: (k) => this.ready(GATEWAY_ROUTE, k),
      log,
    });
    const u = this.uplinks.counters;
    core.metrics.collect("fieldbridge_uplinks_expired_total", "uplink records dropped because their sample time is too old for the platform, by reason", "counter", () => [
      { labels: { reason: "replay_limit" }, value: u.expired },
      { labels: { reason: "platform_405" }, value: u.expiredByPlatform },
    ]);
    this.link.on("connected", () => void this.onConnected());
    this.link.on("disconnected", () => this.onDisconnected());
    this.link.on("message", (t, p) => handleDownlink(this, t, p));
  }

  /** The gateway's own TSL (self-telemetry), from the last document. */
  gatewayTsl: PlatformDevice["tsl"];

  get log() {
    return this.core.logger;
  }

  documentSecret(): string | undefined {
    return this.c.gateway.deviceSecret;
  }

  start(): void {
    this.link.start();
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.retries.clear();
    const online = [...this.devs.values()].filter((v) => this.isOnline(v));
    if (online.length && this.link.connected) {
      const wait = Math.max(0, Math.min(2000, deadlineMs - Date.now() - 500));
      await Promise.race([this.ops.run("offline", online.map((v) => pairOf(v.d.key)), false), sleep(wait)]);
    }
    for (const v of this.devs.values()) clearTimeout(v.offlineTimer);
    await Promise.race([this.link.stop(), sleep(Math.max(100, deadlineMs - Date.now()))]);
  }

  routeOf(): RouteId {
    return GATEWAY_ROUTE;
  }

  ready(route: RouteId, device: DeviceKey): boolean {
    if (route !== GATEWAY_ROUTE || !this.link.connected) return false;
    if (device === this.gateway.key) return true;
    const v = this.devs.get(device);
    return !!v && this.isOnline(v);
  }

  isOnline(v: Dev): boolean {
    return v.onlineGen === this.gen && this.gen > 0 && v.state === "online";
  }

  send(route: RouteId, records: readonly UplinkRecord[]): Sending {
    if (route !== GATEWAY_ROUTE) {
      return { messages: 0, done: Promise.resolve(records.map((r) => ({ seq: r.seq, result: "reject" as const, reason: `unknown route ${route}` }))) };
    }
    return this.uplinks.send(records);
  }

  status(): PlatformStatus {
    const l = this.link;
    return {
      platform: "tencent",
      connected: l.connected,
      downSince: l.downSince,
      routes: [{ route: GATEWAY_ROUTE, state: l.state, since: l.since, ...(l.reason ? { reason: l.reason } : {}), reconnects: l.counters.connects }],
      devices: [...this.devs.values()].map((v) => ({ device: v.d.key, state: v.state, online: this.isOnline(v), since: v.since, ...(v.reason ? { reason: v.reason } : {}) })),
      counters: {
        ...Object.fromEntries(Object.entries(this.uplinks.counters).map(([k, n]) => [`uplink_${k}`, n])),
        ...Object.fromEntries(Object.entries(this.commands.counters).map(([k, n]) => [`command_${k}`, n])),
        ...this.counters,
        connects: l.counters.connects,
        refusals: l.counters.refusals,
      },
    };
  }

  setState(v: Dev, state: string, reason?: string): void {
    if (v.state === state && v.reason === reason) return;
    v.state = state;
    v.reason = reason;
    v.since = Date.now();
    this.log.info({ device: v.d.key, state, ...(reason ? { reason } : {}) }, "sub-device state");
    this.syncHold(v);
  }

  /** Holds the device's polling while its state says the platform cannot take its data (the new cause first). */
  private syncHold(v: Dev): void {
    const cause = HELD_STATES.has(v.state) && this.devs.get(v.d.key) === v ? v.state : undefined;
    if (cause === v.held) return;
    if (cause) this.core.hold(v.d.key, cause, true);
    if (v.held) this.core.hold(v.d.key, v.held, false);
    v.held = cause;
  }

  unboundSet(): Set<string> {
    return new Set(this.core.kv.get<string[]>(KV_UNBOUND) ?? []);
  }
  saveUnbound(s: Set<string>): void {
    this.core.kv.set(KV_UNBOUND, [...s]);
  }

  setDevices(devices: readonly PlatformDevice[]): void {
    this.haveDocument = true;
    this.gatewayTsl = devices.find((d) => d.key === this.gateway.key)?.tsl;
    const next = new Map(devices.filter((d) => d.key !== this.gateway.key).map((d) => [d.key, d]));
    const removed: Dev[] = [];
    for (const [k, v] of this.devs) {
      const d = next.get(k);
      if (!d) { removed.push(v); this.devs.delete(k); this.syncHold(v); continue; }
      if (d.tsl !== v.d.tsl && JSON.stringify(d.tsl) !== JSON.stringify(v.d.tsl)) { v.d = d; if (this.isOnline(v)) void this.goOffline([v], "product changed").then(() => this.bringOnline([v])); }
      else v.d = d;
    }
    const unbound = this.unboundSet();
    const added: Dev[] = [];
    for (const [k, d] of next) {
      if (this.devs.has(k)) continue;
      const v: Dev = { d, state: unbound.has(k) ? "unbound" : "pending", since: Date.now(), onlineGen: 0, reachable: true, joinedBefore: false };
      this.devs.set(k, v);
      added.push(v);
      // The cloud's unbind survives restarts: not polled, nothing kept for it, until change 1 or a pushed document.
      if (v.state === "unbound") void this.core.lifecycle(k, "remove");
    }
    if (!this.link.connected) return;
    // A newly applied document tries again what the platform refused or had no room for (4.8, 5.3).
    const again = [...this.devs.values()].filter((v) => !added.includes(v) && RETRIED_BY_DOCUMENT.has(v.state));
    void (async () => {
      // A device whose online is still in flight is taken offline too: the platform may already show it online.
      if (removed.length) await this.goOffline(removed.filter((v) => this.isOnline(v) || v.state === "onlining"), "removed from the document");
      const bound = await this.ops.describe();
      if (bound && this.c.sessions.pruneTopology) {
        const prune = bound.filter((p) => !this.devs.has(p));
        if (prune.length) await this.ops.run("unbind", prune.map(pairOf));
      }
      await this.bringOnline([...added, ...again], bound);
    })();
  }

  fieldHealth(device: DeviceKey, reachable: boolean, reason?: string): void {
    const v = this.devs.get(device);
    if (!v) return;
    v.reachable = reachable;
    clearTimeout(v.offlineTimer);
    if (!reachable) {
      v.offlineTimer = setTimeout(() => {
        if (!v.reachable && this.isOnline(v)) void this.goOffline([v], reason ?? "field device silent").then(() => { this.setState(v, "field-offline", reason); this.refill(); });
      }, this.c.tencent.fieldOfflineSeconds * 1000);
    } else if ((v.state === "field-offline" || v.state === "pending" || v.state === "offline") && this.link.connected && !this.isOnline(v)) {
      void this.bringOnline([v]);
    }
  }

  // ---------------------------------------------------------------- connection and topology

  private async onConnected(): Promise<void> {
    const gen = ++this.gen;
    this.core.presence(GATEWAY_ROUTE, true);
    await this.service.announce();
    const bound = await this.ops.describe();
    if (gen !== this.gen) return;
    if (bound && this.c.sessions.pruneTopology && this.haveDocument) {
      const prune = bound.filter((p) => !this.devs.has(p));
      if (prune.length) await this.ops.run("unbind", prune.map(pairOf));
    }
    await this.bringOnline([...this.devs.values()], bound);
  }

  private onDisconnected(): void {
    this.ops.failAll();
    this.uplinks.failAll();
    this.retries.clear();
    for (const v of this.devs.values()) if (v.state === "online" || v.state === "onlining" || v.state === "binding") this.setState(v, "pending", "gateway disconnected");
    this.core.presence(GATEWAY_ROUTE, false);
  }

  private pushedDocumentApplied(): void {
    // A pushed document brings back the devices it lists that the cloud had unbound (4.6).
    const unbound = this.unboundSet();
    const back: Dev[] = [];
    for (const v of this.devs.values()) {
      if (!unbound.delete(v.d.key)) continue;
      this.setState(v, "pending");
      void this.core.lifecycle(v.d.key, "resume");
      back.push(v);
    }
    this.saveUnbound(unbound);
    if (back.length && this.link.connected) void this.ops.describe().then((b) => this.bringOnline(back, b));
  }

  /** bind where needed, online, SUBSCRIBE (5.3); paced by GatewayOps. */
  async bringOnline(list: Dev[], bound?: string[]): Promise<void> {
    const gen = this.gen;
    const boundSet = bound ? new Set(bound) : undefined;
    const live = list.filter((v) => this.devs.get(v.d.key) === v && v.state !== "unbound" && !this.isOnline(v));
    for (const v of live) if (!v.reachable) this.setState(v, "field-offline", "field device not answering");
    let candidates = live.filter((v) => v.reachable);
    // Devices on their way online in another run count against the cap too.
    const mine = new Set(live);
    const taken = [...this.devs.values()].filter((v) => !mine.has(v) && (this.isOnline(v) || v.state === "onlining" || v.state === "binding")).length;
    const room = Math.max(0, this.c.sessions.maxOnline - taken);
    for (const v of candidates.slice(room)) this.setState(v, "over-limit", `sessions.maxOnline ${this.c.sessions.maxOnline}`);
    candidates = candidates.slice(0, room);
    const toBind = candidates.filter((v) => boundSet && !boundSet.has(v.d.key));
    const failed: Dev[] = [];
    const bindOk = await this.bind(toBind.filter((v) => this.keys.has(v.d.key)), failed);
    for (const v of toBind) if (!this.keys.has(v.d.key)) this.setState(v, "unbound-no-key", "not bound to the gateway and no key in subDevices");
    const goOnline = candidates.filter((v) => !toBind.includes(v) || bindOk.has(v));
    for (const v of goOnline) this.setState(v, "onlining");
    const results = await this.ops.run("online", goOnline.map((v) => pairOf(v.d.key)));
    if (gen !== this.gen) return;
    const rebind: Dev[] = [];
    for (const v of goOnline) {
      const r = results.get(v.d.key);
      if (r === 0) await this.wentOnline(v, gen);
      else if (r === -1 && this.keys.has(v.d.key) && !toBind.includes(v)) rebind.push(v);
      else if (r === -1) this.setState(v, "unbound-no-key", "online answered -1 (not bound)");
      else this.failed(v, "online", r, failed);
    }
    if (rebind.length) {
      const ok = await this.bind(rebind, failed);
      const res = await this.ops.run("online", [...ok].map((v) => pairOf(v.d.key)));
      for (const v of ok) {
        const r = res.get(v.d.key);
        if (r === 0) await this.wentOnline(v, gen);
        else this.failed(v, "online", r, failed);
      }
    }
    if (this.stopping || gen !== this.gen) return;
    if (failed.length) this.retries.soon(failed);
    else this.retries.settled();
  }

  private async bind(list: Dev[], failed: Dev[]): Promise<Set<Dev>> {
    const ok = new Set<Dev>();
    let pending = list;
    for (let attempt = 0; attempt < 2 && pending.length; attempt++) {
      for (const v of pending) this.setState(v, "binding");
      const res = await this.ops.run("bind", pending.map((v) => bindEntry(v.d.productKey, v.d.deviceName, this.keys.get(v.d.key)!, this.c.tencent.bindSignMethod)));
      const again: Dev[] = [];
      for (const v of pending) {
        const r = res.get(v.d.key);
        if (r === 0 || r === 809) ok.add(v);
        else if (r === 805 && attempt === 0) again.push(v);
        else this.failed(v, "bind", r, failed);
      }
      pending = again;
    }
    return ok;
  }

  private failed(v: Dev, op: string, r: number | undefined, failed: Dev[]): void {
    if (r === undefined || r === -2) {
      this.setState(v, "pending", `${op}: ${r === undefined ? "no reply" : "result -2"}`);
      failed.push(v);
    } else if (r === 801) {
      // The platform found the request malformed: a defect on our side, tried again at the reconnect cap (4.8).
      this.log.warn({ device: v.d.key, op }, "the platform refused a gateway operation as malformed (801)");
      this.setState(v, "refused", `${op} result 801 (tried again in up to ${this.c.mqtt.reconnectMaxSeconds} s)`);
      this.retries.later(v);
    } else {
      const hint = r === 805 ? " (check the clock)" : "";
      this.setState(v, "refused", `${op} result ${r}${hint}`);
    }
  }

  /** An online slot came free: devices over the cap try to take it (5.3). */
  refill(): void {
    const over = [...this.devs.values()].filter((v) => v.state === "over-limit");
    if (over.length && this.link.connected && !this.stopping) void this.bringOnline(over);
  }

  private async wentOnline(v: Dev, gen: number): Promise<void> {
    if (this.devs.get(v.d.key) !== v) return;
    const refused = await this.link.subscribe(subDeviceFilters(v.d.key)).catch(() => ["*"]);
    if (gen !== this.gen || this.devs.get(v.d.key) !== v) return;
    if (refused.length) { this.setState(v, "pending", "subscription refused"); return; }
    v.onlineGen = gen;
    this.setState(v, "online");
    if (v.joinedBefore) this.core.deviceRejoined(v.d.key);
    v.joinedBefore = true;
    this.core.presence(GATEWAY_ROUTE, true);
  }

  async goOffline(list: Dev[], reason: string): Promise<void> {
    if (!list.length) return;
    for (const v of list) { v.onlineGen = 0; this.setState(v, "offline", reason); }
    await this.ops.run("offline", list.map((v) => pairOf(v.d.key)));
    for (const v of list) await this.link.unsubscribe(subDeviceFilters(v.d.key));
  }
}
