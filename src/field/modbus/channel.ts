/**
 * A Modbus channel: one TCP connection or one RTU line, the devices on it, and the single request queue
 * that all their polls and writes share.
 */
import type { Logger } from "pino";
import type { DeviceSpec, ModbusRtuChannelSpec, ModbusTcpChannelSpec } from "../../config/gateway/model.js";
import { FieldCode, FieldError, type ChannelStats, type DriverContext, type FieldChannel, type FieldSink } from "../driver.js";
import { BusyMeter } from "./busy-meter.js";
import { DevicePoller } from "./device-poller.js";
import { ModbusExceptionError, ModbusNotConnectedError, ModbusTimeoutError } from "./errors.js";
import { Link } from "./link.js";
import type { ModbusRequest, ModbusResult } from "./pdu.js";
import { RequestQueue, type Priority } from "./request-queue.js";
import { RtuTransport } from "./rtu-transport.js";
import { TcpTransport } from "./tcp-transport.js";
import type { TransportFactory } from "./transport.js";

export type ModbusChannelSpec = ModbusTcpChannelSpec | ModbusRtuChannelSpec;

/** Reconnect backoff: quick first retries for a restarting peer, then no more than one try per 30 s. */
const RECONNECT_INITIAL_MS = 500;
const RECONNECT_MAX_MS = 30_000;
/** A TCP connection on which this many requests in a row, over at least this long, got nothing back is taken for half-open. */
const STALE_AFTER_TIMEOUTS = 5;
const STALE_AFTER_MS = 30_000;

export function createModbusChannel(spec: ModbusChannelSpec, sink: FieldSink, ctx: DriverContext): FieldChannel {
  return new ModbusChannel(spec, sink, ctx);
}

class ModbusChannel implements FieldChannel {
  readonly serverId: string;
  private readonly log: Logger;
  private readonly link: Link;
  private readonly queue: RequestQueue;
  private readonly devices = new Map<string, DevicePoller>();
  private readonly busy: BusyMeter | undefined;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private started = false;
  private reportedUp: boolean | undefined;
  private readonly counters = { requests: 0, errors: 0, timeouts: 0, lastPollMs: 0 };

  constructor(
    private readonly spec: ModbusChannelSpec,
    private readonly sink: FieldSink,
    private readonly ctx: DriverContext,
  ) {
    this.serverId = spec.serverId;
    this.log = ctx.logger.child({ channel: spec.serverId, protocol: spec.protocol });
    const { options } = ctx;
    this.timeoutMs = options.modbusTimeoutMs;
    // A serial line is half-duplex: one transaction at a time, whatever the options say.
    this.concurrency = spec.protocol === "modbus-rtu" ? 1 : Math.max(1, Math.floor(options.modbusTcpInFlight));
    this.queue = new RequestQueue(this.concurrency);
    this.busy = spec.protocol === "modbus-rtu" ? new BusyMeter() : undefined;
    this.link = new Link({
      factory: this.transportFactory(),
      initialBackoffMs: RECONNECT_INITIAL_MS,
      maxBackoffMs: RECONNECT_MAX_MS,
      onUp: () => this.linkUp(),
      onDown: (reason) => this.linkDown(reason),
    });
  }

  private transportFactory(): TransportFactory {
    const spec = this.spec;
    if (spec.protocol === "modbus-tcp") {
      const connectTimeoutMs = Math.min(10_000, Math.max(2_000, 2 * this.timeoutMs));
      return () =>
        new TcpTransport({
          host: spec.host,
          port: spec.port,
          connectTimeoutMs,
          staleAfterTimeouts: STALE_AFTER_TIMEOUTS,
          staleAfterMs: STALE_AFTER_MS,
        });
    }
    return () => new RtuTransport({ line: spec });
  }

