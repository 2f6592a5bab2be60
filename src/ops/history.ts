/**
 * The last hour of the gateway, kept in memory for the status page: one point every 10 s (360 points) of the
 * outbox depth and of the values reported per second, plus per-channel request, error and timeout rates over the
 * last 10 s. Counters are read from the parts at each tick; nothing is stored on disk.
 */

/** A fixed-capacity ring: pushing beyond the capacity drops the oldest entry. */
export class Ring<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`ring capacity must be a positive integer, got ${capacity}`);
  }

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }

  get size(): number {
    return this.items.length;
  }
}

export interface HistoryPoint {
  /** Epoch ms. */
  t: number;
  outboxDepth: number;
  valuesPerSecond: number;
}

export interface ChannelCounters {
  serverId: string;
  requests: number;
  errors: number;
  timeouts: number;
}

export interface ChannelRates {
  requestsPerSecond: number;
  errorsPerSecond: number;
  timeoutsPerSecond: number;
}

/** What a tick reads from the running gateway. */
export interface HistorySource {
  outboxDepth(): number;
  /** Monotonic count of values reported (queued for the cloud). */
  valuesReported(): number;
  channels(): ChannelCounters[];
}

interface Snapshot {
  t: number;
  values: number;
  depth: number;
  channels: Map<string, ChannelCounters>;
}

/**
 * Samples the counters five times per history interval: rates are taken over the last interval (a sliding window,
 * so the page shows a rate two seconds after the start), and one point per interval goes into the hour's ring.
 */
export class StatusHistory {
  readonly points: Ring<HistoryPoint>;
  /** The last interval's snapshots (6: both ends of five steps). */
  private readonly recent = new Ring<Snapshot>(6);
  private steps = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: HistorySource,
    readonly intervalMs = 10_000,
    windowMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {
    this.points = new Ring(Math.max(1, Math.round(windowMs / intervalMs)));
    this.step();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.step(), this.intervalMs / 5);
    // The history never keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sample; every fifth one adds a point to the hour (the timer calls it; tests call it directly). */
  step(): void {
    try {
      this.recent.push({ t: this.now(), values: this.source.valuesReported(), depth: this.source.outboxDepth(), channels: new Map(this.source.channels().map((c) => [c.serverId, { ...c }])) });
    } catch {
      // A part not started yet (or stopping): skip this sample rather than stop the timer.
      return;
    }
    const n = this.steps++;
    if (n === 0 || n % 5 !== 0) return;
    const last = this.latest()!;
    this.points.push({ t: last.t, outboxDepth: last.depth, valuesPerSecond: this.rate((s) => s.values) });
  }

  /** Rates over the last interval (zero until two samples exist). */
  channelRates(serverId: string): ChannelRates {
    const of = (f: (c: ChannelCounters) => number) => this.rate((s) => { const c = s.channels.get(serverId); return c ? f(c) : undefined; });
    return { requestsPerSecond: of((c) => c.requests), errorsPerSecond: of((c) => c.errors), timeoutsPerSecond: of((c) => c.timeouts) };
  }

  /** Values reported per second over the last interval. */
  valuesPerSecond(): number {
    return this.rate((s) => s.values);
  }

  history(): HistoryPoint[] {
    return this.points.toArray();
  }

  private latest(): Snapshot | undefined {
    const all = this.recent.toArray();
    return all[all.length - 1];
  }

  /** Per second between the oldest and the newest sample that both have the counter; counters that went down read 0. */
  private rate(read: (s: Snapshot) => number | undefined): number {
    const all = this.recent.toArray();
    const last = all[all.length - 1];
    const vLast = last ? read(last) : undefined;
    if (!last || vLast === undefined) return 0;
    for (const first of all) {
      const v = read(first);
      if (v === undefined || first === last) continue;
      const seconds = (last.t - first.t) / 1000;
      return seconds > 0 ? Math.max(0, vLast - v) / seconds : 0;
    }
    return 0;
  }
}
