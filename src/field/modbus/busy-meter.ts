/**
 * Fraction of recent wall time a serial line was busy with transactions, over a sliding window of
 * one-second buckets: a recent figure, so an operator sees today's load and not the average since boot.
 */
export class BusyMeter {
  private readonly buckets: Float64Array;
  private readonly bucketStart: Float64Array;
  constructor(
    private readonly windowSeconds = 10,
    private readonly createdAt = performance.now(),
  ) {
    this.buckets = new Float64Array(windowSeconds);
    this.bucketStart = new Float64Array(windowSeconds).fill(Number.NaN);
  }

  /** Records the interval [start, end) in ms (performance.now() clock). */
  add(start: number, end: number): void {
    let t = start;
    while (t < end) {
      const second = Math.floor(t / 1000);
      const upto = Math.min(end, (second + 1) * 1000);
      const i = ((second % this.windowSeconds) + this.windowSeconds) % this.windowSeconds;
      if (this.bucketStart[i] !== second) {
        this.bucketStart[i] = second;
        this.buckets[i] = 0;
      }
      this.buckets[i]! += upto - t;
      t = upto;
    }
  }

  /** Busy fraction 0..1 over the last window (shorter right after start). */
  utilisation(now = performance.now()): number {
    const windowStart = Math.max(now - this.windowSeconds * 1000, this.createdAt);
    const span = now - windowStart;
    if (span <= 0) return 0;
    const oldest = Math.floor(windowStart / 1000);
    let busy = 0;
    for (let i = 0; i < this.windowSeconds; i++) {
      if (this.bucketStart[i]! >= oldest) busy += this.buckets[i]!;
    }
    return Math.min(1, busy / span);
  }
}
