/**
 * The core between the drivers and the outbox: converts each driver sample to its TSL value, applies the
 * report policy (trigger 1/2, TSL range), batches what is reported, and keeps the latest value of every point
 * (for property get and the status output). It is the FieldSink the drivers talk to.
 */
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/gateway/model.js";
import type { FieldSink, Sample } from "../field/driver.js";
import { canonicalJson } from "../config/gateway/canonical.js";
import { compileTsl, type CompiledTsl, type TslValue } from "./tsl.js";
import { ReportPolicy, type Trigger } from "./report.js";
import { UplinkBatcher } from "./batcher.js";
import type { NewRecord } from "../cloud/platform.js";
import type { TslDataType, TslDocument } from "./tsl-types.js";

interface PointInfo {
  trigger: Trigger;
  dataType: TslDataType;
}

interface DeviceInfo {
  key: string;
  productKey: string;
  serverId: string;
  tsl: CompiledTsl;
  points: Map<string, PointInfo>;
  fieldOnline: boolean | undefined;
  lastSampleAt: number;
  latest: Map<string, { value: TslValue; time: number }>;
}

export interface ThingsRuntimeOptions {
  logger: Logger;
  windowMs: number;
  emit: (records: NewRecord[]) => void;
  /** Field reachability of a device changed (drives login/logout). */
  onFieldHealth: (deviceKey: string, online: boolean, reason?: string) => void;
}

export interface ChannelHealth {
  up: boolean;
  reason?: string;
  since: number;
}

export class ThingsRuntime implements FieldSink {
  private devices = new Map<string, DeviceInfo>();
  private products = new Map<string, { fingerprint: string; tsl: CompiledTsl; doc: TslDocument }>();
  readonly report: ReportPolicy;
  readonly batcher: UplinkBatcher;
  private readonly channels = new Map<string, ChannelHealth>();
  readonly counters = { samples: 0, events: 0, eventsRejected: 0 };

  constructor(private readonly o: ThingsRuntimeOptions) {
    this.report = new ReportPolicy({ logger: o.logger });
    this.batcher = new UplinkBatcher({ windowMs: o.windowMs, emit: o.emit, logger: o.logger });
  }

  /** Installs the applied config: TSLs are compiled once per product (again only when they change). */
  setConfig(config: GatewayConfig): void {
    const products = new Map<string, { fingerprint: string; tsl: CompiledTsl; doc: TslDocument }>();
    for (const [pk, doc] of Object.entries(config.products)) {
      const fingerprint = canonicalJson(doc);
      const prev = this.products.get(pk);
      const tsl = prev && prev.fingerprint === fingerprint ? prev.tsl : compileTsl(doc);
      if (tsl !== prev?.tsl && tsl.problems.length) this.o.logger.warn({ productKey: pk, problems: tsl.problems }, "thing model has definition problems");
      products.set(pk, { fingerprint, tsl, doc });
    }
    const devices = new Map<string, DeviceInfo>();
    // Devices that share a point list (same model and polling time) and a product share their point table.
    const shared = new Map<readonly unknown[], Map<string, Map<string, PointInfo>>>();
    for (const d of config.devices) {
      const product = products.get(d.productKey);
      if (!product) continue;
      const list = d.modbus?.points;
      const byProduct = list && !d.opcua ? shared.get(list) : undefined;
      let points = byProduct?.get(d.productKey);
      if (!points) {
        const types = new Map((product.doc.properties ?? []).map((p) => [p.identifier, p.dataType]));
        points = new Map<string, PointInfo>();
        for (const p of d.modbus?.points ?? []) points.set(p.identifier, { trigger: p.trigger, dataType: types.get(p.identifier) ?? { type: p.tslType } });
        for (const p of d.opcua?.properties ?? []) points.set(p.identifier, { trigger: p.trigger, dataType: types.get(p.identifier) ?? { type: p.tslType } });
        if (list && !d.opcua) {
          let m = shared.get(list);
          if (!m) shared.set(list, (m = new Map()));
          m.set(d.productKey, points);
        }
      }
      const prev = this.devices.get(d.key);
      devices.set(d.key, {
        key: d.key, productKey: d.productKey, serverId: d.serverId, tsl: product.tsl, points,
        fieldOnline: prev?.fieldOnline, lastSampleAt: prev?.lastSampleAt ?? 0, latest: prev?.latest ?? new Map(),
      });
    }
    for (const key of this.devices.keys()) if (!devices.has(key)) this.report.forget(key);
    this.products = products;
    this.devices = devices;
  }

