/**
 * Collects converted property values and events for a short window and hands them to the outbox as neutral
 * records: one properties record per device per window (values in sample order, at most `maxValuesPerRecord`),
 * and one record per event. A poll cycle of many devices is thus one outbox transaction; the cloud adapter packs
 * the records into as few messages as its protocol allows when it sends them.
 *
 * The window opens with the first value after a flush and closes `windowMs` later; it also closes early once
 * `maxPending` values are waiting, which bounds memory during a burst.
 */
import type { Logger } from "pino";
import type { NewRecord, PropertySample } from "../cloud/platform.js";
import type { TslValue } from "./tsl-value.js";

export interface PropertyUplink {
  deviceKey: string;
  identifier: string;
  /** A value already converted and checked against the TSL. */
  value: TslValue;
  /** Sample time, epoch ms. */
  time: number;
}

export interface EventUplink {
  deviceKey: string;
  identifier: string;
  /** Output values keyed by output identifier, already checked against the TSL. */
  value: Record<string, TslValue>;
  time: number;
}

export interface UplinkBatcherOptions {
  /** Default 150 ms. */
  windowMs?: number;
  emit: (records: NewRecord[]) => void;
  /** Flush at once when this many values wait; default 4000. */
  maxPending?: number;
  /** Values per properties record; default 200 (the smallest per-message limit of the platforms). */
  maxValuesPerRecord?: number;
  /** Where an emit failure from the window timer is reported; without one it is rethrown. */
  logger?: Logger;
}

export class UplinkBatcher {
  private windowMs: number;
  private readonly maxPending: number;
  private readonly maxValues: number;
  /** Device → its values of this window, in arrival (= sample) order. */
  private properties = new Map<string, PropertySample[]>();
  private events: NewRecord[] = [];
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: UplinkBatcherOptions) {
    this.windowMs = options.windowMs ?? 150;
    this.maxPending = options.maxPending ?? 4000;
    this.maxValues = options.maxValuesPerRecord ?? 200;
  }

  /** A new window length (remote settings); the window open now keeps its end. */
  setWindowMs(ms: number): void {
    this.windowMs = ms;
  }

  get pendingCount(): number {
    return this.pending;
  }

  addProperty(p: PropertyUplink): void {
    this.addValue(p.deviceKey, p.identifier, p.value, p.time);
  }

  /** `addProperty` field by field (the per-sample path: no object per sample but the one kept). */
  addValue(deviceKey: string, identifier: string, value: TslValue, time: number): void {
    let list = this.properties.get(deviceKey);
    if (!list) this.properties.set(deviceKey, (list = []));
    list.push({ identifier, value, time });
    this.added();
  }

  addEvent(e: EventUplink): void {
    this.events.push({ device: e.deviceKey, kind: "event", time: e.time, identifier: e.identifier, outputs: e.value });
    this.added();
  }

  /** Hands over everything waiting, now. If emit throws, that batch is not kept: the error goes to the caller. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0) return;
    const records: NewRecord[] = [];
    for (const [device, values] of this.properties) {
      for (let i = 0; i < values.length; i += this.maxValues) {
        const chunk = i === 0 && values.length <= this.maxValues ? values : values.slice(i, i + this.maxValues);
        let time = chunk[0]!.time;
        for (const v of chunk) if (v.time < time) time = v.time;
        records.push({ device, kind: "properties", time, values: chunk });
      }
    }
    for (const e of this.events) records.push(e);
    this.properties = new Map();
    this.events = [];
    this.pending = 0;
    this.options.emit(records);
  }

  /** Flushes and clears the window timer. Later values are handed over at once, without a window. */
  stop(): void {
    this.stopped = true;
    this.flush();
  }

  private added(): void {
    this.pending++;
    if (this.stopped || this.pending >= this.maxPending) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.onWindowEnd(), this.windowMs);
  }

  private onWindowEnd(): void {
    this.timer = undefined;
    try {
      this.flush();
    } catch (err) {
      if (!this.options.logger) throw err;
      this.options.logger.error({ err }, "uplink batch could not be handed over");
    }
  }
}
