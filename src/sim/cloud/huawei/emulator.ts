/** The Huawei device management emulator: an aedes broker with the platform's rules. See index.ts. */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Aedes, Client } from "aedes";
import type { Logger } from "pino";
import type { TslDocument } from "../../../things/tsl-types.js";
import { startFileServer, type FileServer } from "../../files.js";
import { testPki } from "../tls-material.js";
import { checkValue, isPlainObject } from "../tsl-check.js";
import { cloudReq, downTopic, readUplink, type Encoding } from "./codec.js";
import { createHooks, type ConnectFault } from "./hooks.js";
import { Records, Registry, type CommandReply, type DeviceInput, type EmuDevice } from "./state.js";
import { BrokerListener } from "../broker-listener.js";

export interface HuaweiEmulatorOptions {
  /** MQTTS with the test PKI (default false: plain TCP for test rigs). */
  tls?: boolean;
  host?: string;
  port?: number;
  /** The password encoding the platform expects (default "hex"). */
  passwordEncoding?: Encoding;
  /** The product service of properties and commands (default "Thing"). */
  serviceId?: string;
  /** The platform's clock (default Date.now). */
  now?: () => number;
  /** Default wait for a command's response (default 10 s). */
  replyTimeoutMs?: number;
  /** The document file server over HTTPS (default true). */
  fileServerTls?: boolean;
  recordLimit?: number;
  logger?: Logger;
}

export interface CommandInput {
  serviceId: string;
  cmd: string;
  paras: unknown;
  /** Default: the next platform mid. */
  mid?: number;
}

export interface PushConfigOptions {
  /** Default: the SHA-256 hex of the body. */
  digest?: string;
  digestMethod?: string;
  version?: string;
  /** Extra or replaced paras (malformed pushes). */
  paras?: Record<string, unknown>;
  timeoutMs?: number;
}

