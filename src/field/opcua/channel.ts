/**
 * The OPC UA channel: one server, its devices, and the loop that keeps a session alive.
 *
 * Reconnection is owned here rather than left to node-opcua: on any loss (server restart, network cut, session
 * or subscription terminated, missing keep-alives) the whole client is discarded and a fresh session,
 * subscription and set of monitored items is built, with the device paths resolved again. node-opcua's own
 * reconnection may or may not carry subscriptions over a server restart; rebuilding gives one well-defined
 * outcome either way, and the server certificate is re-checked against its pin on every connect.
 */
import type { DataValue, Variant } from "node-opcua";
import type { Logger } from "pino";
import type { DeviceSpec, OpcuaChannelSpec } from "../../config/gateway/model.js";
import { FieldCode, FieldError, type ChannelStats, type DriverContext, type FieldChannel, type FieldSink, type Sample } from "../driver.js";
import { attachDevices, bindingHandles, type DeviceBinding, type MethodArguments, type MethodBinding, type PropertyBinding } from "./attach.js";
import { decodeEvent, type EventBinding } from "./events.js";
import { LiveConnection, type Counters } from "./live.js";
import { resolveSecurity, rsa15Hint, type SecuritySettings } from "./security.js";
import { ClientPki, closeQuietly, openSession, SessionError } from "./session.js";
import { loadNodeOpcua, registerSecret, type Ua } from "./ua.js";
import { fromOpcuaValue, toOpcuaValue } from "./values.js";

const INITIAL_BACKOFF_MS = 500;
/** Network failures retry often so a restarted server is picked up quickly. */
const MAX_BACKOFF_MS = 10_000;
/** Rejected credentials or certificates retry slowly: servers may lock accounts after repeated failures. */
const MAX_BACKOFF_REFUSED_MS = 60_000;
const KEEPALIVE_MS = 5_000;

interface DeviceEntry {
  spec: DeviceSpec;
  binding?: DeviceBinding;
  online?: boolean;
  /** Last logged problem list, so that a reconnect does not repeat the same warning. */
  lastProblems?: string;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class OpcuaChannel implements FieldChannel {
  readonly serverId: string;
  private readonly log: Logger;
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly counters: Counters = { requests: 0, errors: 0, timeouts: 0 };
  private ua?: Ua;
  private pki?: ClientPki;
  private security?: SecuritySettings;
  private live?: LiveConnection;
  private up?: boolean;
  private downReason?: string;
  private started = false;
  private stopped = false;
  private backoffMs = INITIAL_BACKOFF_MS;
  private retryTimer?: NodeJS.Timeout;
  private rebindTimer?: NodeJS.Timeout;
  private rebindBackoffMs = INITIAL_BACKOFF_MS;
  private lastBindError?: string;
  private queue: Promise<void> = Promise.resolve();
  private readonly tickers = new Map<number, { timer: NodeJS.Timeout; bindings: Set<PropertyBinding> }>();
  private pending: Sample[] = [];
  private flushScheduled = false;
  /** While devices are being bound, their first values wait until the devices are reported online. */
  private holdSamples = 0;
  private unregisterSecret: () => void = () => {};

  constructor(
    private readonly spec: OpcuaChannelSpec,
    private readonly sink: FieldSink,
    private readonly ctx: DriverContext,
  ) {
    this.serverId = spec.serverId;
    this.log = ctx.logger.child({ channel: spec.name, serverId: spec.serverId });
  }

  /** Connect, session and request timeout; a missing or nonsensical value falls back to 10 s. */
  private get timeoutMs(): number {
    const t = this.spec.timeoutMs;
    return Number.isFinite(t) && t > 0 ? Math.max(t, 100) : 10_000;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      this.security = resolveSecurity(this.spec);
    } catch (err) {
      // A configuration error: the channel stays down (without loading node-opcua) until a new config replaces it.
      this.setChannelDown(`invalid security settings: ${errorText(err)}`);
      return;
    }
    this.unregisterSecret = registerSecret(this.spec.password);
    this.ua = await loadNodeOpcua(this.ctx.logger);
    this.pki = ClientPki.for(this.ua, this.ctx.dataDir);
    if (this.stopped) return;
    this.scheduleConnect(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.rebindTimer) clearTimeout(this.rebindTimer);
    this.retryTimer = undefined;
    this.rebindTimer = undefined;
    this.clearTickers();
    const release = async () => {
      const live = this.live;
      this.live = undefined;
      if (live) await live.close();
    };
    // Closing first makes in-flight requests of a running task fail fast; the task may still finish a connect.
    await release();
    await this.queue;
    await release();
    for (const e of this.devices.values()) e.binding = undefined;
    this.unregisterSecret();
  }

