/**
 * Sub-device lifecycle over the gateway's connection (alink.md sections 3.1-3.9): secrets (bootstrap, database,
 * dynamic registration), topology reconciliation on every connect, signed logins paced within the platform's
 * limits, re-login after every reconnect, logout on removal, disable, field loss and shutdown, and one action per
 * error code.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { AlinkConnection, AlinkMessage, AlinkReply } from "./connection.js";
import { loginParams, topoAddItem } from "./sign.js";
import { topics, replyTopic, deviceSubscriptions, type Identity } from "./topics.js";

export interface SecretRepository {
  get(productKey: string, deviceName: string): string | undefined;
  set(productKey: string, deviceName: string, secret: string): void;
  delete(productKey: string, deviceName: string): void;
}

export interface SubDeviceLimits {
  /** Cap on sub-devices online at once (platform: 1500). */
  maxOnline: number;
  /** Gateway-wide login pace. */
  loginsPerSecond: number;
  /** Devices per registration / topo request. */
  batchSize: number;
  /** Delete topology relations of devices no longer configured. */
  pruneTopology: boolean;
}

export type SessionStatus =
  | "waiting" // configured, not yet logged in (no secret yet, no topo yet, field not reachable, or backing off)
  | "online"
  | "offline" // field device unreachable: logged out on purpose
  | "disabled" // disabled in the cloud (thing.disable or 522)
  | "deleted" // deleted in the cloud (thing.delete or 521)
  | "conflict" // logged in elsewhere (427)
  | "error"; // needs the operator: bad secret, not found, parameter error

export interface SessionState {
  key: string;
  productKey: string;
  deviceName: string;
  status: SessionStatus;
  reason?: string;
  loginCount: number;
  lastLoginAt?: number;
}

interface Dev extends Identity {
  key: string;
  configured: boolean;
  /** The field driver can reach it (unknown until the first sample or health report). */
  fieldOnline: boolean;
  status: SessionStatus;
  reason?: string;
  bound: boolean;
  online: boolean;
  loginTimes: number[];
  nextAttemptAt: number;
  /** 6401 recoveries within the current 10-minute window. */
  topoRetries: number[];
  reRegistered: boolean;
  loginCount: number;
  lastLoginAt?: number;
  inFlight: boolean;
}

type Events = {
  online: [key: string];
  offline: [key: string, reason: string];
  state: [state: SessionState];
};

const MINUTE = 60_000;

export class SubDeviceManager extends EventEmitter<Events> {
  private readonly devs = new Map<string, Dev>();
  private readonly bootstrapSecrets = new Map<string, string>();
  private pumpTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  private repump = false;
  private reconciled = false;
  private globalHoldUntil = 0;
  private loginTokens: number;
  private lastRefill = Date.now();
  private stopped = false;
  private passNow = 0;
  /** The topology reported at the last connect, for devices configured after it. */
  private boundAtConnect = new Set<string>();
  /** True once a gateway config has been applied: before that, nothing is pruned from the topology. */
  private configKnown = false;
  readonly counters = { logins: 0, loginFailures: 0, logouts: 0, registrations: 0, topoAdds: 0, topoDeletes: 0 };

  constructor(
    private readonly link: AlinkConnection,
    private readonly secrets: SecretRepository,
    bootstrap: Array<{ productKey: string; deviceName: string; deviceSecret: string }>,
    private readonly limits: SubDeviceLimits,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super();
    for (const d of bootstrap) this.bootstrapSecrets.set(`${d.productKey}/${d.deviceName}`, d.deviceSecret);
    this.loginTokens = Math.max(1, limits.loginsPerSecond);
    link.on("connected", () => {
      this.reconciled = false;
      this.schedule(0);
    });
    link.on("disconnected", () => this.onLinkDown());
  }

