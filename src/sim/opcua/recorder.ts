/** A FieldSink that records what a driver reports, with bounded waits: for the demo's checks and for tests. */
import type { FieldSink, Sample } from "../../field/driver.js";

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

export class FieldSinkRecorder implements FieldSink {
  readonly received: Array<Sample & { at: number }> = [];
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

  device(key: string): HealthRecord | undefined {
    return this.deviceHealthLog.filter((h) => h.key === key).at(-1);
  }

  channel(serverId: string): HealthRecord | undefined {
    return this.channelHealthLog.filter((h) => h.key === serverId).at(-1);
  }

  samplesOf(deviceKey: string, identifier: string, since = 0): Array<Sample & { at: number }> {
    return this.received.filter((s) => s.deviceKey === deviceKey && s.identifier === identifier && s.at >= since);
  }

  /** Polls `check` until it returns something other than undefined/false; rejects after `timeoutMs`. */
  async waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