  /** Runs structural work (connect, attach, detach) one item at a time. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task).catch((err) => {
      this.log.error({ err: errorText(err) }, "OPC UA channel task failed");
    });
    this.queue = run;
    return run;
  }

  private scheduleConnect(delayMs: number): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.enqueue(() => this.connect());
    }, delayMs);
  }

  private scheduleRetry(refused = false): void {
    const jitter = 0.8 + Math.random() * 0.4;
    const delay = Math.round(this.backoffMs * jitter);
    this.backoffMs = Math.min(this.backoffMs * 2, refused ? MAX_BACKOFF_REFUSED_MS : MAX_BACKOFF_MS);
    this.scheduleConnect(delay);
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.live) return;
    const ua = this.ua!;
    let live: LiveConnection | undefined;
    this.counters.requests += 1;
    try {
      const opened = await openSession({
        ua,
        spec: this.spec,
        security: this.security!,
        pki: this.pki!,
        timeoutMs: this.timeoutMs,
        logger: this.log,
      });
      if (this.stopped) {
        await closeQuietly(opened.client);
        return;
      }
      const publishingIntervalMs = Math.max(50, Math.min(250, this.ctx.options.opcuaSamplingMs));
      live = await LiveConnection.start({
        ua,
        opened,
        timeoutMs: this.timeoutMs,
        counters: this.counters,
        subscription: { publishingIntervalMs, keepAliveMs: KEEPALIVE_MS },
        onLost: (reason) => this.onLost(live!, reason),
      });
    } catch (err) {
      this.counters.errors += 1;
      if (err instanceof SessionError && err.kind === "timeout") this.counters.timeouts += 1;
      const hint = rsa15Hint(this.security!.policy);
      const reason = err instanceof SessionError ? err.message : `connect failed: ${errorText(err)}`;
      this.setChannelDown(hint && err instanceof SessionError && err.kind !== "config" ? `${reason} (${hint})` : reason);
      const refused = err instanceof SessionError && (err.kind === "auth" || err.kind === "security" || err.kind === "config");
      this.scheduleRetry(refused);
      return;
    }
    if (this.stopped) {
      await live.close();
      return;
    }
    this.live = live;
    this.backoffMs = INITIAL_BACKOFF_MS;
    this.setChannelUp();
    await this.attach([...this.devices.values()]);
  }

  private scheduleRebind(): void {
    if (this.stopped || this.rebindTimer) return;
    const delay = this.rebindBackoffMs;
    this.rebindBackoffMs = Math.min(this.rebindBackoffMs * 2, MAX_BACKOFF_REFUSED_MS);
    this.rebindTimer = setTimeout(() => {
      this.rebindTimer = undefined;
      void this.enqueue(() => this.attach([...this.devices.values()]));
    }, delay);
  }

  private onLost(live: LiveConnection, reason: string): void {
    if (this.live !== live) return;
    this.live = undefined;
    this.clearTickers();
    if (this.rebindTimer) clearTimeout(this.rebindTimer);
    this.rebindTimer = undefined;
    this.rebindBackoffMs = INITIAL_BACKOFF_MS;
    for (const e of this.devices.values()) e.binding = undefined;
    this.setChannelDown(`connection lost: ${reason}`);
    void live.close();
    this.backoffMs = INITIAL_BACKOFF_MS;
    this.scheduleRetry();
  }

  /** Binds devices on the current session; a failing session is left to onLost. */
  private async attach(entries: DeviceEntry[]): Promise<void> {
    const live = this.live;
    const targets = entries.filter((e) => !e.binding && this.devices.get(e.spec.key) === e);
    if (!live || targets.length === 0) return;
    this.holdSamples += 1;
    try {
      await this.bind(live, targets);
    } finally {
      this.holdSamples -= 1;
      this.flush();
    }
  }

