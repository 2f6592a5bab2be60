/**
 * When to probe a device that was found dead. On Modbus TCP an unanswered request costs only its own
 * wait, so the device is probed once per poll period (of its fastest plan) and posts again within about
 * two periods of coming back. On an RTU line every timeout holds the whole bus, so the probes back off:
 * 1 s, doubling up to 60 s.
 */
export type ProbePacing = "period" | "backoff";

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 60_000;

export class ProbePacer {
  private backoffMs = BACKOFF_INITIAL_MS;

  constructor(
    private readonly pacing: ProbePacing,
    /** The device's fastest poll period; undefined when it has nothing to poll. */
    private readonly periodMs: number | undefined,
  ) {}

  /** Delay of the first probe once the device is found dead. */
  first(): number {
    this.backoffMs = BACKOFF_INITIAL_MS;
    return this.pacing === "period" && this.periodMs !== undefined ? this.periodMs : this.backoffMs;
  }

  /** Delay of the next probe after one that started at `started` (performance.now()) got nothing. */
  next(started: number): number {
    if (this.pacing === "period" && this.periodMs !== undefined) {
      // On the period's cadence from the probe's start: its timeout does not push the next one back.
      return Math.max(0, started + this.periodMs - performance.now());
    }
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    return this.backoffMs;
  }
}