  /** The configured sub-devices (from the applied gateway config). */
  setConfigured(list: Identity[]): void {
    this.configKnown = true;
    const want = new Set(list.map((d) => `${d.productKey}/${d.deviceName}`));
    for (const d of list) {
      const key = `${d.productKey}/${d.deviceName}`;
      let dev = this.devs.get(key);
      if (!dev) {
        dev = {
          key, productKey: d.productKey, deviceName: d.deviceName, configured: true, fieldOnline: false,
          status: "waiting", bound: this.reconciled && this.boundAtConnect.has(key), online: false, loginTimes: [], nextAttemptAt: 0, topoRetries: [],
          reRegistered: false, loginCount: 0, inFlight: false,
        };
        this.devs.set(key, dev);
        this.emitState(dev);
      } else if (!dev.configured) {
        dev.configured = true;
        if (dev.status === "error" || dev.status === "conflict") this.setStatus(dev, "waiting");
        dev.nextAttemptAt = 0;
      }
    }
    for (const dev of this.devs.values()) {
      if (!want.has(dev.key) && dev.configured) {
        dev.configured = false;
        void this.removeDevice(dev);
      }
    }
    this.schedule(0);
  }

  /** Field reachability reported by the driver (or implied by a sample). */
  setFieldHealth(key: string, online: boolean, reason?: string): void {
    const dev = this.devs.get(key);
    if (!dev || dev.fieldOnline === online) return;
    dev.fieldOnline = online;
    if (online) {
      if (dev.status === "offline") this.setStatus(dev, "waiting");
      dev.nextAttemptAt = Math.min(dev.nextAttemptAt, this.now());
      this.schedule(0);
    } else if (dev.online || dev.status === "waiting") {
      void this.logout(dev, "offline", reason ?? "field device unreachable");
    }
  }

  isOnline(key: string): boolean {
    return this.devs.get(key)?.online === true;
  }

  onlineCount(): number {
    let n = 0;
    for (const d of this.devs.values()) if (d.online) n++;
    return n;
  }

  states(): SessionState[] {
    return [...this.devs.values()].filter((d) => d.configured || d.online).map((d) => this.toState(d));
  }

  state(key: string): SessionState | undefined {
    const d = this.devs.get(key);
    return d ? this.toState(d) : undefined;
  }

  /** Cloud disabled the sub-device (thing.disable). */
  async disable(key: string): Promise<void> {
    const dev = this.devs.get(key);
    if (!dev) return;
    await this.logout(dev, "disabled", "disabled in the cloud");
  }