interface Pending {
  resolve: (r: CommandReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Conn {
  device: EmuDevice;
  identity: string;
  subscribed: boolean;
}

export class HuaweiEmulator extends EventEmitter<{ change: [] }> {
  readonly registry = new Registry();
  readonly records: Records;
  readonly files: FileServer;
  readonly tls: boolean;
  readonly host: string;
  readonly serviceId: string;
  port = 0;
  private gatewayKey: string | undefined;
  private broker!: Aedes;
  private listener!: BrokerListener;
  private readonly conns = new WeakMap<Client, Conn>();
  private readonly current = new Map<string, Client>();
  private readonly downlinks = new WeakSet<Buffer>();
  private readonly pending = new Map<string, Pending>();
  private readonly rawWaiters = new Set<{ device: string; replies: CommandReply[] }>();
  private readonly faults: ConnectFault[] = [];
  private readonly now: () => number;
  private readonly replyTimeoutMs: number;
  private readonly log?: Logger;
  private mid = 0;
  private configSeq = 0;
  private closed = false;

  private constructor(private readonly opts: HuaweiEmulatorOptions, files: FileServer) {
    super();
    this.setMaxListeners(0);
    this.files = files;
    this.tls = opts.tls ?? false;
    this.host = opts.host ?? "127.0.0.1";
    this.serviceId = opts.serviceId ?? "Thing";
    this.now = opts.now ?? Date.now;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 10_000;
    this.records = new Records(opts.recordLimit ?? 20_000);
    this.log = opts.logger?.child({ component: "huawei-emulator" });
  }

  static async start(opts: HuaweiEmulatorOptions = {}): Promise<HuaweiEmulator> {
    const files = await startFileServer({ tls: opts.fileServerTls ?? true, host: opts.host });
    const emu = new HuaweiEmulator(opts, files);
    try {
      await emu.listen();
    } catch (err) {
      await files.close();
      throw err;
    }
    return emu;
  }

  /** `mqtt://…` or `mqtts://…`. */
  get url(): string {
    return `${this.tls ? "mqtts" : "mqtt"}://${this.host}:${this.port}`;
  }

  /** The CA a client must trust (TLS). */
  get caPem(): string {
    return testPki().ca;
  }

  // ---------------------------------------------------------------- registry

  addProduct(productId: string, tsl: TslDocument | undefined): void {
    this.registry.products.set(productId, tsl);
  }

  /** Registers a directly connected device (the gateway with `gateway: true`); returns its identity and secret. */
  addDevice(d: DeviceInput & { gateway?: boolean }): EmuDevice {
    const dev = this.registry.add(d);
    if (d.gateway) this.gatewayKey = dev.key;
    return dev;
  }

  device(ref: string): EmuDevice | undefined {
    return this.registry.get(ref);
  }

  /** The device's connection is up (accepted and not closed). */
  online(ref: string): boolean {
    const d = this.registry.get(ref);
    return !!d && this.current.has(d.key);
  }

  /** The device subscribed its command topic on its current connection. */
  subscribed(ref: string): boolean {
    const d = this.registry.get(ref);
    const c = d && this.current.get(d.key);
    return !!c && !!this.conns.get(c)?.subscribed;
  }

  /** Platform-side deletion: the connection is closed and later CONNECTs get 5. */
  deleteDevice(ref: string): void {
    const d = this.mustGet(ref);
    d.deleted = true;
    this.current.get(d.key)?.close();
  }

  /** The next `count` CONNECTs (of `device`, or of any) get CONNACK `code`. */
  failNext(kind: "connect", code: number, o: { device?: string; count?: number } = {}): void {
    this.faults.push({ code, ...(o.device ? { device: o.device } : {}), remaining: o.count ?? 1 });
  }

  // ---------------------------------------------------------------- downlinks

  /** Sends a `cloudReq` and resolves with the device's `deviceRsp` (same mid), or rejects after the timeout. */
  command(ref: string, c: CommandInput, timeoutMs = this.replyTimeoutMs): Promise<CommandReply> {
    const d = this.mustGet(ref);
    const mid = c.mid ?? this.nextMid();
    const pkey = `${d.key}#${mid}`;
    if (this.pending.has(pkey)) return Promise.reject(new Error(`mid ${mid} of ${d.key} is already waiting for a response`));
    const promise = new Promise<CommandReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(pkey);
        reject(new Error(`no deviceRsp from ${d.key} for mid ${mid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(pkey, { resolve, reject, timer });
    });
    try {
      this.publishDown(d, Buffer.from(cloudReq(mid, c.serviceId, c.cmd, c.paras)));
    } catch (err) {
      const p = this.pending.get(pkey)!;
      clearTimeout(p.timer);
      this.pending.delete(pkey);
      return Promise.reject(err);
    }
    return promise;
  }

  setProperty(ref: string, paras: unknown, timeoutMs?: number): Promise<CommandReply> {
    return this.command(ref, { serviceId: this.serviceId, cmd: "set", paras }, timeoutMs);
  }

  getProperty(ref: string, identifiers?: string[], timeoutMs?: number): Promise<CommandReply> {
    return this.command(ref, { serviceId: this.serviceId, cmd: "get", paras: identifiers ? { identifiers } : {} }, timeoutMs);
  }

  callService(ref: string, service: string, paras: unknown, timeoutMs?: number): Promise<CommandReply> {
    return this.command(ref, { serviceId: this.serviceId, cmd: service, paras }, timeoutMs);
  }

  /** Hosts the document on the HTTPS file server and sends CONFIG_PUSH to the gateway's own device. */
  async pushConfig(doc: Buffer | string | object, o: PushConfigOptions = {}): Promise<CommandReply & { url: string; digest: string }> {
    const body = Buffer.isBuffer(doc) ? doc : Buffer.from(typeof doc === "string" ? doc : JSON.stringify(doc));
    const url = this.files.put(`gateway-config-${++this.configSeq}.json`, body);
    const digest = o.digest ?? createHash("sha256").update(body).digest("hex");
    const paras = { url, digest, ...(o.digestMethod !== undefined ? { digestMethod: o.digestMethod } : { digestMethod: "sha256" }), ...(o.version !== undefined ? { version: o.version } : {}), ...(o.paras ?? {}) };
    const reply = await this.command(this.gatewayRef(), { serviceId: "Gateway", cmd: "CONFIG_PUSH", paras }, o.timeoutMs ?? 30_000);
    return { ...reply, url, digest };
  }

  /** The REMOVE command to the gateway for one device (`paras` replaces the default parameters). */
  removeDevice(target: { productKey: string; deviceName: string } | { deviceId: string }, o: { paras?: Record<string, unknown>; timeoutMs?: number } = {}): Promise<CommandReply> {
    const paras = o.paras ?? { del_subdevice: "YES", ...target };
    return this.command(this.gatewayRef(), { serviceId: "Gateway", cmd: "REMOVE", paras }, o.timeoutMs);
  }

  /** Publishes any payload on the device's command topic; resolves with every response it sent within `waitMs`. */
  async sendRaw(ref: string, payload: string | Buffer, waitMs = 500): Promise<CommandReply[]> {
    const d = this.mustGet(ref);
    const waiter = { device: d.key, replies: [] as CommandReply[] };
    this.rawWaiters.add(waiter);
    try {
      this.publishDown(d, Buffer.isBuffer(payload) ? Buffer.from(payload) : Buffer.from(payload, "utf8"));
      await new Promise((r) => setTimeout(r, waitMs));
      return waiter.replies;
    } finally {
      this.rawWaiters.delete(waiter);
    }
  }

  /** Resolves with the predicate's first truthy value; rejects after `timeoutMs`. */
  async waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate();
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() >= end) throw new Error(`waitFor ${what}: not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ---------------------------------------------------------------- availability

  /** Drops every connection and stops listening (new connections are refused). */
  async outage(): Promise<void> {
    if (!(await this.listener.outage())) return;
    this.emit("change");
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.listener.listening) return;
    await this.listener.listen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("emulator closed"));
    }
    this.pending.clear();
    await this.outage();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await this.files.close();
  }

  // ---------------------------------------------------------------- internals

  private mustGet(ref: string): EmuDevice {
    const d = this.registry.get(ref);
    if (!d) throw new Error(`unknown device ${ref}`);
    return d;
  }

  private gatewayRef(): string {
    if (!this.gatewayKey) throw new Error("no gateway device registered (addDevice({gateway: true}))");
    return this.gatewayKey;
  }

  private nextMid(): number {
    this.mid = (this.mid % 65535) + 1;
    return this.mid;
  }

  /** Publishes on the device's command topic; throws "not online" like the platform's 100428. */
  private publishDown(d: EmuDevice, payload: Buffer): void {
    const client = this.current.get(d.key);
    const conn = client && this.conns.get(client);
    if (!conn || !conn.subscribed) throw new Error(`100428 The device is not online: ${d.key}`);
    this.downlinks.add(payload);
    this.broker.publish({ cmd: "publish", topic: downTopic(conn.identity), payload, qos: 1, retain: false, dup: false }, () => undefined);
  }

  private async listen(): Promise<void> {
    const { Aedes } = await import("aedes");
    const hooks = createHooks({
      registry: this.registry,
      records: this.records,
      encoding: this.opts.passwordEncoding ?? "hex",
      now: this.now,
      takeConnectFault: (device) => {
        const f = this.faults.find((x) => x.remaining > 0 && (x.device === undefined || x.device === device));
        if (!f) return undefined;
        f.remaining--;
        return f.code;
      },
      accepted: (client, device, identity) => {
        this.conns.set(client, { device, identity, subscribed: false });
        const prev = this.current.get(device.key);
        this.current.set(device.key, client);
        if (prev && prev !== client) prev.close();
        this.records.push(this.records.presence, { device: device.key, online: true, graceful: false, at: this.now() });
        this.emit("change");
      },
      closed: (client) => {
        const conn = this.conns.get(client);
        if (!conn || this.current.get(conn.device.key) !== client) return;
        this.current.delete(conn.device.key);
        const graceful = (client as unknown as { _disconnected?: boolean })._disconnected === true;
        this.records.push(this.records.presence, { device: conn.device.key, online: false, graceful, at: this.now() });
        this.emit("change");
      },
      subscribed: (client) => {
        const conn = this.conns.get(client);
        if (conn) conn.subscribed = true;
        this.emit("change");
      },
      identityOf: (client) => this.conns.get(client),
      uplink: (client, topic, payload, qos) => this.onUplink(client, topic, payload, qos),
      isDownlink: (p) => Buffer.isBuffer(p) && this.downlinks.has(p),
    });
    this.broker = await Aedes.createBroker(hooks);
    this.listener = new BrokerListener({ handle: (stream) => this.broker.handle(stream), host: this.host, tls: this.tls ? { ...testPki().server, minVersion: "TLSv1.2" } : undefined });
    await this.listener.listen(this.opts.port ?? 0);
    this.port = this.listener.port;
    this.log?.info({ url: this.url }, "huawei emulator listening");
  }

  private onUplink(client: Client, topic: string, payload: Buffer, qos: number): void {
    const conn = this.conns.get(client);
    if (!conn) return;
    const device = conn.device.key;
    const at = this.now();
    this.records.push(this.records.uplinks, { device, topic, payload: payload.toString("utf8"), qos, at });
    const msg = readUplink(payload);
    if (msg.kind === "invalid") {
      this.records.push(this.records.rejected, { device, reason: msg.reason, at });
    } else if (msg.kind === "deviceRsp") {
      const reply: CommandReply = { device, mid: msg.mid, errcode: msg.errcode, body: msg.body, problems: msg.problems, raw: payload.toString("utf8"), at };
      this.records.push(this.records.replies, reply);
      for (const w of this.rawWaiters) if (w.device === device) w.replies.push(reply);
      const p = this.pending.get(`${device}#${msg.mid}`);
      if (p) {
        clearTimeout(p.timer);
        this.pending.delete(`${device}#${msg.mid}`);
        p.resolve(reply);
      }
    } else {
      this.acceptReport(conn.device, msg.entries, at);
    }
    this.emit("change");
  }

  /** The platform's model check of a data report: each value against the product's TSL. */
  private acceptReport(dev: EmuDevice, entries: { serviceId: string; serviceData: Record<string, unknown>; eventTime: string; time: number }[], at: number): void {
    const tsl = this.registry.products.get(dev.productId);
    for (const e of entries) {
      if (e.serviceId === this.serviceId) {
        for (const [identifier, value] of Object.entries(e.serviceData)) {
          const prop = tsl?.properties?.find((p) => p.identifier === identifier);
          const err = !prop ? `unknown property ${identifier}` : checkValue(prop.dataType, value);
          if (err) this.records.push(this.records.rejected, { device: dev.key, reason: `${identifier}: ${err}`, at });
          else this.records.push(this.records.properties, { device: dev.key, serviceId: e.serviceId, identifier, value, eventTime: e.eventTime, time: e.time, at });
        }
        continue;
      }
      const event = tsl?.events?.find((x) => x.identifier === e.serviceId);
      if (!event) {
        this.records.push(this.records.rejected, { device: dev.key, reason: `unknown service ${e.serviceId}`, at });
        continue;
      }
      let err: string | null = null;
      for (const [k, v] of Object.entries(e.serviceData)) {
        const out = event.outputData?.find((o) => o.identifier === k);
        err = !out ? `unknown output ${k}` : checkValue(out.dataType, v);
        if (err) break;
      }
      if (err || !isPlainObject(e.serviceData)) this.records.push(this.records.rejected, { device: dev.key, reason: `${e.serviceId}: ${err}`, at });
      else this.records.push(this.records.events, { device: dev.key, event: e.serviceId, outputs: e.serviceData, eventTime: e.eventTime, time: e.time, at });
    }
  }
}
