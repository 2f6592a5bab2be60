/**
 * Fires on the slots origin + k x period. Each slot is computed from the fixed origin, never from the
 * previous firing, so timer lateness does not accumulate into drift; slots that passed while the
 * process was busy are skipped rather than fired in a burst.
 */
export interface SlotTimerOptions {
  periodMs: number;
  onSlot: () => void;
}

export class SlotTimer {
  private timer: NodeJS.Timeout | undefined;
  private origin = 0;
  private slot = 0;
  /** Slots that passed without firing because the timer was late. */
  skipped = 0;

  constructor(private readonly options: SlotTimerOptions) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Starts with the first slot at `origin` (default: now, i.e. fire at once). */
  start(origin = performance.now()): void {
    this.stop();
    this.origin = origin;
    this.slot = 0;
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const due = this.origin + this.slot * this.options.periodMs;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - performance.now()));
  }

  private fire(): void {
    const period = this.options.periodMs;
    const now = performance.now();
    // A timer may fire a fraction of a millisecond early; that still is this slot.
    let next = this.slot + 1;
    const latest = Math.floor((now - this.origin) / period);
    if (latest >= next) {
      this.skipped += latest - next + 1;
      next = latest + 1;
    }
    this.slot = next;
    this.arm();
    this.options.onSlot();
  }
}