  private where(): string {
    return this.spec.protocol === "modbus-tcp" ? `${this.spec.host}:${this.spec.port}` : this.spec.path;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.link.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const d of this.devices.values()) d.halt();
    this.queue.abandonAll("channel stopped");
    await this.link.stop();
    this.reportedUp = undefined;
  }

  addDevice(device: DeviceSpec): void {
    if (!device.modbus) {
      this.log.error({ device: device.key }, "device has no Modbus mapping; not polled");
      return;
    }
    const previous = this.devices.get(device.key);
    if (previous) {
      previous.stop();
      this.queue.abandon(device.key, "device replaced");
    }
    const poller = new DevicePoller(device, {
      logger: this.log,
      sink: this.sink,
      retries: Math.max(0, Math.floor(this.ctx.options.modbusRetries)),
      maxGap: this.ctx.options.modbusMaxGap,
      concurrency: this.concurrency,
      linkUp: () => this.link.isUp,
      probePacing: this.spec.protocol === "modbus-rtu" ? "backoff" : "period",
      transact: (owner, unit, req, priority) => this.transact(owner, unit, req, priority),
      cycleDone: (ms) => {
        this.counters.lastPollMs = Math.round(ms);
      },
    });
    this.devices.set(device.key, poller);
    if (this.link.isUp) poller.resume();
  }

  async removeDevice(deviceKey: string): Promise<void> {
    const poller = this.devices.get(deviceKey);
    if (!poller) return;
    this.devices.delete(deviceKey);
    poller.stop();
    this.queue.abandon(deviceKey, "device removed");
    await this.queue.idle(deviceKey);
  }

  async write(deviceKey: string, values: Record<string, unknown>): Promise<void> {
    const poller = this.devices.get(deviceKey);
    if (!poller) throw new FieldError(FieldCode.unsupported, `device ${deviceKey} is not on channel ${this.serverId}`);
    await poller.write(values);
  }

  async call(): Promise<Record<string, unknown>> {
    throw new FieldError(FieldCode.unsupported, "service not supported by Modbus devices");
  }

  stats(): ChannelStats {
    return {
      serverId: this.serverId,
      protocol: this.spec.protocol,
      up: this.link.isUp,
      requests: this.counters.requests,
      errors: this.counters.errors,
      timeouts: this.counters.timeouts,
      lastPollMs: this.counters.lastPollMs,
      busUtilisation: this.busy ? Number(this.busy.utilisation().toFixed(4)) : 0,
    };
  }

  private transact(owner: string, unit: number, req: ModbusRequest, priority: Priority): Promise<{ result: ModbusResult; sentAt: number }> {
    return this.queue.push(owner, priority, async () => {
      const transport = this.link.transport;
      if (!transport) throw new ModbusNotConnectedError("not connected");
      const sentAt = performance.now();
      this.counters.requests++;
      try {
        const result = await transport.execute(unit, req, this.timeoutMs);
        this.link.markHealthy();
        return { result, sentAt };
      } catch (err) {
        this.counters.errors++;
        if (err instanceof ModbusTimeoutError) this.counters.timeouts++;
        if (err instanceof ModbusExceptionError) this.link.markHealthy();
        throw err;
      } finally {
        this.busy?.add(sentAt, performance.now());
      }
    });
  }

  private linkUp(): void {
    if (this.reportedUp !== true) {
      this.reportedUp = true;
      this.log.info({ at: this.where() }, "Modbus channel up");
      this.reportChannel(true);
    }
    for (const d of this.devices.values()) d.resume();
  }

  private linkDown(lost: string): void {
    // Down always comes with a reason (an error without a message must not leave /status with null).
    const reason = lost.trim() || `connection to ${this.where()} lost`;
    if (this.reportedUp !== false) {
      this.reportedUp = false;
      this.log.warn({ at: this.where(), reason }, "Modbus channel down");
      this.reportChannel(false, reason);
    }
    // Queued polls would only fail one by one; drop them now and let the devices resume on reconnect.
    for (const key of this.devices.keys()) this.queue.abandon(key, "channel down");
    for (const d of this.devices.values()) d.pause(reason);
  }

  private reportChannel(up: true): void;
  private reportChannel(up: false, reason: string): void;
  private reportChannel(up: boolean, reason?: string): void {
    try {
      if (up) this.sink.channelHealth(this.serverId, true);
      else this.sink.channelHealth(this.serverId, false, reason);
    } catch (err) {
      this.log.error({ err }, "channel health sink failed");
    }
  }
}
