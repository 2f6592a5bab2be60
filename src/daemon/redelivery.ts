/**
 * An uplink leaves the outbox when the broker acknowledges it, but the platform may still refuse it a moment
 * later: `/ext/error` 520 (the sub-device had no session after all) or a failed pack post. The last uplinks are
 * kept here for a short while, so that such a refusal puts the message back into the outbox instead of losing it.
 */
import type { OutboxItem } from "../store/outbox-types.js";

export class RecentUplinks {
  private readonly items = new Map<string, { item: OutboxItem; at: number }>();
  /** Refusals per message id, so that a message the platform keeps refusing is not sent forever. */
  private readonly refusals = new Map<string, number>();
  readonly counters = { requeued: 0, abandoned: 0 };

  /**
   * Refusals come within a second or two of the PUBACK, so a short horizon is enough; the bound keeps memory small
   * at high rates (pack posts can be ~10 KB each).
   */
  constructor(private readonly maxItems = 1000, private readonly maxAgeMs = 15_000, private readonly now: () => number = Date.now) {}

  remember(item: OutboxItem): void {
    const now = this.now();
    this.items.set(item.msgId, { item, at: now });
    // Map keeps insertion order: the oldest are first.
    for (const [id, v] of this.items) {
      if (this.items.size <= this.maxItems && now - v.at <= this.maxAgeMs) break;
      this.items.delete(id);
    }
  }

  /**
   * The uplink with this message id, to be sent again (it is forgotten here); undefined when unknown, too old,
   * or already refused `maxRefusals` times (then it is counted as abandoned).
   */
  take(msgId: string, maxRefusals = 3): OutboxItem | undefined {
    const v = this.items.get(msgId);
    if (!v) return undefined;
    this.items.delete(msgId);
    const n = (this.refusals.get(msgId) ?? 0) + 1;
    this.refusals.set(msgId, n);
    if (this.refusals.size > this.maxItems) this.refusals.delete(this.refusals.keys().next().value!);
    if (n > maxRefusals) {
      this.counters.abandoned++;
      return undefined;
    }
    if (this.now() - v.at > this.maxAgeMs) return undefined;
    this.counters.requeued++;
    return v.item;
  }
}
