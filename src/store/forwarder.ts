/**
 * Drains the outbox to the cloud.
 *
 * Entries are split by a boundary seq. Everything stored before the latest (re)connect is the backlog: replayed in
 * seq order, paced by a token bucket so a long outage does not turn into a burst the platform throttles. Entries
 * appended after it are live and go out at once, ahead of the remaining backlog, so fresh values are never stuck
 * behind history. A live entry whose devices cannot send yet is skipped; when readiness changes (`wake()`), the
 * skipped entries join the backlog, since by then they are history too.
 *
 * At most `window` publishes are in flight. A publish that resolves deletes the entry; one that rejects returns it
 * to pending and pauses sending for `retryDelayMs` (or until `wake()`).
 */
import type { Logger } from "../ops/logger.js";
import type { Outbox } from "./outbox.js";
import type { OutboxEntry } from "./outbox-types.js";
import { TokenBucket } from "../core/token-bucket.js";

export interface Publisher {
  /** Resolves when the broker acknowledged (PUBACK); rejects if the connection drops first. */
  publish(topic: string, payload: string, entry: OutboxEntry): Promise<void>;
}

export interface ForwarderOptions {
  outbox: Outbox;
  publisher: Publisher;
  /**
   * True when the gateway is connected and every listed device is logged in. Called with `[]` to ask whether the
   * gateway itself is connected.
   */
  canSend: (devices: readonly string[]) => boolean;
  logger: Logger;
  /** Publishes in flight at most (default 32). */
  window?: number;
  /** Backlog replay rate, messages per second (default 50). */
  replayRatePerSec?: number;
  /** Backlog messages that may go out at once after a pause (default 10). */
  replayBurst?: number;
  /** Pause after a failed publish, unless `wake()` comes first (default 1,000 ms). */
  retryDelayMs?: number;
  /** A publish not settled by then is treated as failed (default 60 s). */
  publishTimeoutMs?: number;
  /** Skipped entries are reconsidered at least this often, in case a readiness change was not signalled (default 10 s). */
  rescanIntervalMs?: number;
}

export interface ForwarderStats {
  /** Publishes started (retries included). */
  published: number;
  /** Publishes acknowledged (entries deleted). */
  acked: number;
  /** Publishes that failed (rejected or timed out); their entries went back to pending. */
  failed: number;
  /** Publishes started from the backlog. */
  replayed: number;
  inFlight: number;
  /** True while backlog entries may remain to be replayed. */
  replaying: boolean;
}

interface Flight {
  attempt: number;
  settled: Promise<void>;
  timer: NodeJS.Timeout;
}

export class Forwarder {
  private readonly outbox: Outbox;
  private readonly publisher: Publisher;
  private readonly canSend: (devices: readonly string[]) => boolean;
  private readonly log: Logger;
  private readonly window: number;
  private readonly retryDelayMs: number;
  private readonly publishTimeoutMs: number;
  private readonly rescanIntervalMs: number;
  private readonly bucket: TokenBucket;

  private running = false;
  private connected = false;
  /** Entries with seq <= backlogEnd are history (paced); above it, live. */
  private backlogEnd = 0;
  private backlogCursor = 0;
  private backlogDone = true;
  private liveCursor = 0;
  private pausedUntil = 0;
  private attempts = 0;
  private readonly inFlight = new Map<number, Flight>();
  private pumpQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private rescanTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private failing = false;
  private failedInEpisode = 0;
  private readonly counters = { published: 0, acked: 0, failed: 0, replayed: 0 };

  constructor(o: ForwarderOptions) {
    this.outbox = o.outbox;
    this.publisher = o.publisher;
    this.canSend = o.canSend;
    this.log = o.logger; // the caller names the component (pino would repeat a key bound twice)
    this.window = o.window ?? 32;
    this.retryDelayMs = o.retryDelayMs ?? 1_000;
    this.publishTimeoutMs = o.publishTimeoutMs ?? 60_000;
    this.rescanIntervalMs = o.rescanIntervalMs ?? 10_000;
    if (!Number.isInteger(this.window) || this.window < 1) throw new Error(`forwarder window must be a positive integer, got ${this.window}`);
    this.bucket = new TokenBucket(o.replayRatePerSec ?? 50, o.replayBurst ?? 10);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connected = false;
    // Whatever is stored now was written before this run: backlog.
    this.backlogEnd = this.outbox.lastSeq;
    this.liveCursor = this.backlogEnd;
    this.backlogCursor = 0;
    this.backlogDone = false;
    this.pausedUntil = 0;
    this.unsubscribe = this.outbox.onAppended(() => this.schedule());
    this.rescanTimer = setInterval(() => {
      this.reconsiderSkipped();
      this.schedule();
    }, this.rescanIntervalMs);
    this.rescanTimer.unref();
    this.schedule();
  }

  /** Readiness changed (gateway connected or lost, a device logged in or out): look again. */
  wake(): void {
    if (!this.running) return;
    this.reconsiderSkipped();
    this.pausedUntil = 0;
    this.schedule();
  }

