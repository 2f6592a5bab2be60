/**
 * Drains the record outbox to the platform, one drain per route (one MQTT connection).
 *
 * Each route has its own cursors, backlog boundary, in-flight window and pause after a failure; all routes share one
 * replay pace (a token bucket counting MQTT messages) and one cap on sends in flight. What was stored before a
 * route's (re)connect is its backlog, replayed in seq order at the shared pace; records appended later are live and
 * go at once, ahead of the backlog, so fresh values of healthy devices are not stuck behind history. Per device the
 * cloud still gets values in sample order: a live record of a device that has backlog waiting on the route joins
 * that backlog (the boundary moves past it), and so does a record that could not be sent (not ready, refused).
 *
 * On a gateway platform one route scans all records; on a per-device platform each device's lane scans only its
 * own records through the (device, seq) index.
 *
 * Sends of a route are pipelined (up to `window` in flight). A dropped connection fails all of them, and they go
 * again from the oldest, in order; a single send refused or unanswered while later ones succeed is sent again after
 * them (a window of 1 rules that out, at the cost of one round trip per send).
 */
import { GATEWAY_ROUTE, type DeviceKey, type RecordResult, type RouteId, type Sending, type UplinkRecord } from "../cloud/platform.js";
import { TokenBucket } from "../core/token-bucket.js";
import type { Logger } from "../ops/logger.js";
import { DrainSchedule, type Progress } from "./drain-schedule.js";
import type { DrainsOptions, DrainStats, DrainTarget, Flight, Lane, Route, RouteDrainStats } from "./drains-types.js";
import type { RecordOutbox } from "./records.js";

export type { DrainsOptions, DrainStats, DrainTarget, RouteDrainStats } from "./drains-types.js";

export class Drains {
  private readonly outbox: RecordOutbox;
  private readonly target: DrainTarget;
  private readonly log: Logger;
  private readonly window: number;
  private readonly globalWindow: number;
  private readonly retryDelayMs: number;
  private readonly publishTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly rescanIntervalMs: number;
  private readonly bucket: TokenBucket;
  private readonly schedule: DrainSchedule;

  private readonly routes = new Map<RouteId, Route>();
  private readonly lanes = new Map<DeviceKey, { route: Route; lane: Lane }>();
  private readonly flights = new Map<number, Flight>();
  private readonly replayInFlight = new Map<DeviceKey, number>();
  private inFlightTotal = 0;
  private nextFlight = 0;
  private seenSeq = 0;
  private running = false;
  private rescanTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private failing = false;
  private failedInEpisode = 0;
  private readonly counters = { published: 0, acked: 0, failed: 0, rejected: 0, expired: 0, replayed: 0, messages: 0 };

