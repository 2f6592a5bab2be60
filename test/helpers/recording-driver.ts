/**
 * A FieldChannel that talks to no bus: it emits samples for every point of its devices on a timer (or on demand)
 * and records what the daemon asks of it (devices added and removed, writes, calls). Used where the test is about
 * the core, not about a bus; the Modbus and OPC UA tests use real servers.
 */
import type { ChannelSpec, DeviceSpec } from "../../src/config/gateway/model.js";
import type { ChannelStats, FieldChannel, FieldSink } from "../../src/field/driver.js";
import { FieldError } from "../../src/field/driver.js";
import type { AsyncChannelFactory } from "../../src/field/manager.js";

export interface DriverEvent {
  type: "start" | "stop" | "add" | "remove";
  serverId: string;
  key?: string;
  at: number;
}

export interface RecordingDriverOptions {
  /** Emit a sample of every point of every device this often (0: only on demand). */
  periodMs?: number;
  /** The value of a point; default: a counter modulo 100. */
  value?: (deviceKey: string, identifier: string, seq: number) => unknown;
}

export class RecordingDriver {
  readonly channels = new Map<string, RecordingChannel>();
  readonly events: DriverEvent[] = [];
  readonly writes: Array<{ key: string; values: Record<string, unknown> }> = [];
  readonly calls: Array<{ key: string; service: string; inputs: Record<string, unknown> }> = [];
  /** Make the next writes fail with this error. */
  failWrites: FieldError | undefined;
  callResult: (key: string, service: string, inputs: Record<string, unknown>) => Record<string, unknown> = () => ({});

  constructor(readonly options: RecordingDriverOptions = {}) {}

  readonly factory: AsyncChannelFactory = (spec, sink) => {
    const c = new RecordingChannel(spec, sink, this);
    this.channels.set(spec.serverId, c);
    return c;
  };

  record(e: Omit<DriverEvent, "at">): void {
    this.events.push({ ...e, at: Date.now() });
  }

  channelOf(key: string): RecordingChannel | undefined {
    for (const c of this.channels.values()) if (c.devices.has(key)) return c;
    return undefined;
  }
}

export class RecordingChannel implements FieldChannel {
  readonly devices = new Map<string, DeviceSpec>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  stopped = false;

  constructor(readonly spec: ChannelSpec, readonly sink: FieldSink, private readonly driver: RecordingDriver) {}

  get serverId(): string {
    return this.spec.serverId;
  }

  async start(): Promise<void> {
    this.driver.record({ type: "start", serverId: this.serverId });
    this.sink.channelHealth(this.serverId, true);
    const period = this.driver.options.periodMs ?? 0;
    if (period > 0) this.timer = setInterval(() => this.emitAll(), period);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopped = true;
    this.driver.record({ type: "stop", serverId: this.serverId });
  }

  addDevice(device: DeviceSpec): void {
    this.devices.set(device.key, device);
    this.driver.record({ type: "add", serverId: this.serverId, key: device.key });
  }

  async removeDevice(key: string): Promise<void> {
    this.devices.delete(key);
    this.driver.record({ type: "remove", serverId: this.serverId, key });
  }

  /** Emits one sample of every point of every device (one "poll cycle"). */
  emitAll(time = Date.now()): void {
    const seq = this.seq++;
    for (const d of this.devices.values()) this.emitDevice(d.key, seq, time);
  }

  emitDevice(key: string, seq = this.seq++, time = Date.now()): void {
    const d = this.devices.get(key);
    if (!d) return;
    const valueOf = this.driver.options.value ?? ((_k: string, _i: string, s: number) => s % 100);
    const ids = [...(d.modbus?.points ?? []).map((p) => p.identifier), ...(d.opcua?.properties ?? []).map((p) => p.identifier)];
    this.sink.samples(ids.map((identifier) => ({ deviceKey: key, identifier, value: valueOf(key, identifier, seq), time })));
  }

  async write(key: string, values: Record<string, unknown>): Promise<void> {
    if (!this.devices.has(key)) throw new FieldError("notConnected", "device not running");
    if (this.driver.failWrites) throw this.driver.failWrites;
    this.driver.writes.push({ key, values });
  }

  async call(key: string, service: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.driver.calls.push({ key, service, inputs });
    return this.driver.callResult(key, service, inputs);
  }

  stats(): ChannelStats {
    return { serverId: this.serverId, protocol: this.spec.protocol, up: !this.stopped, requests: 0, errors: 0, timeouts: 0, lastPollMs: 0, busUtilisation: 0 };
  }
}