  /**
   * Stops sending and waits for in-flight publishes to settle, at most `timeoutMs`; entries still unsettled then
   * go back to pending (they are stored, so they are sent again after a restart).
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    if (this.inFlight.size > 0) {
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight.values()].map((f) => f.settled)),
        new Promise<void>((resolve) => (deadline = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(deadline);
    }
    if (this.inFlight.size > 0) {
      this.log.warn({ inFlight: this.inFlight.size }, "stopped with unacknowledged publishes; their entries stay in the outbox");
      for (const [seq, f] of this.inFlight) {
        clearTimeout(f.timer);
        this.outbox.release(seq);
      }
      this.inFlight.clear();
    }
  }

  stats(): ForwarderStats {
    return { ...this.counters, inFlight: this.inFlight.size, replaying: !this.backlogDone };
  }

  private reconsiderSkipped(): void {
    this.backlogEnd = Math.max(this.backlogEnd, this.liveCursor);
    this.backlogCursor = 0;
    this.backlogDone = false;
  }

  private schedule(): void {
    if (this.pumpQueued || !this.running) return;
    this.pumpQueued = true;
    // Coalesces the acks and appends of one turn of the event loop into one pass.
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private scheduleAt(delayMs: number): void {
    if (!this.running) return;
    const due = performance.now() + Math.max(1, delayMs);
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, delayMs));
  }

  private pump(): void {
    if (!this.running) return;
    const connected = this.canSend([]);
    if (connected && !this.connected) {
      // Reconnected: what was stored before now is backlog.
      this.backlogEnd = Math.max(this.backlogEnd, this.outbox.lastSeq);
      this.liveCursor = Math.max(this.liveCursor, this.backlogEnd);
      this.backlogCursor = 0;
      this.backlogDone = false;
    }
    this.connected = connected;
    if (!connected) return;
    const wait = this.pausedUntil - performance.now();
    if (wait > 0) {
      this.scheduleAt(wait);
      return;
    }

    const readiness = new Map<string, boolean>();
    const accept = (devices: readonly string[]): boolean => {
      const key = devices.join("\n");
      let ok = readiness.get(key);
      if (ok === undefined) readiness.set(key, (ok = this.canSend(devices)));
      return ok;
    };

    let more = false;
    let free = this.window - this.inFlight.size;
    if (free > 0) {
      const r = this.outbox.take({ afterSeq: this.liveCursor, limit: free, accept });
      this.liveCursor = r.lastSeq;
      for (const e of r.entries) this.send(e, false);
      if (!r.exhausted && r.entries.length < free) more = true;
    }

    free = this.window - this.inFlight.size;
    if (free > 0 && !this.backlogDone) {
      const n = Math.min(free, this.bucket.available());
      if (n > 0) {
        const r = this.outbox.take({ afterSeq: this.backlogCursor, maxSeq: this.backlogEnd, limit: n, accept });
        this.backlogCursor = r.lastSeq;
        this.bucket.consume(r.entries.length);
        for (const e of r.entries) this.send(e, true);
        if (r.exhausted) this.backlogDone = true;
        else if (r.entries.length < n) more = true;
      }
      if (!this.backlogDone && this.inFlight.size < this.window) {
        // One reading decides: a token may have arrived since `available()` above.
        const wait = this.bucket.msUntilToken();
        if (wait === 0) more = true;
        else this.scheduleAt(wait);
      }
    }
    if (more) this.schedule();
  }

  private send(e: OutboxEntry, replay: boolean): void {
    const attempt = ++this.attempts;
    this.counters.published++;
    if (replay) this.counters.replayed++;
    let timer!: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no acknowledgement within ${this.publishTimeoutMs} ms`)), this.publishTimeoutMs);
    });
    timer.unref();
    const publish = Promise.resolve().then(() => this.publisher.publish(e.topic, e.payload, e));
    const settled = Promise.race([publish, timeout])
      .finally(() => clearTimeout(timer))
      .then(
        () => this.delivered(e, attempt),
        (err: unknown) => this.failed(e, attempt, err),
      );
    this.inFlight.set(e.seq, { attempt, settled, timer });
  }

  private delivered(e: OutboxEntry, attempt: number): void {
    if (this.inFlight.get(e.seq)?.attempt !== attempt) return; // settled after a timeout or stop: already released
    this.inFlight.delete(e.seq);
    this.outbox.ack(e.seq);
    this.counters.acked++;
    if (this.failing) {
      this.failing = false;
      this.log.info({ failed: this.failedInEpisode }, "publishing works again");
      this.failedInEpisode = 0;
    }
    this.schedule();
  }

  private failed(e: OutboxEntry, attempt: number, err: unknown): void {
    if (this.inFlight.get(e.seq)?.attempt !== attempt) return;
    this.inFlight.delete(e.seq);
    this.outbox.release(e.seq);
    this.counters.failed++;
    this.failedInEpisode++;
    if (!this.failing) {
      this.failing = true;
      this.log.warn({ err: err instanceof Error ? err.message : String(err), topic: e.topic, msgId: e.msgId }, "publish failed: entries stay in the outbox and are retried");
    }
    // The entry is history now: retried in order through the paced backlog.
    this.backlogEnd = Math.max(this.backlogEnd, this.liveCursor);
    this.backlogCursor = Math.min(this.backlogCursor, e.seq - 1);
    this.backlogDone = false;
    this.pausedUntil = performance.now() + this.retryDelayMs;
    this.schedule();
  }
}