  private async bind(live: LiveConnection, targets: DeviceEntry[]): Promise<void> {
    let results;
    try {
      results = await attachDevices({
        ua: this.ua!,
        live,
        devices: targets.map((e) => e.spec),
        defaultSamplingMs: this.ctx.options.opcuaSamplingMs,
        callbacks: { onValue: (b, dv) => this.onValue(b, dv), onEvent: (k, b, f) => this.onEvent(k, b, f) },
      });
    } catch (err) {
      if (live.isLost || this.live !== live) return;
      // The session works but a request was refused or timed out: those devices are retried on this session.
      const reason = `binding failed: ${errorText(err)}`;
      for (const e of targets) this.setDeviceHealth(e, false, reason);
      if (reason !== this.lastBindError) this.log.warn({ err: errorText(err), devices: targets.length }, "OPC UA devices could not be bound");
      this.lastBindError = reason;
      this.scheduleRebind();
      return;
    }
    if (this.live !== live) return;
    this.lastBindError = undefined;
    let unresolved = false;
    for (const r of results) {
      const entry = targets.find((e) => e.spec.key === r.key)!;
      if (this.devices.get(r.key) !== entry) {
        // removed while binding: release what was created for it
        if (r.binding) await live.unmonitor(bindingHandles(r.binding)).catch(() => undefined);
        continue;
      }
      if (!r.binding) {
        this.setDeviceHealth(entry, false, r.error ?? "not bound");
        // a node path may appear later (servers that build their address space late): look again
        if (entry.spec.opcua) unresolved = true;
        continue;
      }
      entry.binding = r.binding;
      for (const p of r.binding.properties.values()) if (p.spec.trigger === 1) this.addTicker(p);
      const problems = [
        ...r.problems,
        ...(r.eventsIgnored > 0 ? [`${r.eventsIgnored} event mapping(s) ignored: the device node emits no events`] : []),
      ].join("; ");
      if (problems && problems !== entry.lastProblems) this.log.warn({ device: r.key, problems }, "OPC UA device partly mapped");
      entry.lastProblems = problems;
      this.setDeviceHealth(entry, true);
    }
    if (unresolved) this.scheduleRebind();
    else this.rebindBackoffMs = INITIAL_BACKOFF_MS;
  }

  addDevice(device: DeviceSpec): void {
    if (this.devices.has(device.key)) void this.removeDevice(device.key);
    const entry: DeviceEntry = { spec: device };
    this.devices.set(device.key, entry);
    if (!device.opcua) {
      this.setDeviceHealth(entry, false, "device has no OPC UA mapping");
      return;
    }
    if (this.live) void this.enqueue(() => this.attach([entry]));
    else if (this.up === false) this.setDeviceHealth(entry, false, `channel down: ${this.downReason ?? "not connected"}`);
  }

  async removeDevice(deviceKey: string): Promise<void> {
    const entry = this.devices.get(deviceKey);
    if (!entry) return;
    this.devices.delete(deviceKey);
    await this.enqueue(async () => {
      const b = entry.binding;
      entry.binding = undefined;
      if (!b) return;
      for (const p of b.properties.values()) this.removeTicker(p);
      if (b.live === this.live) {
        await b.live.unmonitor(bindingHandles(b)).catch((err) => {
          this.log.debug({ device: deviceKey, err: errorText(err) }, "deleting monitored items failed");
        });
      }
    });
  }

  // ---- health -------------------------------------------------------------------------------------------

  private setChannelUp(): void {
    if (this.up === true) return;
    this.up = true;
    this.downReason = undefined;
    this.log.info({ url: this.spec.url, policy: this.security?.policy, mode: this.security?.mode }, "OPC UA channel up");
    this.safeSink(() => this.sink.channelHealth(this.serverId, true));
  }

  private setChannelDown(reason: string): void {
    if (this.up === false && this.downReason === reason) return;
    this.up = false;
    this.downReason = reason;
    this.log.warn({ url: this.spec.url, reason }, "OPC UA channel down");
    this.safeSink(() => this.sink.channelHealth(this.serverId, false, reason));
    for (const e of this.devices.values()) if (e.online !== false) this.setDeviceHealth(e, false, `channel down: ${reason}`);
  }

  private setDeviceHealth(entry: DeviceEntry, online: boolean, reason?: string): void {
    if (entry.online === online) return;
    entry.online = online;
    if (online) this.log.info({ device: entry.spec.key }, "OPC UA device online");
    else this.log.warn({ device: entry.spec.key, reason }, "OPC UA device offline");
    this.safeSink(() => this.sink.deviceHealth(entry.spec.key, online, reason));
  }

