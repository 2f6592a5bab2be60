/**
 * Sub-device logins and logouts (alink.md sections 3.7-3.8): signed, paced gateway-wide by a token bucket and per
 * device within the platform's 5-per-minute limit, capped at the online limit; each refusal code leads to the one
 * action of the session code table.
 */
import type { AlinkReply } from "./connection.js";
import { TokenBucket } from "../../core/token-bucket.js";
import { sessionAction } from "./session-codes.js";
import { MINUTE, type Dev, type SessionContext, type SessionStatus } from "./session-types.js";
import { loginParams } from "./sign.js";
import { deviceSubscriptions, topics } from "./topics.js";

/** Logins allowed per device within LOGIN_WINDOW_MS (platform: 5 per minute). */
const LOGINS_PER_WINDOW = 5;
/**
 * The platform's minute counts from its own receipt of the first login, so pacing to exactly 60.0 s lets the sixth
 * arrive inside it (429). A margin of a few seconds keeps every login outside the platform's window.
 */
export const LOGIN_WINDOW_MS = MINUTE + 3_000;

export class Logins {
  private readonly bucket: TokenBucket;
  private holdUntil = 0;

  constructor(private readonly ctx: SessionContext) {
    const rate = ctx.limits.loginsPerSecond;
    this.bucket = new TokenBucket(rate, Math.max(1, rate), () => ctx.now());
  }

  /** Logins are held (428) until this time. */
  get heldUntil(): number {
    return this.holdUntil;
  }

  async loginDue(): Promise<void> {
    const ctx = this.ctx;
    const now = ctx.passNow();
    if (now < this.holdUntil) return;
    const due = [...ctx.devs.values()].filter((d) => ctx.wantsLogin(d) && d.bound && !d.inFlight && ctx.secretOf(d) && d.nextAttemptAt <= now);
    const logins: Promise<void>[] = [];
    let pending = 0;
    for (const dev of due) {
      // Logins completed in this pass already count as online; only those still awaiting a reply are added.
      if (onlineCount(ctx) + pending >= ctx.limits.maxOnline) {
        ctx.logger.warn({ maxOnline: ctx.limits.maxOnline }, "online sub-device cap reached; further logins wait");
        // Look again later: a device going offline frees a place.
        for (const d of due) if (!d.online && !d.inFlight && d.nextAttemptAt <= now) d.nextAttemptAt = now + 30_000;
        break;
      }
      dev.loginTimes = dev.loginTimes.filter((t) => now - t < LOGIN_WINDOW_MS);
      if (dev.loginTimes.length >= LOGINS_PER_WINDOW) {
        dev.nextAttemptAt = dev.loginTimes[0]! + LOGIN_WINDOW_MS;
        continue;
      }
      await this.token();
      if (!ctx.link.connected || ctx.stopped()) break;
      pending++;
      logins.push(this.login(dev).finally(() => pending--));
    }
    await Promise.all(logins);
  }

  /**
   * Logs the device out. Its topic subscriptions are kept unless it leaves the config: a disabled device must
   * still hear `thing/enable`.
   */
  async logout(dev: Dev, status: SessionStatus, reason: string, unsubscribe = false): Promise<void> {
    const ctx = this.ctx;
    const was = dev.online;
    ctx.markOffline(dev, status, reason);
    if (!was || !ctx.link.connected) return;
    if (unsubscribe) void ctx.link.unsubscribe(deviceSubscriptions(dev)).catch(() => undefined);
    try {
      const r = await ctx.link.request(topics.logout(ctx.link.gateway), { params: { productKey: dev.productKey, deviceName: dev.deviceName } }, { qos: 0 });
      ctx.counters.logouts++;
      if (r.code !== 200 && r.code !== 520) ctx.logger.warn({ device: dev.key, code: r.code, message: r.message }, "logout refused");
    } catch (err) {
      ctx.logger.debug({ device: dev.key, err: (err as Error).message }, "logout not confirmed");
    }
  }

