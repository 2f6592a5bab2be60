/**
 * When sub-devices whose `bind` or `online` failed are tried again on the current connection (tencent.md 4.1,
 * 4.8): a transient failure (no reply, -2) with the normal backoff, one timer for all of them; a request the
 * platform refused as malformed (801) at `mqtt.reconnectMaxSeconds` × [0.5, 1]. Cleared when the connection drops
 * (the next connect tries every device anyway) and at shutdown.
 */
import { Backoff } from "../../core/backoff.js";

export class DeviceRetries<T> {
  private readonly backoff: Backoff;
  private readonly soonSet = new Set<T>();
  private readonly laterSet = new Set<T>();
  private soonTimer: NodeJS.Timeout | undefined;
  private laterTimer: NodeJS.Timeout | undefined;

  constructor(minMs: number, private readonly maxMs: number, private readonly run: (devices: T[]) => void) {
    this.backoff = new Backoff(minMs, maxMs);
  }

  /** Transient failures: tried again after the next backoff step. */
  soon(devices: readonly T[]): void {
    for (const d of devices) this.soonSet.add(d);
    if (this.soonTimer || !this.soonSet.size) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      const again = [...this.soonSet];
      this.soonSet.clear();
      this.run(again);
    }, this.backoff.next());
  }

  /** A refusal a quick retry cannot fix: tried again at the cap, never faster. */
  later(device: T): void {
    this.laterSet.add(device);
    if (this.laterTimer) return;
    this.laterTimer = setTimeout(() => {
      this.laterTimer = undefined;
      const again = [...this.laterSet];
      this.laterSet.clear();
      this.run(again);
    }, Math.round(this.maxMs * (0.5 + Math.random() * 0.5)));
  }

  /** A run ended without transient failures: the backoff starts again from its minimum. */
  settled(): void {
    if (!this.soonSet.size) this.backoff.reset();
  }

  clear(): void {
    clearTimeout(this.soonTimer);
    clearTimeout(this.laterTimer);
    this.soonTimer = this.laterTimer = undefined;
    this.soonSet.clear();
    this.laterSet.clear();
  }
}