  /** The sink belongs to another layer; its failure must not break node-opcua's event dispatch. */
  private safeSink(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: errorText(err) }, "field sink failed");
    }
  }

  // ---- samples ------------------------------------------------------------------------------------------

  private emit(sample: Sample): void {
    this.pending.push(sample);
    if (this.flushScheduled || this.holdSamples > 0) return;
    this.flushScheduled = true;
    // Notifications of one publish response arrive back to back: hand them over as one batch.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.holdSamples > 0 || this.pending.length === 0) return;
    const batch = this.pending.filter((s) => this.devices.get(s.deviceKey)?.online === true);
    this.pending = [];
    if (batch.length > 0 && !this.stopped) this.safeSink(() => this.sink.samples(batch));
  }

  private onValue(b: PropertyBinding, dv: DataValue): void {
    if (!dv.statusCode.isGood()) return;
    const v = dv.value;
    const value = fromOpcuaValue(v.dataType, v.value, v.arrayType !== this.ua!.VariantArrayType.Scalar);
    const source = dv.sourceTimestamp?.getTime();
    const time = source !== undefined && Number.isFinite(source) && source > 0 ? source : Date.now();
    b.latest = { value, time };
    b.emittedSinceTick = true;
    this.emit({ deviceKey: b.deviceKey, identifier: b.spec.identifier, value, time });
  }

  private onEvent(deviceKey: string, binding: EventBinding, fields: Variant[]): void {
    const decoded = decodeEvent(binding, fields);
    if (!decoded || this.stopped) return;
    this.safeSink(() => this.sink.event(deviceKey, binding.spec.identifier, decoded.value, decoded.time));
  }

  /** Trigger 1: every sampling period yields a sample, re-emitting the last value when nothing changed. */
  private addTicker(b: PropertyBinding): void {
    let t = this.tickers.get(b.samplingMs);
    if (!t) {
      const bindings = new Set<PropertyBinding>();
      const timer = setInterval(() => {
        const now = Date.now();
        for (const p of bindings) {
          if (p.latest && !p.emittedSinceTick) this.emit({ deviceKey: p.deviceKey, identifier: p.spec.identifier, value: p.latest.value, time: now });
          p.emittedSinceTick = false;
        }
      }, b.samplingMs);
      timer.unref();
      t = { timer, bindings };
      this.tickers.set(b.samplingMs, t);
    }
    t.bindings.add(b);
  }

  private removeTicker(b: PropertyBinding): void {
    const t = this.tickers.get(b.samplingMs);
    if (!t) return;
    t.bindings.delete(b);
    if (t.bindings.size === 0) {
      clearInterval(t.timer);
      this.tickers.delete(b.samplingMs);
    }
  }

  private clearTickers(): void {
    for (const t of this.tickers.values()) clearInterval(t.timer);
    this.tickers.clear();
  }

  // ---- writes and calls ---------------------------------------------------------------------------------

  private bound(deviceKey: string): { entry: DeviceEntry; binding: DeviceBinding; live: LiveConnection } {
    const entry = this.devices.get(deviceKey);
    if (!entry?.spec.opcua) throw new FieldError(FieldCode.badRequest, `device ${deviceKey} has no OPC UA mapping on ${this.spec.name}`);
    const live = this.live;
    if (!live) throw new FieldError(FieldCode.notConnected, `OPC UA channel ${this.spec.name} is not connected`);
    if (!entry.binding || entry.binding.live !== live) {
      throw new FieldError(FieldCode.notConnected, `device ${deviceKey} is not bound to a node on ${this.spec.name}`);
    }
    return { entry, binding: entry.binding, live };
  }

  private fieldError(err: unknown, what: string): FieldError {
    if (err instanceof FieldError) return err;
    const msg = errorText(err);
    if ((err instanceof SessionError && err.kind === "timeout") || /timed out|BadTimeout\b/i.test(msg)) {
      return new FieldError(FieldCode.timeout, `${what} timed out after ${this.timeoutMs} ms`);
    }
    if (/BadSession|BadSecureChannel|BadConnection|BadNotConnected|closed|disconnect/i.test(msg)) {
      return new FieldError(FieldCode.notConnected, `${what}: connection to ${this.spec.name} lost`);
    }
    const status = /\b(Bad[A-Za-z]+)\b/.exec(msg)?.[1];
    if (status) return new FieldError(FieldCode.opcuaBadStatus, status);
    return new FieldError(FieldCode.generic, `${what} failed: ${msg.split("\n")[0]}`);
  }

  async write(deviceKey: string, values: Record<string, unknown>): Promise<void> {
    const mapping = this.devices.get(deviceKey)?.spec.opcua;
    for (const id of Object.keys(values)) {
      if (mapping && !mapping.properties.some((p) => p.identifier === id)) {
        throw new FieldError(FieldCode.badRequest, `property ${id} of ${deviceKey} has no OPC UA mapping`);
      }
    }
    const { binding, live } = this.bound(deviceKey);
    const targets = Object.entries(values).map(([id, value]) => {
      const p = binding.properties.get(id);
      if (!p) {
        const name = mapping!.properties.find((x) => x.identifier === id)!.displayName;
        throw new FieldError(FieldCode.badRequest, `property ${id} of ${deviceKey}: no variable "${name}" on the device node`);
      }
      return { p, value };
    });
    if (targets.length === 0) return;
    const items = [];
    for (const t of targets) {
      let dataType: number;
      try {
        dataType = await live.dataTypeOf(t.p.nodeId);
      } catch (err) {
        throw this.fieldError(err, `reading the DataType of ${t.p.spec.identifier}`);
      }
      items.push({ nodeId: t.p.nodeId, value: toOpcuaValue(dataType, t.value, `${deviceKey} ${t.p.spec.identifier}`) });
    }
    let codes;
    try {
      codes = await live.write(items);
    } catch (err) {
      throw this.fieldError(err, `writing ${deviceKey}`);
    }
    const bad = codes.find((c) => c.isNotGood());
    if (bad) throw new FieldError(FieldCode.opcuaBadStatus, bad.name);
  }

  private methodArguments(live: LiveConnection, m: MethodBinding): Promise<MethodArguments> {
    if (!m.arguments) {
      m.arguments = (async () => {
        const def = await live.methodArguments(m.nodeId);
        const inputs = [];
        for (const a of def.inputs) {
          inputs.push({ name: a.name ?? "", builtin: await live.builtinOfDataType(a.dataType.toString()), array: (a.valueRank ?? -1) > 0 });
        }
        return { inputs, outputs: def.outputs.length };
      })();
      m.arguments.catch(() => {
        m.arguments = undefined;
      });
    }
    return m.arguments;
  }

  async call(deviceKey: string, service: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    const mapping = this.devices.get(deviceKey)?.spec.opcua;
    const svc = mapping?.services.find((s) => s.identifier === service);
    if (mapping && !svc) throw new FieldError(FieldCode.badRequest, `service ${service} of ${deviceKey} has no OPC UA mapping`);
    const { binding, live } = this.bound(deviceKey);
    const m = binding.methods.get(service);
    if (!m) throw new FieldError(FieldCode.badRequest, `service ${service} of ${deviceKey}: no method "${svc!.displayName}" on the device node`);
    let args: MethodArguments;
    try {
      args = await this.methodArguments(live, m);
    } catch (err) {
      throw this.fieldError(err, `reading the arguments of ${service}`);
    }
    for (const p of m.spec.inputs) {
      if (p.index < 0 || p.index >= args.inputs.length) {
        throw new FieldError(FieldCode.badRequest, `service ${service}: input ${p.identifier} has index ${p.index}, the method takes ${args.inputs.length}`);
      }
    }
    const variants = args.inputs.map((a, k) => {
      const p = m.spec.inputs.find((i) => i.index === k);
      if (!p) throw new FieldError(FieldCode.badRequest, `service ${service}: no input mapped to argument ${k} (${a.name})`);
      if (!(p.identifier in inputs)) throw new FieldError(FieldCode.badRequest, `service ${service}: input ${p.identifier} missing`);
      return live.variant({ ...toOpcuaValue(a.builtin, inputs[p.identifier], `${service} ${p.identifier}`), array: a.array });
    });
    let result;
    try {
      result = await live.request("Call", () =>
        live.session.call({
          objectId: this.ua!.resolveNodeId(binding.nodeId),
          methodId: this.ua!.resolveNodeId(m.nodeId),
          inputArguments: variants,
        }),
      );
    } catch (err) {
      throw this.fieldError(err, `calling ${service}`);
    }
    if (result.statusCode.isNotGood()) throw new FieldError(FieldCode.opcuaBadStatus, result.statusCode.name);
    const out: Record<string, unknown> = {};
    for (const o of m.spec.outputs) {
      const v = result.outputArguments?.[o.index];
      if (!v) throw new FieldError(FieldCode.generic, `service ${service}: the method returned no output ${o.index} for ${o.identifier}`);
      out[o.identifier] = fromOpcuaValue(v.dataType, v.value, v.arrayType !== this.ua!.VariantArrayType.Scalar);
    }
    return out;
  }

  stats(): ChannelStats {
    return {
      serverId: this.serverId,
      protocol: "opcua",
      up: this.up === true,
      requests: this.counters.requests,
      errors: this.counters.errors,
      timeouts: this.counters.timeouts,
      lastPollMs: 0,
      busUtilisation: 0,
    };
  }
}
