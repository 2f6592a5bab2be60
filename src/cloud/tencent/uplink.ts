/**
 * Sending outbox records (tencent.md 6.3, 6.4): each record becomes one or more `report`s (or one `event_post`),
 * published on the device's own topic with a fresh clientToken; a record is `ok` only when every message got its
 * reply with code 0. 503 or no reply → `retry` (at most 3 sends in all, then dropped as unacknowledged),
 * 400/403/405/406 → `reject`. Records older than `tencent.replayMaxAgeHours` are answered `reject` with reason
 * "expired", never re-stamped; they and the platform's 405 are counted as expired, not as rejected (6.4, 10.1),
 * with one log line per device and replay.
 */
import type { Logger } from "pino";
import { TokenBucket } from "../../core/token-bucket.js";
import type { MqttLink } from "../mqtt/link.js";
import type { RecordResult, Sending, UplinkRecord } from "../platform.js";
import type { TslDocument } from "../../things/tsl-types.js";
import { encodeEvent, encodeProperties, type PendingMessage, replyVerdict, type TimestampUnit, type TokenSource } from "./codec.js";
import { tencentTopics } from "./topics.js";

const MAX_SENDS = 3;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface UplinkOptions {
  unit: TimestampUnit;
  replayMaxAgeHours: number;
  publishesPerSecond: number;
  replyTimeoutMs: number;
  tslOf(device: string): TslDocument | undefined;
  ready(device: string): boolean;
  log: Logger;
}

/** A run of expired records of one device: logged once when it ends (no more for EPISODE_MS, or a fresh record). */
interface ExpiredRun {
  count: number;
  oldest: number;
  timer: NodeJS.Timeout;
}
const EPISODE_MS = 2000;

export class Uplinks {
  private readonly waiting = new Map<string, (code: unknown) => void>();
  private readonly buckets = new Map<string, TokenBucket>();
  /** expired: older than the replay limit, not sent; expiredByPlatform: refused with 405 (outside its 24 h window). */
  readonly counters = { accepted: 0, retried: 0, rejected: 0, unacknowledged: 0, expired: 0, expiredByPlatform: 0, unknownReplies: 0 };
  private readonly expiredRuns = new Map<string, ExpiredRun>();

  constructor(private readonly link: MqttLink, private readonly tokens: TokenSource, private readonly o: UplinkOptions) {}

  /** A report_reply / event_reply; false when its token is unknown. */
  onReply(token: unknown, code: unknown): boolean {
    const w = typeof token === "string" ? this.waiting.get(token) : undefined;
    if (!w) {
      this.counters.unknownReplies++;
      return false;
    }
    w(code);
    return true;
  }

  /** The connection dropped: every waiting message is unanswered. */
  failAll(): void {
    for (const w of [...this.waiting.values()]) w(undefined);
  }

  send(records: readonly UplinkRecord[]): Sending {
    const plans: Array<{ rec: UplinkRecord; msgs: PendingMessage[] } | RecordResult> = [];
    const now = Date.now();
    for (const rec of records) {
      if (rec.kind === "wire") { plans.push({ seq: rec.seq, result: "reject", reason: "wire records of another platform are not sent on tencent" }); continue; }
      if (now - rec.time > this.o.replayMaxAgeHours * 3600_000) {
        this.counters.expired++;
        this.expiredRun(rec.device, rec.time);
        plans.push({ seq: rec.seq, result: "expired", reason: `older than tencent.replayMaxAgeHours (${this.o.replayMaxAgeHours} h)` });
        continue;
      }
      this.endRun(rec.device);
      if (!this.o.ready(rec.device)) { plans.push({ seq: rec.seq, result: "unsent", reason: "device not online on the connection" }); continue; }
      const tsl = this.o.tslOf(rec.device);
      if (rec.kind === "event") {
        const m = encodeEvent(rec, tsl, this.o.unit);
        plans.push(m ? { rec, msgs: [m] } : { seq: rec.seq, result: "reject", reason: `event ${rec.identifier} is not in the thing model` });
      } else plans.push({ rec, msgs: encodeProperties(rec, tsl, this.o.unit) });
    }
    const messages = plans.reduce((n, p) => n + ("msgs" in p ? p.msgs.length : 0), 0);
    return { messages, done: this.run(plans) };
  }

