/**
 * Exponential backoff with jitter: the delay doubles from `minMs` up to `maxMs`; each delay is drawn between half
 * and the whole of its step so that many peers that lost the same server do not come back in lockstep.
 * `reset()` after a stable period; `atMax()` for refusals that a quick retry cannot fix.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0) || !(maxMs >= minMs)) throw new Error(`invalid backoff: min ${minMs} ms, max ${maxMs} ms`);
  }

  /** The next delay, ms. */
  next(): number {
    const step = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 40));
    this.attempt++;
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  /** The cap (a refusal for bad credentials is retried at the cap, never faster). */
  atMax(): number {
    this.attempt++;
    return this.maxMs;
  }

  /** Attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