  tsl(productKey: string): CompiledTsl | undefined {
    return this.products.get(productKey)?.tsl;
  }

  productOf(deviceKey: string): string | undefined {
    return this.devices.get(deviceKey)?.productKey;
  }

  hasDevice(deviceKey: string): boolean {
    return this.devices.has(deviceKey);
  }

  /** The next sample of every point of this device is reported (after a login, a recovery, a config change). */
  resetReporting(deviceKey: string): void {
    this.report.reset(deviceKey);
  }

  latest(deviceKey: string): Map<string, { value: TslValue; time: number }> {
    return this.devices.get(deviceKey)?.latest ?? new Map();
  }

  lastSampleAt(deviceKey: string): number {
    return this.devices.get(deviceKey)?.lastSampleAt ?? 0;
  }

  channelHealthOf(serverId: string): ChannelHealth | undefined {
    return this.channels.get(serverId);
  }

  // ---- FieldSink ----

  samples(batch: Sample[]): void {
    for (const s of batch) {
      const dev = this.devices.get(s.deviceKey);
      const point = dev?.points.get(s.identifier);
      if (!dev || !point) continue;
      this.counters.samples++;
      dev.lastSampleAt = s.time;
      if (dev.fieldOnline !== true) this.setFieldOnline(dev, true);
      const converted = dev.tsl.toTsl(s.identifier, s.value);
      const decision = this.report.decideFor(s.deviceKey, s.identifier, point.trigger, converted, s.value);
      if (!converted.ok) continue;
      const latest = dev.latest.get(s.identifier);
      // Updated in place: readers copy the value out at once, and one object per sample would only feed the collector.
      if (latest) {
        latest.value = converted.value;
        latest.time = s.time;
      } else dev.latest.set(s.identifier, { value: converted.value, time: s.time });
      if (decision === "report") {
        this.batcher.addValue(s.deviceKey, s.identifier, converted.value, s.time);
      }
    }
  }

  deviceHealth(deviceKey: string, online: boolean, reason?: string): void {
    const dev = this.devices.get(deviceKey);
    if (!dev || dev.fieldOnline === online) return;
    this.setFieldOnline(dev, online, reason);
  }

  private setFieldOnline(dev: DeviceInfo, online: boolean, reason?: string): void {
    dev.fieldOnline = online;
    // A recovered device reports its first values whatever the trigger.
    if (online) this.report.reset(dev.key);
    this.o.logger.info({ device: dev.key, reason }, online ? "field device reachable" : "field device unreachable");
    this.o.onFieldHealth(dev.key, online, reason);
  }

  channelHealth(serverId: string, up: boolean, reason?: string): void {
    const prev = this.channels.get(serverId);
    if (prev && prev.up === up && prev.reason === reason) return;
    this.channels.set(serverId, { up, ...(reason ? { reason } : {}), since: Date.now() });
    if (up) this.o.logger.info({ serverId }, "channel up");
    else this.o.logger.warn({ serverId, reason }, "channel down");
  }

  event(deviceKey: string, identifier: string, value: Record<string, unknown>, time: number): void {
    const dev = this.devices.get(deviceKey);
    if (!dev) return;
    const checked = dev.tsl.checkEvent(identifier, value);
    if (!checked.ok) {
      this.counters.eventsRejected++;
      this.o.logger.warn({ device: deviceKey, event: identifier, reason: checked.reason }, "event does not match the thing model; not sent");
      return;
    }
    this.counters.events++;
    this.batcher.addEvent({ deviceKey, identifier, value: checked.value, time });
  }

  stop(): void {
    this.batcher.stop();
  }
}