  private expiredRun(device: string, time: number): void {
    const run = this.expiredRuns.get(device);
    if (run) {
      run.count++;
      run.oldest = Math.min(run.oldest, time);
      run.timer.refresh();
      return;
    }
    const timer = setTimeout(() => this.endRun(device), EPISODE_MS);
    timer.unref();
    this.expiredRuns.set(device, { count: 1, oldest: time, timer });
  }

  private endRun(device: string): void {
    const run = this.expiredRuns.get(device);
    if (!run) return;
    clearTimeout(run.timer);
    this.expiredRuns.delete(device);
    this.o.log.warn({ device, expired: run.count, oldest: new Date(run.oldest).toISOString(), replayMaxAgeHours: this.o.replayMaxAgeHours }, "records older than the replay limit dropped as expired (never re-stamped)");
  }

  private bucket(device: string): TokenBucket {
    let b = this.buckets.get(device);
    if (!b) this.buckets.set(device, (b = new TokenBucket(this.o.publishesPerSecond, this.o.publishesPerSecond)));
    return b;
  }

  private async run(plans: Array<{ rec: UplinkRecord; msgs: PendingMessage[] } | RecordResult>): Promise<RecordResult[]> {
    const pending: Array<Promise<RecordResult>> = [];
    for (const p of plans) {
      if (!("msgs" in p)) { pending.push(Promise.resolve(p)); continue; }
      const results: Array<Promise<RecordResult["result"] | string>> = [];
      for (const m of p.msgs) {
        const b = this.bucket(p.rec.device);
        while (b.available() < 1) await sleep(Math.max(5, b.msUntilToken()));
        b.consume(1);
        results.push(this.one(p.rec.device, p.rec.kind === "event", m));
      }
      pending.push(Promise.all(results).then((rs) => this.combine(p.rec, rs)));
    }
    return Promise.all(pending);
  }

  private combine(rec: UplinkRecord, rs: string[]): RecordResult {
    const unsent = rs.find((r) => r.startsWith("unsent"));
    if (unsent) return { seq: rec.seq, result: "unsent", reason: unsent.slice(7) };
    const reject = rs.find((r) => r.startsWith("reject"));
    if (reject) {
      if (reject.startsWith("reject:expired")) {
        this.counters.expiredByPlatform++;
        return { seq: rec.seq, result: "expired", reason: reject.slice(7) };
      }
      this.counters.rejected++;
      return { seq: rec.seq, result: "reject", reason: reject.slice(7) };
    }
    const retry = rs.find((r) => r.startsWith("retry"));
    if (retry) {
      if (rec.attempts + 1 >= MAX_SENDS) { this.counters.unacknowledged++; return { seq: rec.seq, result: "reject", reason: `unacknowledged after ${MAX_SENDS} sends (${retry.slice(6)})` }; }
      this.counters.retried++;
      return { seq: rec.seq, result: "retry", reason: retry.slice(6) };
    }
    this.counters.accepted++;
    return { seq: rec.seq, result: "ok" };
  }

  /** One message: "ok", "unsent:…", "retry:…" or "reject:…". */
  private async one(device: string, event: boolean, m: PendingMessage): Promise<string> {
    if (!this.o.ready(device)) return "unsent:device not online on the connection";
    const token = this.tokens.next();
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<unknown>((resolve) => {
      this.waiting.set(token, (code) => { clearTimeout(timer); this.waiting.delete(token); resolve(code ?? "lost"); });
    });
    const topic = event ? tencentTopics.eventUp(device) : tencentTopics.propertyUp(device);
    try {
      await this.link.publish(topic, m.render(token));
    } catch (err) {
      this.waiting.delete(token);
      return `unsent:${(err as Error).message}`;
    }
    timer = setTimeout(() => this.waiting.get(token)?.("timeout"), this.o.replyTimeoutMs);
    const code = await reply;
    if (code === "lost") return "unsent:connection lost before the reply";
    if (code === "timeout") return "retry:no reply";
    const v = replyVerdict(code);
    return v.result === "ok" ? "ok" : `${v.result}:${v.reason}`;
  }
}