  constructor(o: DrainsOptions) {
    this.outbox = o.outbox;
    this.target = o.target;
    this.log = o.logger;
    this.window = positiveInt("window", o.window ?? 32);
    this.globalWindow = positiveInt("globalWindow", o.globalWindow ?? 256);
    this.retryDelayMs = o.retryDelayMs ?? 1_000;
    this.publishTimeoutMs = o.publishTimeoutMs ?? 60_000;
    this.maxAttempts = positiveInt("maxAttempts", o.maxAttempts ?? 5);
    this.rescanIntervalMs = o.rescanIntervalMs ?? 10_000;
    this.bucket = new TokenBucket(o.replayRatePerSec ?? 50, o.replayBurst ?? 10);
    this.schedule = new DrainSchedule(
      (r) => this.serve(r),
      () => this.inFlightTotal >= this.globalWindow,
      () => this.bucket.msUntilToken(),
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.routes.clear();
    this.lanes.clear();
    // Whatever is stored now was written before this run: backlog of its route.
    this.seenSeq = this.outbox.lastSeq;
    if (!this.target.perDeviceRoutes) this.shared();
    else for (const device of this.outbox.backlogByDevice(this.seenSeq).keys()) this.laneOf(device, this.seenSeq);
    this.unsubscribe = this.outbox.onAppended((devices) => this.appended(devices));
    this.rescanTimer = setInterval(() => this.rescan(), this.rescanIntervalMs);
    this.rescanTimer.unref();
    this.schedule.start(this.routes.values());
  }

  /** A route came up (what is stored now is its backlog) or went down (its drain rests until it is up again). */
  presence(route: RouteId, up: boolean): void {
    if (!this.running) return;
    if (!this.target.perDeviceRoutes && route !== GATEWAY_ROUTE) {
      // On a gateway platform a device's own presence (a sub-device session) only changes readiness.
      if (up) this.wake(route);
      return;
    }
    const r = this.routeOf(route);
    r.down = !up;
    if (!up) return;
    r.boundary = this.outbox.lastSeq;
    for (const lane of r.lanes) {
      lane.backlogEnd = Math.max(lane.backlogEnd, r.boundary);
      lane.liveCursor = Math.max(lane.liveCursor, lane.backlogEnd);
      this.reconsider(lane);
    }
    this.schedule.resume(r);
  }

  /** Readiness changed on a route (every route when omitted): skipped records are looked at again, the pause ends. */
  wake(route?: RouteId): void {
    if (!this.running) return;
    const targets = route === undefined ? [...this.routes.values()] : [this.routes.get(this.target.perDeviceRoutes ? route : GATEWAY_ROUTE)];
    for (const r of targets) {
      if (!r) continue;
      for (const lane of r.lanes) this.reconsider(lane);
      this.schedule.resume(r);
    }
  }

  /** Stops sending and waits for sends in flight, at most `timeoutMs`; records still unsettled then are pending again. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.schedule.stop();
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    if (this.flights.size > 0) {
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.flights.values()].map((f) => f.settled)),
        new Promise<void>((resolve) => (deadline = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(deadline);
    }
    if (this.flights.size > 0) {
      this.log.warn({ inFlight: this.flights.size }, "stopped with unacknowledged sends; their records stay in the outbox");
      for (const f of this.flights.values()) {
        clearTimeout(f.timer);
        for (const rec of f.records) this.outbox.release(rec.seq);
      }
      this.flights.clear();
      this.replayInFlight.clear();
      this.inFlightTotal = 0;
      for (const r of this.routes.values()) r.inFlight = 0;
    }
  }

  /** A device left the config (per-device routes): its lane goes, and its route when nothing else uses it. */
  forget(device: DeviceKey): void {
    const l = this.lanes.get(device);
    if (!l) return;
    this.lanes.delete(device);
    l.route.lanes = l.route.lanes.filter((x) => x !== l.lane);
    if (l.route.lanes.length === 0 && l.route.inFlight === 0) {
      this.routes.delete(l.route.id);
      this.schedule.forget(l.route);
    }
  }

  stats(): DrainStats {
    let replaying = false;
    for (const r of this.routes.values()) if (r.lanes.some((l) => !l.backlogDone)) replaying = true;
    return { ...this.counters, inFlight: this.inFlightTotal, replaying, routes: this.routes.size };
  }

  routeStats(route: RouteId): RouteDrainStats | undefined {
    const r = this.routes.get(this.target.perDeviceRoutes ? route : GATEWAY_ROUTE);
    if (!r) return undefined;
    let backlog = 0;
    for (const l of r.lanes) backlog += this.outbox.countUpTo(l.backlogEnd, l.device);
    return { inFlight: r.inFlight, backlog, paused: r.pausedUntil > performance.now(), down: r.down };
  }

  private shared(): { route: Route; lane: Lane } {
    const route = this.routeOf(GATEWAY_ROUTE);
    if (route.lanes.length === 0) route.lanes.push(newLane(undefined, this.seenSeq));
    return { route, lane: route.lanes[0]! };
  }

  private routeOf(id: RouteId): Route {
    let r = this.routes.get(id);
    if (!r) this.routes.set(id, (r = { id, lanes: [], inFlight: 0, pausedUntil: 0, down: false, boundary: 0 }));
    return r;
  }

  /** The lane of a device; a new one starts at `boundary` (records above it are live). */
  private laneOf(device: DeviceKey, boundary: number): { route: Route; lane: Lane } {
    let l = this.lanes.get(device);
    if (!l) {
      const route = this.routeOf(this.target.routeOf(device));
      const lane = newLane(device, Math.max(boundary, route.boundary));
      route.lanes.push(lane);
      this.lanes.set(device, (l = { route, lane }));
    }
    return l;
  }

  private appended(devices: Set<DeviceKey>): void {
    const before = this.seenSeq;
    this.seenSeq = this.outbox.lastSeq;
    if (!this.target.perDeviceRoutes) this.schedule.mark(this.shared().route);
    else for (const d of devices) this.schedule.mark(this.laneOf(d, before).route);
  }

  /** Everything scanned so far is history now: skipped records are sent again through the backlog, in order. */
  private reconsider(lane: Lane): void {
    lane.backlogEnd = Math.max(lane.backlogEnd, lane.liveCursor);
    lane.backlogCursor = 0;
    lane.backlogDone = false;
    lane.skipped = false;
  }

  private rescan(): void {
    for (const r of this.routes.values()) {
      let any = false;
      for (const lane of r.lanes) {
        if (!lane.skipped) continue;
        this.reconsider(lane);
        any = true;
      }
      if (any) this.schedule.mark(r);
    }
  }

  private serve(r: Route): Progress {
    const cache = new Map<DeviceKey, boolean>();
    const ready = (d: DeviceKey): boolean => {
      let ok = cache.get(d);
      if (ok === undefined) cache.set(d, (ok = this.target.ready(r.id, d)));
      return ok;
    };
    let result: Progress = "idle";
    for (const lane of r.lanes) {
      const p = this.pumpLane(r, lane, ready);
      if (p === "full" || p === "global") return p;
      if (p === "more" || result === "idle") result = p; // more to scan beats waiting for the pace
    }
    return result;
  }

  private pumpLane(r: Route, lane: Lane, ready: (d: DeviceKey) => boolean): Progress {
    const limit = Math.max(1, this.target.maxRecordsPerSend);
    const heldCache = new Map<DeviceKey, boolean>();
    // A backlog scanned to its end with nothing skipped has nothing left waiting but what is in flight (a failed
    // send reopens the backlog): the outbox need not be asked per device then, which it would be on every poll.
    const backlogClear = lane.backlogDone && !lane.skipped;
    const held = (d: DeviceKey): boolean => {
      let h = heldCache.get(d);
      if (h === undefined) heldCache.set(d, (h = (this.replayInFlight.get(d) ?? 0) > 0 || (!backlogClear && this.outbox.hasWaiting(d, lane.backlogEnd))));
      return h;
    };
    for (;;) {
      const blocked = this.blocked(r);
      if (blocked) return blocked;
      let skipped = false;
      const accept = (d: DeviceKey): boolean => {
        if (!ready(d)) lane.skipped = true;
        else if (!held(d)) return true;
        skipped = true;
        return false;
      };
      const t = this.outbox.take({ afterSeq: lane.liveCursor, limit, device: lane.device, accept });
      lane.liveCursor = t.lastSeq;
      if (skipped) {
        // The skipped records become history, so the device's later records wait behind them.
        lane.backlogEnd = Math.max(lane.backlogEnd, t.lastSeq);
        lane.backlogDone = false;
      }
      if (t.records.length > 0) this.send(r, lane, t.records, false);
      if (t.exhausted) break;
      if (t.records.length === 0) return "more";
    }
    const accept = (d: DeviceKey): boolean => {
      if (ready(d)) return true;
      lane.skipped = true;
      return false;
    };
    while (!lane.backlogDone) {
      const blocked = this.blocked(r);
      if (blocked) return blocked;
      if (this.bucket.available() < 1) return "tokens";
      const t = this.outbox.take({ afterSeq: lane.backlogCursor, maxSeq: lane.backlogEnd, limit, device: lane.device, accept });
      lane.backlogCursor = t.lastSeq;
      if (t.records.length > 0) this.bucket.consume(this.send(r, lane, t.records, true));
      if (t.exhausted) lane.backlogDone = true;
      else if (t.records.length === 0) return "more";
    }
    return "idle";
  }

  private blocked(r: Route): Progress | undefined {
    if (r.inFlight >= this.window) return "full";
    if (this.inFlightTotal >= this.globalWindow) return "global";
    return undefined;
  }

  /** Returns the MQTT messages the send costs. */
  private send(route: Route, lane: Lane, records: readonly UplinkRecord[], replay: boolean): number {
    const id = ++this.nextFlight;
    this.counters.published += records.length;
    if (replay) {
      this.counters.replayed += records.length;
      for (const rec of records) this.replayInFlight.set(rec.device, (this.replayInFlight.get(rec.device) ?? 0) + 1);
    }
    route.inFlight++;
    this.inFlightTotal++;
    let sending: Sending;
    try {
      sending = this.target.send(route.id, records);
    } catch (err) {
      sending = { messages: 1, done: Promise.reject(err) };
    }
    // The pace must not break on an adapter's odd count: a send costs at least what one message costs.
    const messages = Number.isFinite(sending.messages) && sending.messages > 0 ? sending.messages : 1;
    this.counters.messages += messages;
    const timer = setTimeout(() => this.finish(flight, undefined, `no acknowledgement within ${this.publishTimeoutMs} ms`), this.publishTimeoutMs);
    timer.unref();
    const settled = Promise.resolve(sending.done).then(
      (results) => this.finish(flight, results),
      (err: unknown) => this.finish(flight, undefined, err instanceof Error ? err.message : String(err)),
    );
    const flight: Flight = { id, route, lane, records, replay, timer, settled };
    this.flights.set(id, flight);
    return messages;
  }

  private finish(f: Flight, results: readonly RecordResult[] | undefined, failure?: string): void {
    if (!this.flights.delete(f.id)) return; // settled after a timeout or stop
    clearTimeout(f.timer);
    f.route.inFlight--;
    this.inFlightTotal--;
    const bySeq = new Map<number, RecordResult>();
    for (const res of results ?? []) bySeq.set(res.seq, res);
    let rewindTo = Infinity;
    let reason: string | undefined;
    let delivered = false;
    for (const rec of f.records) {
      if (f.replay) {
        const n = (this.replayInFlight.get(rec.device) ?? 1) - 1;
        if (n > 0) this.replayInFlight.set(rec.device, n);
        else this.replayInFlight.delete(rec.device);
      }
      const res = bySeq.get(rec.seq);
      if (res?.result === "ok") {
        this.outbox.ack(rec.seq);
        this.counters.acked++;
        delivered = true;
      } else if (res?.result === "reject") {
        this.outbox.reject(rec.seq, res.reason);
        this.counters.rejected++;
      } else if (res?.result === "expired") {
        this.outbox.expired(rec.seq);
        this.counters.expired++;
      } else {
        this.counters.failed++;
        reason ??= res?.reason ?? failure ?? "no result for the record";
        const stays = res?.result === "retry" ? this.outbox.retry(rec.seq, this.maxAttempts) : (this.outbox.release(rec.seq), true);
        if (stays) rewindTo = Math.min(rewindTo, rec.seq);
      }
    }
    if (reason !== undefined) this.failed(f, rewindTo, reason);
    else if (delivered && this.failing) {
      this.failing = false;
      this.log.info({ failed: this.failedInEpisode }, "sending works again");
      this.failedInEpisode = 0;
    }
    this.schedule.mark(f.route);
  }

  /** The failed records are history now: sent again in order through the paced backlog after a pause. */
  private failed(f: Flight, rewindTo: number, reason: string): void {
    const lane = f.lane;
    lane.backlogEnd = Math.max(lane.backlogEnd, lane.liveCursor);
    if (rewindTo !== Infinity) lane.backlogCursor = Math.min(lane.backlogCursor, rewindTo - 1);
    lane.backlogDone = false;
    f.route.pausedUntil = performance.now() + this.retryDelayMs;
    this.failedInEpisode++;
    if (!this.failing) {
      this.failing = true;
      this.log.warn({ route: f.route.id, reason }, "a send failed: its records stay in the outbox and are sent again");
    }
  }
}

function newLane(device: DeviceKey | undefined, boundary: number): Lane {
  return { device, backlogEnd: boundary, backlogCursor: 0, backlogDone: false, liveCursor: boundary, skipped: false };
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`drain option ${name} must be a positive integer, got ${v}`);
  return v;
}
