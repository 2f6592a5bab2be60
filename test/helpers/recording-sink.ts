/**
 * A FieldSink that records everything a driver reports, stamped on arrival, with bounded waits.
 * Arrival stamps (`at`) are Date.now() milliseconds, the clock of the samples' and events' own `time`,
 * so one start time serves to judge both how fast something arrived and what time the device gave it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { FieldSink, Sample } from "../../src/field/driver.js";

export type Stamped<T> = T & { at: number };

/** A device (key = device key) or channel (key = server id) going up or down. */
export interface HealthRecord {
  key: string;
  up: boolean;
  reason?: string;
  at: number;
}

export interface EventRecord {
  deviceKey: string;
  identifier: string;
  value: Record<string, unknown>;
  time: number;
  at: number;
}

export class RecordingSink implements FieldSink {
  readonly received: Stamped<Sample>[] = [];
  readonly deviceHealthLog: HealthRecord[] = [];
  readonly channelHealthLog: HealthRecord[] = [];
  readonly events: EventRecord[] = [];

  samples(batch: Sample[]): void {
    const at = Date.now();
    for (const s of batch) this.received.push({ ...s, at });
  }

  deviceHealth(deviceKey: string, online: boolean, reason?: string): void {
    this.deviceHealthLog.push({ key: deviceKey, up: online, reason, at: Date.now() });
  }

  channelHealth(serverId: string, up: boolean, reason?: string): void {
    this.channelHealthLog.push({ key: serverId, up, reason, at: Date.now() });
  }

  event(deviceKey: string, identifier: string, value: Record<string, unknown>, time: number): void {
    this.events.push({ deviceKey, identifier, value, time, at: Date.now() });
  }

  /** The samples of one property, in arrival order; only those that arrived at or after `since` if given. */
  of(deviceKey: string, identifier: string, since = -Infinity): Stamped<Sample>[] {
    return this.received.filter((s) => s.deviceKey === deviceKey && s.identifier === identifier && s.at >= since);
  }

  /** The latest health report of a device. */
  device(deviceKey: string): HealthRecord | undefined {
    return this.deviceHealthLog.findLast((h) => h.key === deviceKey);
  }

  /** The latest health report of a channel. */
  channel(serverId: string): HealthRecord | undefined {
    return this.channelHealthLog.findLast((h) => h.key === serverId);
  }

  /**
   * Polls `check` until it returns something other than undefined or false and resolves with that;
   * rejects naming `what` after `timeoutMs`.
   */
  async waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(10);
    }
  }
}
