/**
 * Collects converted property values and events for a short window and hands them over as few Alink messages
 * as the limits allow (see pack.ts for the layout rules). A poll cycle of many devices thus costs a handful of
 * MQTT messages instead of one per device.
 *
 * The window opens with the first value after a flush and closes `windowMs` later; it also closes early once
 * `maxPending` values are waiting, which bounds memory during a burst (a reconnect replaying many devices).
 */
import { Buffer } from "node:buffer";
import type { Logger } from "pino";
import type { Identity } from "../cloud/aliyun/topics.js";
import { encoderFor, timedMember } from "./json.js";
import { buildDevicePosts, buildPacks, defaultPackLimits, type BatchItem, type DeviceItems, type DeviceRef, type PackLimits, type Uplink } from "./pack.js";
import type { TslDataType, TslTypeName } from "./tsl-types.js";
import type { TslValue } from "./tsl-value.js";

export type { Uplink, UplinkKind, PackLimits } from "./pack.js";

export interface PropertyUplink {
  deviceKey: string;
  identifier: string;
  /** A value already converted and checked against the TSL. */
  value: TslValue;
  /** Sample time, epoch ms. */
  time: number;
  /** The type name, or the full data type for struct/array values. */
  tslType: TslTypeName | TslDataType;
}

export interface EventUplink {
  deviceKey: string;
  identifier: string;
  /** Output values keyed by output identifier, already checked against the TSL. */
  value: Record<string, TslValue>;
  time: number;
  /** The struct of the event's outputs (CompiledEvent.dataType), so float outputs keep their decimal point. */
  tslType?: TslDataType;
}

export interface UplinkBatcherOptions {
  gateway: Identity;
  /** Default 150 ms. */
  windowMs?: number;
  /** Gateway-wide message ids (alink.md section 0.4). */
  nextId: () => string;
  /** Whether a device is logged in now; asked once per device per flush. */
  isOnline: (deviceKey: string) => boolean;
  emit: (uplinks: Uplink[]) => void;
  limits?: Partial<PackLimits>;
  /** Events of online devices go into pack posts (default) or always as thing.event.{id}.post. */
  eventsInPack?: boolean;
  /** Flush at once when this many values wait; default 4000. */
  maxPending?: number;
  /** Where an emit failure from the window timer is reported; without one it is rethrown. */
  logger?: Logger;
}

interface Pending {
  device: DeviceRef;
  item: BatchItem;
}

export class UplinkBatcher {
  private readonly windowMs: number;
  private readonly limits: PackLimits;
  private readonly maxPending: number;
  private readonly eventsInPack: boolean;
  private readonly gateway: DeviceRef;
  private readonly refs = new Map<string, DeviceRef>();
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: UplinkBatcherOptions) {
    this.windowMs = options.windowMs ?? 150;
    this.limits = { ...defaultPackLimits, ...options.limits };
    this.maxPending = options.maxPending ?? 4000;
    this.eventsInPack = options.eventsInPack ?? true;
    this.gateway = this.ref(`${options.gateway.productKey}/${options.gateway.deviceName}`);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  addProperty(p: PropertyUplink): void {
    const valueJson = encoderFor(p.tslType)(p.value);
    this.push(p.deviceKey, "property", p.identifier, valueJson, p.time);
  }

  addProperties(list: Iterable<PropertyUplink>): void {
    for (const p of list) this.addProperty(p);
  }

  addEvent(e: EventUplink): void {
    const valueJson = encoderFor(e.tslType)(e.value);
    this.push(e.deviceKey, "event", e.identifier, valueJson, e.time);
  }

  /** Hands over everything waiting, now. If emit throws, that batch is not kept: the error goes to the caller. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];

    const byDevice = new Map<string, DeviceItems>();
    for (const { device, item } of pending) {
      let g = byDevice.get(device.key);
      if (!g) byDevice.set(device.key, (g = { device, items: [] }));
      g.items.push(item);
    }
    const packed: DeviceItems[] = [];
    const own: DeviceItems[] = [];
    for (const g of byDevice.values()) {
      if (!this.options.isOnline(g.device.key)) {
        own.push(g);
      } else if (this.eventsInPack) {
        packed.push(g);
      } else {
        packed.push({ device: g.device, items: g.items.filter((i) => i.kind === "property") });
        const events = g.items.filter((i) => i.kind === "event");
        if (events.length) own.push({ device: g.device, items: events });
      }
    }
    const nextId = this.options.nextId;
    const uplinks = buildPacks(this.gateway, packed, this.limits, nextId);
    for (const g of own) uplinks.push(...buildDevicePosts(g.device, g.items, this.limits, nextId));
    if (uplinks.length) this.options.emit(uplinks);
  }

  /** Flushes and clears the window timer. Later values are handed over at once, without a window. */
  stop(): void {
    this.stopped = true;
    this.flush();
  }

  private push(deviceKey: string, kind: BatchItem["kind"], identifier: string, valueJson: string, time: number): void {
    const device = this.ref(deviceKey);
    const member = timedMember(identifier, valueJson, time);
    this.pending.push({ device, item: { kind, identifier, valueJson, time, member, bytes: Buffer.byteLength(member, "utf8") } });
    if (this.stopped || this.pending.length >= this.maxPending) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.onWindowEnd(), this.windowMs);
    }
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

  private ref(deviceKey: string): DeviceRef {
    let r = this.refs.get(deviceKey);
    if (r) return r;
    const slash = deviceKey.indexOf("/");
    if (slash <= 0 || slash === deviceKey.length - 1) throw new TypeError(`invalid device key ${JSON.stringify(deviceKey)}`);
    const identity: Identity = { productKey: deviceKey.slice(0, slash), deviceName: deviceKey.slice(slash + 1) };
    r = { key: deviceKey, identity, identityJson: JSON.stringify(identity) };
    this.refs.set(deviceKey, r);
    return r;
  }
}
