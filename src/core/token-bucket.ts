/** A token bucket: `ratePerSec` on average, up to `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private stamp: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new Error(`invalid token bucket: rate ${ratePerSec}/s, burst ${burst}`);
    this.tokens = burst;
    this.stamp = now();
  }

  /** Whole tokens available now. */
  available(): number {
    this.refill();
    return Math.floor(this.tokens);
  }

  consume(n: number): void {
    this.refill();
    this.tokens -= n;
  }

  /** Milliseconds until one whole token is available (0 if one is). */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.stamp) * this.ratePerSec) / 1000);
    this.stamp = t;
  }
}
