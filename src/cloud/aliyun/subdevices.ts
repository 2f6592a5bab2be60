/**
 * Sub-device lifecycle over the gateway's connection (alink.md sections 3.1-3.9): secrets (bootstrap, database,
 * dynamic registration), topology reconciliation on every connect, signed logins paced within the platform's
 * limits, re-login after every reconnect, logout on removal, disable, field loss and shutdown, and one action per
 * error code.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { AlinkConnection, AlinkMessage } from "./connection.js";
import { Logins, onlineCount } from "./logins.js";
import { registerMissing } from "./registration.js";
import { sessionAction } from "./session-codes.js";
import { chunk, type Dev, type SecretRepository, type SessionContext, type SessionState, type SessionStatus, type SubDeviceLimits } from "./session-types.js";
import { Topology } from "./topology.js";
import { topics, replyTopic, type Identity } from "./topics.js";
import { deviceKey } from "../../core/device-key.js";

export type { SecretRepository, SessionState, SessionStatus, SubDeviceLimits } from "./session-types.js";

type Events = {
  online: [key: string];
  offline: [key: string, reason: string];
  state: [state: SessionState];
};

export class SubDeviceManager extends EventEmitter<Events> {
  private readonly devs = new Map<string, Dev>();
  private readonly bootstrapSecrets = new Map<string, string>();
  private pumpTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  private repump = false;
  private stopped = false;
  private passNow = 0;
  /** True once a gateway config has been applied: before that, nothing is pruned from the topology. */
  private configKnown = false;
  readonly counters = { logins: 0, loginFailures: 0, logouts: 0, registrations: 0, topoAdds: 0, topoDeletes: 0 };
  private readonly ctx: SessionContext;
  private readonly topology: Topology;
  private readonly logins: Logins;

  constructor(
    private readonly link: AlinkConnection,
    private readonly secrets: SecretRepository,
    bootstrap: Array<{ productKey: string; deviceName: string; deviceSecret: string }>,
    private readonly limits: SubDeviceLimits,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super();
    for (const d of bootstrap) this.bootstrapSecrets.set(deviceKey(d.productKey, d.deviceName), d.deviceSecret);
    this.ctx = {
      link, logger, limits, secrets, counters: this.counters, devs: this.devs,
      now: () => this.now(),
      passNow: () => this.passNow,
      stopped: () => this.stopped,
      secretOf: (dev) => this.secretOf(dev),
      provisioned: (dev) => this.bootstrapSecrets.has(dev.key),
      setStatus: (dev, status, reason) => this.setStatus(dev, status, reason),
      backoff: (dev, baseMs, reason) => this.backoff(dev, baseMs, reason),
      markOffline: (dev, status, reason) => this.markOffline(dev, status, reason),
      repump: () => {
        this.repump = true;
      },
      online: (dev) => this.onOnline(dev),
      wantsLogin: (dev) => this.wantsLogin(dev),
    };
    this.topology = new Topology(this.ctx);
    this.logins = new Logins(this.ctx);
    link.on("connected", () => {
      this.topology.reconciled = false;
      this.schedule(0);
    });
    link.on("disconnected", () => this.onLinkDown());
  }

  /** The configured sub-devices (from the applied gateway config). */
  setConfigured(list: Identity[]): void {
    this.configKnown = true;
    const want = new Set(list.map((d) => deviceKey(d.productKey, d.deviceName)));
    for (const d of list) {
      const key = deviceKey(d.productKey, d.deviceName);
      let dev = this.devs.get(key);
      if (!dev) {
        dev = {
          key, productKey: d.productKey, deviceName: d.deviceName, configured: true, fieldOnline: false,
          status: "waiting", bound: this.topology.knownBound(key), online: false, loginTimes: [], nextAttemptAt: 0, topoRetries: [],
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
      void this.logins.logout(dev, "offline", reason ?? "field device unreachable");
    }
  }

  isOnline(key: string): boolean {
    return this.devs.get(key)?.online === true;
  }

  onlineCount(): number {
    return onlineCount(this.ctx);
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
    await this.logins.logout(dev, "disabled", "disabled in the cloud");
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
    await this.logins.logout(dev, "deleted", "deleted in the cloud");
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
          const dev = this.devs.get(deviceKey(p.productKey, p.deviceName));
          if (dev?.configured) {
            dev.bound = false;
            dev.nextAttemptAt = 0;
          } else this.logger.warn({ device: deviceKey(p.productKey, p.deviceName) }, "topo add notify names a device that is not configured on this gateway");
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
        for (const group of chunk(online, 100)) await Promise.allSettled(group.map((d) => this.logins.logout(d, "waiting", "shutdown")));
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
    return undefined;
  }

  private onKickOrError(dev: Dev, code: number, message: string, extError: boolean): void {
    const ctx = { device: dev.key, code, message };
    const action = extError && code === 520 ? sessionAction(520) : code === 520 ? undefined : sessionAction(code);
    switch (action?.kind) {
      case "relogin":
        // The platform has no session for it: log in again.
        if (dev.online) this.markOffline(dev, "waiting", "session lost (520)");
        this.logger.warn(ctx, "sub-device session lost; logging in again");
        dev.nextAttemptAt = 0;
        this.schedule(0);
        return;
      case "rebind":
        this.markOffline(dev, "waiting", "topology relation removed (6401)");
        dev.bound = false;
        dev.nextAttemptAt = this.now() + 1000;
        this.schedule(1000);
        return;
      case "state":
        this.markOffline(dev, action.status, action.reason);
        if (action.retryAfterMs) dev.nextAttemptAt = this.now() + action.retryAfterMs;
        if (action.status === "disabled") this.logger.warn(ctx, "sub-device disabled in the cloud");
        else if (action.status === "conflict") this.logger.error(ctx, "sub-device logged in elsewhere; not logging it in again automatically for 10 minutes");
        else this.logger.error(ctx, `sub-device ${action.reason}`);
        return;
      default:
        this.logger.warn(ctx, "sub-device notice");
    }
  }

  private async removeDevice(dev: Dev): Promise<void> {
    if (dev.online) await this.logins.logout(dev, "waiting", "removed from the gateway config", true);
    if (this.limits.pruneTopology && dev.bound && this.link.connected) await this.topology.delete([dev]);
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
      if (!this.topology.reconciled) await this.topology.reconcile(this.configKnown);
      await registerMissing(this.ctx);
      await this.topology.bindMissing();
      await this.logins.loginDue();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "sub-device reconciliation interrupted");
    } finally {
      this.pumping = false;
    }
    if (!this.link.connected || this.stopped) return;
    const now = this.passNow;
    let next = Infinity;
    for (const d of this.devs.values()) if (this.wantsLogin(d) && d.nextAttemptAt > now) next = Math.min(next, d.nextAttemptAt);
    if (this.logins.heldUntil > now) next = Math.max(next === Infinity ? 0 : next, this.logins.heldUntil);
    if (this.logger.isLevelEnabled("debug")) {
      const waiting = [...this.devs.values()].filter((d) => this.wantsLogin(d)).map((d) => `${d.key}@${d.nextAttemptAt - now}${d.bound ? "" : "!b"}`);
      this.logger.debug({ waiting, repump: this.repump, next: next === Infinity ? null : next - now }, "sessions pass done");
    }
    if (this.repump) this.schedule(0);
    else if (next !== Infinity) this.schedule(Math.max(1, next - this.now()));
  }

  private wantsLogin(d: Dev): boolean {
    return d.configured && d.fieldOnline && !d.online && d.status === "waiting";
  }

  private onOnline(dev: Dev): void {
    dev.online = true;
    dev.loginCount++;
    dev.lastLoginAt = this.now();
    dev.reRegistered = false;
    this.setStatus(dev, "online");
    this.logger.info({ device: dev.key }, "sub-device online");
    this.emit("online", dev.key);
    if (!dev.configured) void this.removeDevice(dev);
  }

  /** Exponential-ish backoff with jitter; keeps the status "waiting" with a reason. */
  private backoff(dev: Dev, baseMs: number, reason: string): void {
    dev.nextAttemptAt = this.now() + Math.round(baseMs * (0.8 + Math.random() * 0.4));
    this.setStatus(dev, "waiting", reason);
  }
}