  private async token(): Promise<void> {
    for (;;) {
      const wait = this.bucket.msUntilToken();
      if (wait === 0) {
        this.bucket.consume(1);
        return;
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async login(dev: Dev): Promise<void> {
    const ctx = this.ctx;
    const secret = ctx.secretOf(dev);
    if (!secret) return;
    dev.inFlight = true;
    dev.loginTimes.push(ctx.now());
    let r: AlinkReply;
    try {
      r = await ctx.link.request(
        topics.login(ctx.link.gateway),
        { params: loginParams({ productKey: dev.productKey, deviceName: dev.deviceName, deviceSecret: secret }, String(ctx.now())) },
        { qos: 0 },
      );
    } catch (err) {
      dev.inFlight = false;
      if (ctx.link.connected) ctx.backoff(dev, 10_000, `login failed: ${(err as Error).message}`);
      return;
    } finally {
      dev.inFlight = false;
    }
    if (!ctx.link.connected || ctx.stopped()) return;
    if (r.code === 200) {
      const refused = await ctx.link.subscribe(deviceSubscriptions(dev)).catch((err: Error) => {
        ctx.logger.warn({ device: dev.key, err: err.message }, "subscribing sub-device topics failed");
        return [] as string[];
      });
      if (refused.length) ctx.logger.warn({ device: dev.key, topics: refused }, "platform refused sub-device subscriptions");
      ctx.counters.logins++;
      ctx.online(dev);
      return;
    }
    ctx.counters.loginFailures++;
    this.refused(dev, r);
  }

  private refused(dev: Dev, r: AlinkReply): void {
    const ctx = this.ctx;
    const log = { device: dev.key, code: r.code, message: r.message };
    const now = ctx.now();
    const action = sessionAction(r.code);
    switch (action.kind) {
      case "relogin":
        ctx.backoff(dev, 30_000, `login refused (${r.code})`);
        ctx.logger.warn(log, "login refused; retrying later");
        return;
      case "rebind": {
        dev.topoRetries = dev.topoRetries.filter((t) => now - t < 10 * MINUTE);
        if (dev.topoRetries.length >= 3) {
          ctx.backoff(dev, 10 * MINUTE, "no topology relation (6401), topo add keeps failing");
        } else {
          dev.topoRetries.push(now);
          dev.bound = false;
          dev.nextAttemptAt = 0;
          ctx.repump();
        }
        ctx.logger.warn(log, "login refused: no topology relation; adding it");
        return;
      }
      case "reregister":
        // A secret from the database or a registration may be stale: forget it and register again, once.
        // A secret the operator provisioned is not ours to replace.
        if (!dev.reRegistered && !ctx.provisioned(dev)) {
          dev.reRegistered = true;
          ctx.secrets.delete(dev.productKey, dev.deviceName);
          dev.nextAttemptAt = 0;
          ctx.repump();
          ctx.logger.warn(log, r.code === 6287 ? "login refused: invalid sign; registering the sub-device again" : "login refused: device not found; registering it");
        } else {
          ctx.setStatus(dev, "error", action.reason);
          ctx.logger.error(log, "login refused; the sub-device needs the operator");
        }
        return;
      case "state":
        ctx.setStatus(dev, action.status, r.code === 460 && r.message ? `login parameters refused (460 ${r.message})` : action.reason);
        if (action.retryAfterMs) dev.nextAttemptAt = now + action.retryAfterMs;
        if (action.status === "disabled") ctx.logger.warn(log, `login refused: ${action.reason}`);
        else ctx.logger.error(log, `login refused: ${action.reason}`);
        return;
      case "holdAll":
        // Too many sub-devices online under this gateway: hold every login.
        this.holdUntil = now + action.ms;
        ctx.backoff(dev, action.ms, action.reason);
        ctx.logger.error(log, "login refused: online sub-device limit reached; holding logins for 5 minutes");
        return;
      case "backoff":
        ctx.backoff(dev, action.ms, action.reason);
        ctx.logger.warn(log, r.code === 429 ? "login throttled; backing off" : "login refused; retrying later");
    }
  }
}

export function onlineCount(ctx: SessionContext): number {
  let n = 0;
  for (const d of ctx.devs.values()) if (d.online) n++;
  return n;
}
