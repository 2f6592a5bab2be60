/** The Lierda X-platform emulator: an in-process aedes broker with the platform's rules. See index.ts. */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Aedes, Client } from "aedes";
import type { Logger } from "pino";
import { startFileServer, type FileServer } from "../../files.js";
import { testPki } from "../tls-material.js";
import { createHooks, type ConnInfo } from "./broker.js";
import { envelope, type TslLike } from "./codec.js";
import { Records } from "./records.js";
import { Registry, type Device } from "./registry.js";
import { handleUplink } from "./uplinks.js";
import { waitFor } from "./wait.js";
import { BrokerListener } from "../broker-listener.js";

export interface LierdaEmulatorOptions {
  tls?: boolean;
  openId?: string;
  port?: number;
  /** Default wait for a device's reply to a platform request. */
  replyTimeoutMs?: number;
  logger?: Logger;
}

export type FaultKind = "connect" | "auth" | "report" | "firmwareAck" | "subscribe";

export interface Reply {
  messageId: number | string;
  payload: unknown;
}

interface Fault {
  kind: FaultKind;
  device?: string;
  /** CONNACK code, auth Code, ack Code; null: no answer at all. */
  code: number | string | null;
  count: number;
}

interface Pending {
  device: string;
  kind: string;
  id: string;
  resolve: (p: unknown) => void;
}

export class LierdaEmulator extends EventEmitter<{ change: [] }> {
  readonly registry: Registry;
  readonly records = new Records(20_000);
  readonly tls: boolean;
  readonly host = "127.0.0.1";
  port = 0;
  files!: FileServer;
  /** Added to the time sync reply's timestamp. */
  clockSkewMs = 0;
  private broker!: Aedes;
  private listener!: BrokerListener;
  private readonly conns = new Map<Client, ConnInfo>();
  private readonly downlinks = new WeakSet<object>();
  private readonly faults: Fault[] = [];
  private readonly pending = new Set<Pending>();
  private readonly replyTimeoutMs: number;
  private seq = 5000;
  private docSeq = 0;
  private closed = false;

  private constructor(private readonly opts: LierdaEmulatorOptions) {
    super();
    this.setMaxListeners(0);
    this.tls = opts.tls ?? false;
    this.registry = new Registry(opts.openId ?? "7ED01E2A");
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 10_000;
  }

  static async start(opts: LierdaEmulatorOptions = {}): Promise<LierdaEmulator> {
    const emu = new LierdaEmulator(opts);
    emu.files = await startFileServer({ tls: true });
    try {
      await emu.listen();
    } catch (err) {
      await emu.files.close();
      throw err;
    }
    return emu;
  }

  get openId(): string {
    return this.registry.openId;
  }

  get caPem(): string {
    return testPki().ca;
  }

  // ------------------------------------------------------------ registry

  addProduct(productId: string, opts: { productKey?: string; authType?: 0 | 1 | 2; tsl?: TslLike } = {}): { productKey: string } {
    return { productKey: this.registry.addProduct(productId, opts).productKey };
  }

  /** Registers a device; returns its DeviceSecret (undefined for types 0/1 until their first auth). */
  addDevice(productId: string, nodeEui: string, opts: { secret?: string } = {}): { deviceSecret: string | undefined } {
    return { deviceSecret: this.registry.addDevice(productId, nodeEui, opts).secret };
  }

  device(key: string): Device | undefined {
    return this.registry.get(key);
  }

  online(key: string): boolean {
    return !!this.registry.get(key)?.client;
  }

  /** Disables the device (auth Code 4, CONNACK 5) and closes its connection. */
  disable(key: string): void {
    const d = this.requireDevice(key);
    d.disabled = true;
    d.client?.close();
  }

  enable(key: string): void {
    this.requireDevice(key).disabled = false;
  }

  /** Replaces the device's secret (a stored secret then fails: CONNACK 4). */
  rotateSecret(key: string, secret: string): void {
    this.requireDevice(key).secret = secret;
  }

  /** Closes the device's connection as the platform would. */
  kick(key: string): boolean {
    const c = this.registry.get(key)?.client;
    c?.close();
    return !!c;
  }

  // ------------------------------------------------------------ faults, availability

  /** The next `count` matching events get `code` (null: no answer) instead of their normal handling. */
  failNext(kind: FaultKind, code: number | string | null, opts: { device?: string; count?: number } = {}): void {
    this.faults.push({ kind, code, count: opts.count ?? 1, ...(opts.device ? { device: opts.device } : {}) });
  }