  /** Cloud re-enabled the sub-device: log it in again; resolves once it is online (or after `waitMs`). */
  async enable(key: string, waitMs = 4000): Promise<void> {
    const dev = this.devs.get(key);
    if (!dev) return;
    if (dev.status === "disabled") this.setStatus(dev, dev.fieldOnline ? "waiting" : "offline");
    dev.nextAttemptAt = 0;
    this.schedule(0);
    if (dev.online || !dev.fieldOnline) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off("online", onOnline);
        resolve();
      };
      const onOnline = (k: string) => k === key && done();
      const timer = setTimeout(done, waitMs);
      this.on("online", onOnline);
    });
  }

  /** Cloud deleted the sub-device (thing.delete): forget its secret and state; never re-register it on our own. */
  async deleted(key: string): Promise<void> {
    const dev = this.devs.get(key);
    if (!dev) return;
    await this.logout(dev, "deleted", "deleted in the cloud");
    dev.bound = false;
    this.secrets.delete(dev.productKey, dev.deviceName);
  }

  /** The platform answered an uplink of this device with 520 (no session): log it in again. */
  sessionLost(key: string): void {
    const dev = this.devs.get(key);
    if (dev) this.onKickOrError(dev, 520, "no session", true);
  }

  /** Kick notices, /ext/error, topo add notify. Returns true when the message was one of ours. */
  handleMessage(topic: string, msg: AlinkMessage | null): boolean {
    const gw = this.link.gateway;
    if (topic === replyTopic(topics.logout(gw)) || topic === topics.extError(gw)) {
      if (!msg) return true;
      const code = Number(msg["code"]);
      const dev = this.identify(msg);
      if (!dev) {
        this.logger.warn({ topic, code, id: msg["id"] }, "unattributed sub-device error");
        return true;
      }
      this.onKickOrError(dev, code, String(msg["message"] ?? ""), topic === topics.extError(gw));
      return true;
    }
    if (topic === topics.topoAddNotify(gw)) {
      const params = msg?.["params"];
      const list = Array.isArray(params) ? params : params && typeof params === "object" ? [params] : null;
      const ok = list !== null && list.every((p) => p && typeof p === "object" && typeof (p as Identity).productKey === "string" && typeof (p as Identity).deviceName === "string");
      void this.link.reply(replyTopic(topic), msg?.["id"], ok ? 200 : 460, {}, ok ? undefined : "params must list {productKey, deviceName}");
      if (ok) {
        for (const p of list as Identity[]) {
          const dev = this.devs.get(`${p.productKey}/${p.deviceName}`);
          if (dev?.configured) {
            dev.bound = false;
            dev.nextAttemptAt = 0;
          } else this.logger.warn({ device: `${p.productKey}/${p.deviceName}` }, "topo add notify names a device that is not configured on this gateway");
        }
        this.schedule(0);
      }
      return true;
    }
    return false;
  }

  /** Logs every sub-device out (bounded by the deadline), e.g. on shutdown. */
  async stop(deadlineMs = 3000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pumpTimer);
    const online = [...this.devs.values()].filter((d) => d.online);
    if (online.length && this.link.connected) {
      // In bounded groups: a thousand logouts at once would queue behind a full socket.
      const all = (async () => {
        for (const group of chunk(online, 100)) await Promise.allSettled(group.map((d) => this.logout(d, "waiting", "shutdown")));
      })();
      await Promise.race([all, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    }
  }

  // ---- internals ----

  private identify(msg: AlinkMessage): Dev | undefined {
    const data = msg["data"] as Record<string, unknown> | undefined;
    if (data && typeof data === "object" && typeof data["productKey"] === "string" && typeof data["deviceName"] === "string") {
      return this.devs.get(`${data["productKey"]}/${data["deviceName"]}`);
    }
    const id = msg["id"] !== undefined ? String(msg["id"]) : undefined;
    return id ? this.byRequestId.get(id) : undefined;
  }

  /** Outstanding request ids → device, to attribute /ext/error and kick notices without data. */
  private readonly byRequestId = new Map<string, Dev>();

  /** Remembers which device a published message id belongs to (uplinks), bounded. */
  trackMessage(id: string, key: string): void {
    const dev = this.devs.get(key);
    if (!dev) return;
    this.byRequestId.set(id, dev);
    if (this.byRequestId.size > 10_000) {
      const first = this.byRequestId.keys().next().value;
      if (first !== undefined) this.byRequestId.delete(first);
    }
  }

  private onKickOrError(dev: Dev, code: number, message: string, extError: boolean): void {
    const ctx = { device: dev.key, code, message };
    if (extError && code === 520) {
      // The platform has no session for it: log in again.
      if (dev.online) this.markOffline(dev, "waiting", "session lost (520)");
      this.logger.warn(ctx, "sub-device session lost; logging in again");
      dev.nextAttemptAt = 0;
      this.schedule(0);
      return;
    }
    switch (code) {
      case 427:
        this.markOffline(dev, "conflict", "logged in elsewhere (427)");
        dev.nextAttemptAt = this.now() + 10 * MINUTE;
        this.logger.error(ctx, "sub-device logged in elsewhere; not logging it in again automatically for 10 minutes");
        break;
      case 521:
        this.markOffline(dev, "deleted", "deleted in the cloud (521)");
        this.logger.error(ctx, "sub-device deleted in the cloud");
        break;
      case 522:
        this.markOffline(dev, "disabled", "disabled in the cloud (522)");
        this.logger.warn(ctx, "sub-device disabled in the cloud");
        break;
      case 6401:
        this.markOffline(dev, "waiting", "topology relation removed (6401)");
        dev.bound = false;
        dev.nextAttemptAt = this.now() + 1000;
        this.schedule(1000);
        break;
      default:
        this.logger.warn(ctx, "sub-device notice");
    }
  }

  private async removeDevice(dev: Dev): Promise<void> {
    if (dev.online) await this.logout(dev, "waiting", "removed from the gateway config", true);
    if (this.limits.pruneTopology && dev.bound && this.link.connected) {
      try {
        const r = await this.link.request(topics.topoDelete(this.link.gateway), {
          version: "1.0", params: [{ productKey: dev.productKey, deviceName: dev.deviceName }], method: "thing.topo.delete",
        });
        if (r.code === 200 || r.code === 6100) this.counters.topoDeletes++;
        else this.logger.warn({ device: dev.key, code: r.code, message: r.message }, "topo delete refused");
      } catch (err) {
        this.logger.warn({ device: dev.key, err: (err as Error).message }, "topo delete failed");
      }
    }
    if (!dev.configured && !dev.online) {
      this.devs.delete(dev.key);
      this.emit("state", { ...this.toState(dev), status: "waiting", reason: "removed" });
    }
  }

  private onLinkDown(): void {
    clearTimeout(this.pumpTimer);
    // Sessions die with the gateway's connection.
    for (const dev of this.devs.values()) {
      dev.inFlight = false;
      if (dev.online) this.markOffline(dev, "waiting", "gateway disconnected");
    }
  }

  private markOffline(dev: Dev, status: SessionStatus, reason: string): void {
    const was = dev.online;
    dev.online = false;
    this.setStatus(dev, status, reason);
    if (was) this.emit("offline", dev.key, reason);
  }

  /**
   * Logs the device out. Its topic subscriptions are kept unless it leaves the config: a disabled device must
   * still hear `thing/enable`.
   */
  private async logout(dev: Dev, status: SessionStatus, reason: string, unsubscribe = false): Promise<void> {
    const was = dev.online;
    this.markOffline(dev, status, reason);
    if (!was || !this.link.connected) return;
    const gw = this.link.gateway;
    if (unsubscribe) void this.link.unsubscribe(deviceSubscriptions(dev)).catch(() => undefined);
    try {
      const r = await this.link.request(topics.logout(gw), { params: { productKey: dev.productKey, deviceName: dev.deviceName } }, { qos: 0 });
      this.counters.logouts++;
      if (r.code !== 200 && r.code !== 520) this.logger.warn({ device: dev.key, code: r.code, message: r.message }, "logout refused");
    } catch (err) {
      this.logger.debug({ device: dev.key, err: (err as Error).message }, "logout not confirmed");
    }
  }

  private setStatus(dev: Dev, status: SessionStatus, reason?: string): void {
    if (dev.status === status && dev.reason === reason) return;
    dev.status = status;
    dev.reason = reason;
    this.emitState(dev);
  }

  private emitState(dev: Dev): void {
    this.emit("state", this.toState(dev));
  }

  private toState(d: Dev): SessionState {
    return {
      key: d.key, productKey: d.productKey, deviceName: d.deviceName, status: d.status,
      ...(d.reason ? { reason: d.reason } : {}), loginCount: d.loginCount, ...(d.lastLoginAt ? { lastLoginAt: d.lastLoginAt } : {}),
    };
  }

  private secretOf(dev: Dev): string | undefined {
    return this.bootstrapSecrets.get(dev.key) ?? this.secrets.get(dev.productKey, dev.deviceName);
  }

  private schedule(delayMs: number): void {
    if (this.stopped || !this.link.connected) return;
    if (this.pumping) {
      this.repump = true;
      return;
    }
    clearTimeout(this.pumpTimer);
    this.pumpTimer = setTimeout(() => void this.pump(), Math.max(0, delayMs));
    this.pumpTimer.unref?.();
  }

  /** One pass: reconcile topology once per connection, then register, bind and log in what is due. */
  private async pump(): Promise<void> {
    if (this.pumping || this.stopped || !this.link.connected) return;
    this.pumping = true;
    this.repump = false;
    // One clock reading per pass: what is due and what is scheduled next must agree (a timer may fire a
    // millisecond before Date.now() reaches the due time).
    this.passNow = this.now();
    try {
      if (!this.reconciled) await this.reconcileTopology();
      await this.registerMissing();
      await this.bindMissing();
      await this.loginDue();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "sub-device reconciliation interrupted");
    } finally {
      this.pumping = false;
    }
    if (!this.link.connected || this.stopped) return;
    const now = this.passNow;
    let next = Infinity;
    for (const d of this.devs.values()) if (this.wantsLogin(d) && d.nextAttemptAt > now) next = Math.min(next, d.nextAttemptAt);
    if (this.globalHoldUntil > now) next = Math.max(next === Infinity ? 0 : next, this.globalHoldUntil);
    if (this.logger.isLevelEnabled("debug")) {
      const waiting = [...this.devs.values()].filter((d) => this.wantsLogin(d)).map((d) => `${d.key}@${d.nextAttemptAt - now}${d.bound ? "" : "!b"}`);
      this.logger.debug({ waiting, repump: this.repump, next: next === Infinity ? null : next - now }, "sessions pass done");
    }
    if (this.repump) this.schedule(0);
    else if (next !== Infinity) this.schedule(Math.max(1, next - this.now()));
  }

  private async reconcileTopology(): Promise<void> {
    const gw = this.link.gateway;
    const r = await this.link.request(topics.topoGet(gw), { version: "1.0", params: {}, method: "thing.topo.get" });
    if (r.code !== 200 || !Array.isArray(r.data)) {
      this.logger.warn({ code: r.code, message: r.message }, "topo get failed; assuming no sub-device is bound");
      for (const d of this.devs.values()) d.bound = false;
      this.reconciled = true;
      return;
    }
    const bound = new Set((r.data as Identity[]).map((d) => `${d.productKey}/${d.deviceName}`));
    this.boundAtConnect = bound;
    for (const d of this.devs.values()) d.bound = bound.has(d.key);
    this.reconciled = true;
    if (this.limits.pruneTopology && this.configKnown) {
      const extra = (r.data as Identity[]).filter((d) => !this.devs.get(`${d.productKey}/${d.deviceName}`)?.configured);
      for (const batch of chunk(extra, this.limits.batchSize)) {
        const res = await this.link.request(topics.topoDelete(gw), {
          version: "1.0", params: batch.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName })), method: "thing.topo.delete",
        });
        if (res.code === 200) {
          this.counters.topoDeletes += batch.length;
          this.logger.info({ devices: batch.map((d) => `${d.productKey}/${d.deviceName}`) }, "topology pruned: devices no longer configured");
        }
      }
    }
  }

  private wantsLogin(d: Dev): boolean {
    return d.configured && d.fieldOnline && !d.online && d.status === "waiting";
  }

  private async registerMissing(): Promise<void> {
    const missing = [...this.devs.values()].filter((d) => this.wantsLogin(d) && !this.secretOf(d) && d.nextAttemptAt <= this.passNow);
    for (const batch of chunk(missing, this.limits.batchSize)) {
      let r: AlinkReply;
      try {
        r = await this.link.request(topics.subRegister(this.link.gateway), {
          version: "1.0", params: batch.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName })), method: "thing.sub.register",
        });
      } catch (err) {
        for (const d of batch) this.backoff(d, 30_000, `registration failed: ${(err as Error).message}`);
        continue;
      }
      if (r.code !== 200 || !Array.isArray(r.data)) {
        for (const d of batch) {
          if (r.code === 460 || r.code === 6402) this.setStatus(d, "error", `registration refused (${r.code}${r.message ? ` ${r.message}` : ""})`);
          else this.backoff(d, r.code === 401 ? 10 * MINUTE : 60_000, `registration refused (${r.code})`);
        }
        this.logger.warn({ code: r.code, message: r.message, devices: batch.map((d) => d.key) }, "sub-device registration refused");
        continue;
      }
      for (const item of r.data as Array<Record<string, unknown>>) {
        const key = `${item["productKey"]}/${item["deviceName"]}`;
        const dev = this.devs.get(key);
        if (dev && typeof item["deviceSecret"] === "string") {
          // Stored durably before it is used (the platform issues it once).
          this.secrets.set(dev.productKey, dev.deviceName, item["deviceSecret"]);
          this.counters.registrations++;
          this.logger.info({ device: key }, "sub-device registered");
        }
      }
      for (const d of batch) if (!this.secretOf(d)) this.backoff(d, 60_000, "registration returned no secret");
    }
  }

  private async bindMissing(): Promise<void> {
    const due = [...this.devs.values()].filter((d) => this.wantsLogin(d) && !d.bound && this.secretOf(d) && d.nextAttemptAt <= this.passNow);
    for (const batch of chunk(due, this.limits.batchSize)) {
      const ok = await this.topoAdd(batch);
      // The reply carries no per-device result: retry a failed batch one device at a time.
      if (!ok && batch.length > 1) for (const d of batch) await this.topoAdd([d]);
    }
  }

  private async topoAdd(batch: Dev[]): Promise<boolean> {
    const ts = String(this.now());
    let r: AlinkReply;
    try {
      r = await this.link.request(topics.topoAdd(this.link.gateway), {
        version: "1.0",
        params: batch.map((d) => topoAddItem({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: this.secretOf(d)! }, ts)),
        method: "thing.topo.add",
      });
    } catch (err) {
      for (const d of batch) this.backoff(d, 30_000, `topo add failed: ${(err as Error).message}`);
      return false;
    }
    if (r.code === 200) {
      for (const d of batch) d.bound = true;
      this.counters.topoAdds += batch.length;
      return true;
    }
    if (batch.length === 1) {
      const d = batch[0]!;
      if (r.code === 6402 || r.code === 460) this.setStatus(d, "error", `topo add refused (${r.code})`);
      else if (r.code === 401) this.backoff(d, 10 * MINUTE, "topo add refused: bad sub-device secret (401)");
      else this.backoff(d, 60_000, `topo add refused (${r.code})`);
      this.logger.warn({ device: d.key, code: r.code, message: r.message }, "topo add refused");
    }
    return false;
  }

  private async loginDue(): Promise<void> {
    const now = this.passNow;
    if (now < this.globalHoldUntil) return;
    const due = [...this.devs.values()].filter((d) => this.wantsLogin(d) && d.bound && !d.inFlight && this.secretOf(d) && d.nextAttemptAt <= now);
    const logins: Promise<void>[] = [];
    let pending = 0;
    for (const dev of due) {
      // Logins completed in this pass already count as online; only those still awaiting a reply are added.
      if (this.onlineCount() + pending >= this.limits.maxOnline) {
        this.logger.warn({ maxOnline: this.limits.maxOnline }, "online sub-device cap reached; further logins wait");
        // Look again later: a device going offline frees a place.
        for (const d of due) if (!d.online && !d.inFlight && d.nextAttemptAt <= now) d.nextAttemptAt = now + 30_000;
        break;
      }
      // At most 5 logins per sub-device per minute (platform limit, alink.md 4.4).
      dev.loginTimes = dev.loginTimes.filter((t) => now - t < MINUTE);
      if (dev.loginTimes.length >= 5) {
        dev.nextAttemptAt = dev.loginTimes[0]! + MINUTE;
        continue;
      }
      await this.takeLoginToken();
      if (!this.link.connected || this.stopped) break;
      pending++;
      logins.push(this.login(dev).finally(() => pending--));
    }
    await Promise.all(logins);
  }

  private async takeLoginToken(): Promise<void> {
    for (;;) {
      const now = this.now();
      this.loginTokens = Math.min(this.limits.loginsPerSecond, this.loginTokens + ((now - this.lastRefill) / 1000) * this.limits.loginsPerSecond);
      this.lastRefill = now;
      if (this.loginTokens >= 1) {
        this.loginTokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.loginTokens) / this.limits.loginsPerSecond) * 1000)));
    }
  }

  private async login(dev: Dev): Promise<void> {
    const secret = this.secretOf(dev);
    if (!secret) return;
    dev.inFlight = true;
    dev.loginTimes.push(this.now());
    let r: AlinkReply;
    try {
      r = await this.link.request(
        topics.login(this.link.gateway),
        { params: loginParams({ productKey: dev.productKey, deviceName: dev.deviceName, deviceSecret: secret }, String(this.now())) },
        { qos: 0 },
      );
    } catch (err) {
      dev.inFlight = false;
      if (this.link.connected) this.backoff(dev, 10_000, `login failed: ${(err as Error).message}`);
      return;
    } finally {
      dev.inFlight = false;
    }
    if (!this.link.connected || this.stopped) return;
    if (r.code === 200) {
      const refused = await this.link.subscribe(deviceSubscriptions(dev)).catch((err: Error) => {
        this.logger.warn({ device: dev.key, err: err.message }, "subscribing sub-device topics failed");
        return [] as string[];
      });
      if (refused.length) this.logger.warn({ device: dev.key, topics: refused }, "platform refused sub-device subscriptions");
      dev.online = true;
      dev.loginCount++;
      dev.lastLoginAt = this.now();
      dev.reRegistered = false;
      this.counters.logins++;
      this.setStatus(dev, "online");
      this.logger.info({ device: dev.key }, "sub-device online");
      this.emit("online", dev.key);
      if (!dev.configured) void this.removeDevice(dev);
      return;
    }
    this.counters.loginFailures++;
    this.onLoginError(dev, r);
  }

  private onLoginError(dev: Dev, r: AlinkReply): void {
    const ctx = { device: dev.key, code: r.code, message: r.message };
    const now = this.now();
    switch (r.code) {
      case 6401: {
        dev.topoRetries = dev.topoRetries.filter((t) => now - t < 10 * MINUTE);
        if (dev.topoRetries.length >= 3) {
          this.backoff(dev, 10 * MINUTE, "no topology relation (6401), topo add keeps failing");
        } else {
          dev.topoRetries.push(now);
          dev.bound = false;
          dev.nextAttemptAt = 0;
          this.repump = true;
        }
        this.logger.warn(ctx, "login refused: no topology relation; adding it");
        return;
      }
      case 6287:
      case 6100: {
        // A secret from the database or a registration may be stale: forget it and register again, once.
        // A secret the operator provisioned is not ours to replace.
        if (!dev.reRegistered && !this.bootstrapSecrets.has(dev.key)) {
          dev.reRegistered = true;
          this.secrets.delete(dev.productKey, dev.deviceName);
          dev.nextAttemptAt = 0;
          this.repump = true;
          this.logger.warn(ctx, r.code === 6287 ? "login refused: invalid sign; registering the sub-device again" : "login refused: device not found; registering it");
        } else {
          this.setStatus(dev, "error", r.code === 6287 ? "invalid secret (6287)" : "device not found (6100)");
          this.logger.error(ctx, "login refused; the sub-device needs the operator");
        }
        return;
      }
      case 521:
        this.setStatus(dev, "deleted", "deleted in the cloud (521)");
        this.logger.error(ctx, "login refused: sub-device deleted");
        return;
      case 522:
        this.setStatus(dev, "disabled", "disabled in the cloud (522)");
        this.logger.warn(ctx, "login refused: sub-device disabled");
        return;
      case 427:
        this.setStatus(dev, "conflict", "logged in elsewhere (427)");
        dev.nextAttemptAt = now + 10 * MINUTE;
        this.logger.error(ctx, "login refused: logged in elsewhere");
        return;
      case 428:
        // Too many sub-devices online under this gateway: hold every login.
        this.globalHoldUntil = now + 5 * MINUTE;
        this.backoff(dev, 5 * MINUTE, "too many sub-devices online (428)");
        this.logger.error(ctx, "login refused: online sub-device limit reached; holding logins for 5 minutes");
        return;
      case 429:
        this.backoff(dev, MINUTE, "login throttled (429)");
        this.logger.warn(ctx, "login throttled; backing off");
        return;
      case 460:
        this.setStatus(dev, "error", `login parameters refused (460${r.message ? ` ${r.message}` : ""})`);
        this.logger.error(ctx, "login refused: parameter error");
        return;
      default:
        this.backoff(dev, 30_000, `login refused (${r.code})`);
        this.logger.warn(ctx, "login refused; retrying later");
    }
  }

  /** Exponential-ish backoff with jitter; keeps the status "waiting" with a reason. */
  private backoff(dev: Dev, baseMs: number, reason: string): void {
    dev.nextAttemptAt = this.now() + Math.round(baseMs * (0.8 + Math.random() * 0.4));
    this.setStatus(dev, "waiting", reason);
  }
}

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
