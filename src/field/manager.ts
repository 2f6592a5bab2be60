/**
 * Runs the channels of the applied gateway config. Applies a config as a diff: unchanged channels and devices
 * keep running untouched; changed ones restart; removed ones stop; new ones start. Drivers are loaded on
 * demand, so a gateway without OPC UA never loads node-opcua.
 */
import type { ChannelSpec, DeviceSpec, GatewayConfig } from "../config/gateway/model.js";
import type { ChannelStats, DriverContext, FieldChannel, FieldChannelFactory, FieldSink } from "./driver.js";
import { FieldError, FieldCode } from "./driver.js";

export type AsyncChannelFactory = (spec: ChannelSpec, sink: FieldSink, ctx: DriverContext) => FieldChannel | Promise<FieldChannel>;

/** The built-in drivers, imported only when a channel of that protocol is configured. */
export const loadDriver: AsyncChannelFactory = async (spec, sink, ctx) => {
  if (spec.protocol === "opcua") {
    const { createOpcuaChannel } = await import("./opcua/index.js");
    return createOpcuaChannel(spec, sink, ctx);
  }
  const { createModbusChannel } = await import("./modbus/index.js");
  return createModbusChannel(spec, sink, ctx);
};

export interface FieldPlan {
  channels: { start: ChannelSpec[]; stop: string[]; restart: ChannelSpec[] };
  devices: { add: DeviceSpec[]; remove: DeviceSpec[]; restart: DeviceSpec[] };
}

interface Running {
  spec: ChannelSpec;
  channel: FieldChannel;
  devices: Map<string, DeviceSpec>;
}

export class FieldManager {
  private readonly running = new Map<string, Running>();
  private readonly deviceChannel = new Map<string, string>();
  private readonly errors = new Map<string, string>();
  /** Devices not polled, with the causes that hold them (cloud suspend, no credentials, …); kept across applies. */
  private readonly holds = new Map<string, Set<string>>();

  constructor(
    private readonly sink: FieldSink,
    private readonly ctx: DriverContext,
    private readonly factory: AsyncChannelFactory | FieldChannelFactory = loadDriver,
  ) {}

  /**
   * Applies the next config given the sets of changed channel ids and changed device keys (from the config diff).
   * Channels whose id is in `changedChannels` restart with all their devices.
   */
  async apply(next: GatewayConfig, changedChannels: Set<string>, changedDevices: Set<string>): Promise<void> {
    const nextChannels = new Map(next.channels.map((c) => [c.serverId, c]));
    const byChannel = new Map<string, DeviceSpec[]>();
    for (const d of next.devices) {
      if (!nextChannels.has(d.serverId)) continue;
      const list = byChannel.get(d.serverId) ?? [];
      list.push(d);
      byChannel.set(d.serverId, list);
    }
    // Stop removed and changed channels first (frees ports and serial lines for their replacements).
    for (const [id, r] of [...this.running]) {
      if (!nextChannels.has(id) || changedChannels.has(id)) await this.stopChannel(id, r);
    }
    for (const [id, spec] of nextChannels) {
      const devices = byChannel.get(id) ?? [];
      const r = this.running.get(id);
      if (!r) {
        await this.startChannel(spec, devices);
        continue;
      }
      const want = new Map(devices.map((d) => [d.key, d]));
      for (const [key] of r.devices) {
        if (!want.has(key) || changedDevices.has(key)) {
          await r.channel.removeDevice(key);
          r.devices.delete(key);
          this.deviceChannel.delete(key);
        }
      }
      for (const d of devices) {
        if (r.devices.has(d.key)) continue;
        if (!this.holds.has(d.key)) r.channel.addDevice(d);
        r.devices.set(d.key, d);
        this.deviceChannel.set(d.key, id);
      }
    }
  }

  private async startChannel(spec: ChannelSpec, devices: DeviceSpec[]): Promise<void> {
    let channel: FieldChannel;
    try {
      channel = await this.factory(spec, this.sink, this.ctx);
      await channel.start();
    } catch (err) {
      const reason = (err as Error).message;
      this.errors.set(spec.serverId, reason);
      this.ctx.logger.error({ channel: spec.name, serverId: spec.serverId, err: reason }, "channel could not start");
      this.sink.channelHealth(spec.serverId, false, reason);
      for (const d of devices) this.sink.deviceHealth(d.key, false, `channel ${spec.name} failed: ${reason}`);
      return;
    }
    this.errors.delete(spec.serverId);
    const r: Running = { spec, channel, devices: new Map() };
    this.running.set(spec.serverId, r);
    for (const d of devices) {
      if (!this.holds.has(d.key)) channel.addDevice(d);
      r.devices.set(d.key, d);
      this.deviceChannel.set(d.key, spec.serverId);
    }
    this.ctx.logger.info({ channel: spec.name, serverId: spec.serverId, protocol: spec.protocol, devices: devices.length }, "channel started");
  }

  private async stopChannel(id: string, r: Running): Promise<void> {
    this.running.delete(id);
    for (const key of r.devices.keys()) this.deviceChannel.delete(key);
    try {
      await r.channel.stop();
    } catch (err) {
      this.ctx.logger.warn({ channel: r.spec.name, err: (err as Error).message }, "channel stop failed");
    }
    this.ctx.logger.info({ channel: r.spec.name, serverId: id }, "channel stopped");
  }

  /**
   * Holds a device (not polled) for one cause, or releases that cause. The device is polled again once no cause
   * holds it; holds outlive channel restarts and config applies, so a held device stays unpolled until released.
   * Returns whether the device's polling changed.
   */
  async hold(key: string, cause: string, held: boolean): Promise<boolean> {
    const causes = this.holds.get(key);
    if (held) {
      if (causes) {
        causes.add(cause);
        return false;
      }
      this.holds.set(key, new Set([cause]));
      const r = this.runningOf(key);
      if (r?.devices.has(key)) await r.channel.removeDevice(key);
      return true;
    }
    if (!causes?.delete(cause) || causes.size > 0) return false;
    this.holds.delete(key);
    const r = this.runningOf(key);
    const d = r?.devices.get(key);
    if (r && d) r.channel.addDevice(d);
    return true;
  }

  /** The causes holding each held device. */
  held(): Map<string, string[]> {
    return new Map([...this.holds].map(([k, v]) => [k, [...v]]));
  }

  private runningOf(key: string): Running | undefined {
    const id = this.deviceChannel.get(key);
    return id ? this.running.get(id) : undefined;
  }

  private channelFor(key: string): FieldChannel {
    const id = this.deviceChannel.get(key);
    const r = id ? this.running.get(id) : undefined;
    if (!r) throw new FieldError(FieldCode.notConnected, `device ${key} has no running channel`);
    return r.channel;
  }

  write(key: string, values: Record<string, unknown>): Promise<void> {
    return this.channelFor(key).write(key, values);
  }

  call(key: string, service: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.channelFor(key).call(key, service, inputs);
  }

  stats(): Array<ChannelStats & { name: string; error?: string }> {
    return [...this.running.values()].map((r) => ({ ...r.channel.stats(), name: r.spec.name }));
  }

  channelErrors(): Record<string, string> {
    return Object.fromEntries(this.errors);
  }

  async stop(): Promise<void> {
    for (const [id, r] of [...this.running].reverse()) await this.stopChannel(id, r);
  }
}