  private takeFault(kind: FaultKind, device: string | undefined): Fault | undefined {
    const f = this.faults.find((x) => x.kind === kind && (x.device === undefined || x.device === device));
    if (!f) return undefined;
    if (--f.count <= 0) this.faults.splice(this.faults.indexOf(f), 1);
    return f;
  }

  async outage(): Promise<void> {
    if (!(await this.listener.outage())) return;
    this.emit("change");
  }

  async restore(): Promise<void> {
    if (this.listener.listening) return;
    await this.listener.listen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.outage();
    await new Promise<void>((r) => this.broker.close(() => r()));
    await this.files.close();
  }

  /** Resolves with the predicate's first truthy result, re-checked on every change; rejects after `timeoutMs`. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    return waitFor(this, predicate, timeoutMs, what);
  }

  // ------------------------------------------------------------ downlinks

  /** Property set (20); `params` as the items of the message or a map. Resolves with the set_ack Payload. */
  setProperty(key: string, params: Array<{ identify: string; value: unknown }> | Record<string, unknown>, opts: { timeoutMs?: number; messageId?: number | string } = {}): Promise<Reply> {
    const items = Array.isArray(params) ? params : Object.entries(params).map(([identify, value]) => ({ identify, value }));
    return this.request(key, "model/property/set", 20, { params: items }, "set", opts);
  }

  /** Property query (23); resolves with the Payload of the 16 that answers it. */
  askProperty(key: string, identifiers: unknown[], opts: { timeoutMs?: number } = {}): Promise<Reply> {
    return this.request(key, "model/property/ask", 23, { params: identifiers }, "ask", opts);
  }

  callService(key: string, service: string, params: unknown, opts: { timeoutMs?: number; serviceIdentify?: string } = {}): Promise<Reply> {
    return this.request(key, `model/service/${service}`, 21, { serviceIdentify: opts.serviceIdentify ?? service, params }, `service:${service}`, opts);
  }

