/**
 * Report policy per (device, identifier) (alink.md section 5.3.2 steps 7-8, C16):
 * - trigger 1 reports every sample; trigger 2 only when the converted value differs from the last reported one;
 * - reset(deviceKey) makes the next sample of every point of that device report (after a login, a channel
 *   recovery or a config change);
 * - a value that violates the TSL is not sent. It is counted per point and logged when the point turns invalid,
 *   not per sample. A point logs again only after it has been valid in between, and at most once per
 *   `warnIntervalMs`, so a value flapping around a limit cannot flood the journal.
 */
import type { Logger } from "pino";
import type { Coerced, TslValue } from "./tsl-value.js";
import { preview } from "./tsl-value.js";

export type Trigger = 1 | 2;

export type ReportDecision = "report" | "unchanged" | "rejected";

export interface PointRef {
  deviceKey: string;
  identifier: string;
  trigger: Trigger;
}

export interface ReportPolicyOptions {
  logger: Logger;
  /** Least time between two warnings for the same point; default 10 minutes. */
  warnIntervalMs?: number;
  /** Clock for the warning interval; default Date.now. */
  now?: () => number;
}

export interface ReportCounters {
  /** Samples that passed the TSL check (reported or unchanged). */
  accepted: number;
  reported: number;
  /** trigger-2 samples equal to the last reported value. */
  unchanged: number;
  /** Samples that violated the TSL and were not sent. */
  dropped: number;
}

export interface PointDrops {
  deviceKey: string;
  identifier: string;
  dropped: number;
}

interface PointState {
  hasLast: boolean;
  last: TslValue | undefined;
  invalid: boolean;
  lastWarnAt: number;
  dropped: number;
}

export function sameTslValue(a: TslValue | undefined, b: TslValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === undefined || b === undefined) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameTslValue(v, b[i]));
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameTslValue(a[k], b[k]));
}

export class ReportPolicy {
  private readonly logger: Logger;
  private readonly warnIntervalMs: number;
  private readonly now: () => number;
  private readonly devices = new Map<string, Map<string, PointState>>();
  private readonly totals: ReportCounters = { accepted: 0, reported: 0, unchanged: 0, dropped: 0 };

  constructor(options: ReportPolicyOptions) {
    this.logger = options.logger;
    this.warnIntervalMs = options.warnIntervalMs ?? 600_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Decides what to do with one converted sample. `raw` is the driver's value, only used in the warning.
   * "report" also records the value as the last reported one.
   */
  decide(point: PointRef, converted: Coerced, raw?: unknown): ReportDecision {
    return this.decideFor(point.deviceKey, point.identifier, point.trigger, converted, raw);
  }

  /** `decide` with the point given field by field (the per-sample path: no object per sample). */
  decideFor(deviceKey: string, identifier: string, trigger: Trigger, converted: Coerced, raw?: unknown): ReportDecision {
    const state = this.state(deviceKey, identifier);
    if (!converted.ok) {
      this.totals.dropped++;
      state.dropped++;
      if (!state.invalid) {
        state.invalid = true;
        const now = this.now();
        if (now - state.lastWarnAt >= this.warnIntervalMs) {
          state.lastWarnAt = now;
          this.logger.warn(
            { device: deviceKey, identifier, reason: converted.reason, value: preview(raw), dropped: state.dropped },
            "value does not match the thing model; samples of this point are dropped until it is valid again",
          );
        }
      }
      return "rejected";
    }
    state.invalid = false;
    this.totals.accepted++;
    if (trigger === 2 && state.hasLast && sameTslValue(state.last, converted.value)) {
      this.totals.unchanged++;
      return "unchanged";
    }
    state.hasLast = true;
    state.last = converted.value;
    this.totals.reported++;
    return "report";
  }

  /** The next sample of every point of this device reports, whatever its trigger. */
  reset(deviceKey: string): void {
    const points = this.devices.get(deviceKey);
    if (!points) return;
    for (const s of points.values()) {
      s.hasLast = false;
      s.last = undefined;
    }
  }

  resetAll(): void {
    for (const key of this.devices.keys()) this.reset(key);
  }

  /** Drops all state of a removed device, its drop counts included. */
  forget(deviceKey: string): void {
    this.devices.delete(deviceKey);
  }

  counters(): ReportCounters {
    return { ...this.totals };
  }

  dropped(deviceKey: string, identifier: string): number {
    return this.devices.get(deviceKey)?.get(identifier)?.dropped ?? 0;
  }

  /** Points with at least one dropped sample, for metrics. */
  droppedPoints(): PointDrops[] {
    const out: PointDrops[] = [];
    for (const [deviceKey, points] of this.devices) {
      for (const [identifier, s] of points) if (s.dropped > 0) out.push({ deviceKey, identifier, dropped: s.dropped });
    }
    return out;
  }

  private state(deviceKey: string, identifier: string): PointState {
    let points = this.devices.get(deviceKey);
    if (!points) this.devices.set(deviceKey, (points = new Map()));
    let s = points.get(identifier);
    if (!s) points.set(identifier, (s = { hasLast: false, last: undefined, invalid: false, lastWarnAt: -Infinity, dropped: 0 }));
    return s;
  }
}