  /**
   * Hosts `doc` on the HTTPS file server and sends down_config (14) to `gateway`; resolves with the
   * config_report Payload. `settings` overrides or adds Settings keys; `settingsAsString` sends them as a string.
   */
  async pushConfig(gateway: string, doc: Buffer | object, opts: { sha256?: string; settings?: Record<string, unknown>; settingsAsString?: boolean; timeoutMs?: number } = {}): Promise<Reply & { url: string; sha256: string }> {
    const body = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc));
    const url = this.files.put(`lierda-config-${++this.docSeq}.json`, body);
    const sha256 = opts.sha256 ?? createHash("sha256").update(body).digest("hex");
    const settings = { GatewayConfigUrl: url, GatewayConfigSha256: sha256, ...opts.settings };
    const reply = await this.request(gateway, "down_config", 14, { Settings: opts.settingsAsString ? JSON.stringify(settings) : settings }, "config", { timeoutMs: opts.timeoutMs ?? 30_000 });
    return { ...reply, url, sha256 };
  }

  askConfig(key: string, opts: { timeoutMs?: number } = {}): Promise<Reply> {
    return this.request(key, "ask_config", 14, {}, "config", opts);
  }

  askFirmware(key: string, opts: { timeoutMs?: number } = {}): Promise<Reply> {
    return this.request(key, "ask_firmware", 13, {}, "firmware", opts);
  }

  otaNotify(key: string, offer: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<Reply> {
    return this.request(key, "ota_notify", 9, offer, "ota", opts);
  }

  passthrough(key: string, payload: unknown, opts: { timeoutMs?: number } = {}): Promise<Reply> {
    return this.request(key, "downlink", 7, payload, "downlink", opts);
  }

  /** Publishes any bytes on `P/<suffix>` of the device (malformed downlinks); nothing is awaited. */
  sendRaw(key: string, suffix: string, payload: string | Buffer): void {
    const d = this.requireDevice(key);
    this.send(`/sys/${this.openId}/${d.productId}/${d.nodeEui}/${suffix}`, payload);
  }

  /** Sends an envelope and waits for the reply of `kind` with the same MessageId. */
  request(key: string, suffix: string, headerCtrl: number, payload: unknown, kind: string, opts: { timeoutMs?: number; messageId?: number | string; version?: string } = {}): Promise<Reply> {
    const d = this.requireDevice(key);
    if (!d.client) return Promise.reject(new Error(`device ${key} is offline`));
    const id = opts.messageId ?? ++this.seq;
    const timeoutMs = opts.timeoutMs ?? this.replyTimeoutMs;
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = {
        device: key,
        kind,
        id: String(id),
        resolve: (payload) => {
          clearTimeout(timer);
          this.pending.delete(p);
          resolve({ messageId: id, payload });
        },
      };
      const timer = setTimeout(() => {
        this.pending.delete(p);
        reject(new Error(`no ${kind} reply from ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.add(p);
      const body = opts.version === undefined ? envelope(id, headerCtrl, payload) : JSON.stringify({ MessageId: id, HeaderCtrl: headerCtrl, Payload: payload, Version: opts.version });
      this.send(`/sys/${this.openId}/${d.productId}/${d.nodeEui}/${suffix}`, body);
    });
  }

  // ------------------------------------------------------------ internals

  private requireDevice(key: string): Device {
    const d = this.registry.get(key);
    if (!d) throw new Error(`device ${key} is not registered`);
    return d;
  }

  private send(topic: string, body: string | Buffer): void {
    const payload = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
    this.downlinks.add(payload);
    this.broker.publish({ cmd: "publish", topic, payload, qos: 1, retain: false, dup: false }, () => undefined);
  }

  private settle(device: string, kind: string, id: number | string, payload: unknown): boolean {
    for (const p of this.pending) {
      if (p.device === device && p.kind === kind && p.id === String(id)) {
        p.resolve(payload);
        return true;
      }
    }
    return false;
  }

  private async listen(): Promise<void> {
    const { Aedes } = await import("aedes");
    const hooks = createHooks({
      registry: this.registry,
      now: () => Date.now(),
      connectFault: (key) => {
        const f = this.takeFault("connect", key);
        return f ? Number(f.code ?? 3) : undefined;
      },
      subscribeFault: (key) => !!this.takeFault("subscribe", key),
      connect: (rec) => {
        this.records.add(this.records.connects, rec);
        this.emit("change");
      },
      accepted: (client, info) => this.onAccepted(client, info),
      closed: (client) => this.onClosed(client),
      refused: (r) => this.records.add(this.records.refusals, r),
      info: (client) => this.conns.get(client),
      isDownlink: (payload) => typeof payload === "object" && payload !== null && this.downlinks.has(payload),
    });
    this.broker = await Aedes.createBroker(hooks);
    this.broker.on("publish", (packet, client) => {
      const info = client ? this.conns.get(client) : undefined;
      if (!info) return;
      const payload = Buffer.isBuffer(packet.payload) ? Buffer.from(packet.payload) : Buffer.from(String(packet.payload));
      try {
        handleUplink(
          {
            registry: this.registry,
            records: this.records,
            now: () => Date.now(),
            send: (t, b) => this.send(t, b),
            settle: (d, k, id, p) => this.settle(d, k, id, p),
            fault: (kind, key) => {
              const f = this.takeFault(kind, key);
              return f ? f.code : undefined;
            },
            clockSkewMs: this.clockSkewMs,
          },
          info,
          packet.topic,
          payload,
        );
      } catch (err) {
        this.opts.logger?.error({ err: (err as Error).message }, "uplink handling failed");
      }
      this.emit("change");
    });
    this.listener = new BrokerListener({ handle: (stream) => this.broker.handle(stream), host: this.host, tls: this.tls ? { ...testPki().server } : undefined });
    await this.listener.listen(this.opts.port ?? 0);
    this.port = this.listener.port;
  }

  private onAccepted(client: Client, info: ConnInfo): void {
    this.conns.set(client, info);
    if (info.kind === "device") {
      const d = this.registry.get(info.key)!;
      const previous = d.client;
      d.client = client;
      d.onlineSince = Date.now();
      // One connection per device: the newer one closes the older.
      if (previous && previous !== client) previous.close();
      this.records.add(this.records.presence, { device: info.key, online: true, time: Date.now() });
    }
    this.emit("change");
  }

  private onClosed(client: Client): void {
    const info = this.conns.get(client);
    this.conns.delete(client);
    if (info?.kind === "device") {
      const d = this.registry.get(info.key);
      if (d?.client === client) {
        d.client = undefined;
        d.onlineSince = undefined;
        d.lastOfflineS = Math.floor(Date.now() / 1000);
        this.records.add(this.records.presence, { device: info.key, online: false, time: Date.now() });
      }
    }
    this.emit("change");
  }
}

