/** The Tencent IoT Explorer emulator: an aedes broker with the platform's rules (see index.ts). */
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Aedes, AedesPublishPacket, AuthenticateError, Client } from "aedes";
import { startFileServer, type FileServer } from "../../files.js";
import { testPki } from "../tls-material.js";
import { checkBind, checkConnect, scopeOf, SUB_DOWN, SUB_UP } from "./codec.js";
import { checkUplink } from "./uplink.js";
import type { Accepted, ConnectRecord, OpRecord, Refusal, SimDevice, TencentEmulatorOptions } from "./types.js";
import { BrokerListener } from "../broker-listener.js";

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export class TencentEmulator extends EventEmitter {
  readonly gw: string;
  readonly files: FileServer;
  readonly tls: boolean;
  port = 0;
  readonly connects: ConnectRecord[] = [];
  readonly accepted: Accepted[] = [];
  readonly refusals: Refusal[] = [];
  readonly ops: OpRecord[] = [];
  /** Times the gateway's connection closed (DISCONNECT or socket loss). */
  readonly gatewayClosed: number[] = [];
  /** Times the gateway's connection ended with an MQTT DISCONNECT (a clean close, not a lost socket). */
  readonly gatewayDisconnects: number[] = [];
  /** The URLs sent in `update_resource`, pre-signed like the platform's COS URLs (`?sign=…`, a credential). */
  readonly documentUrls: string[] = [];
  /** Every message the gateway published, in order. */
  readonly received: Array<{ topic: string; body: Json; time: number; bytes: number }> = [];
  readonly devices = new Map<string, SimDevice>();
  private readonly faults: Array<{ method: string; code: number; device?: string }> = [];
  private readonly waiters = new Set<{ match: (topic: string, body: Json) => boolean; resolve: (b: Json) => void }>();
  private readonly downlinks = new WeakSet<Buffer>();
  private gatewayClient: Client | undefined;
  private broker!: Aedes;
  private listener!: BrokerListener;
  private closed = false;

  private constructor(readonly opts: TencentEmulatorOptions, files: FileServer) {
    super();
    this.gw = `${opts.productId}/${opts.deviceName}`;
    this.files = files;
    this.tls = opts.tls ?? false;
  }

  static async start(opts: TencentEmulatorOptions): Promise<TencentEmulator> {
    const files = await startFileServer({ tls: true, host: "127.0.0.1" });
    const emu = new TencentEmulator(opts, files);
    try {
      await emu.listen();
    } catch (err) {
      await files.close();
      throw err;
    }
    return emu;
  }

  get url(): string {
    return `${this.tls ? "mqtts" : "mqtt"}://127.0.0.1:${this.port}`;
  }
  get caPem(): string {
    return testPki().ca;
  }

  /** A sub-device the platform knows; `bound` = bound to the gateway in the console; `psk` lets the gateway bind it. */
  addDevice(pair: string, o: { psk?: string; bound?: boolean; identifiers?: string[] } = {}): SimDevice {
    const d: SimDevice = { pair, psk: o.psk, bound: !!o.bound, online: false, identifiers: o.identifiers ? new Set(o.identifiers) : undefined };
    this.devices.set(pair, d);
    return d;
  }

  online(pair: string): boolean {
    return this.devices.get(pair)?.online ?? false;
  }
  gatewayOnline(): boolean {
    return !!this.gatewayClient;
  }

  /** The next `count` (default 1) messages of `method` (report, event_post, online, bind, …) get `code`. */
  failNext(method: string, code: number, o: { device?: string; count?: number } = {}): void {
    for (let i = 0; i < (o.count ?? 1); i++) this.faults.push({ method, code, ...(o.device ? { device: o.device } : {}) });
  }

  async outage(): Promise<void> {
    if (!(await this.listener.outage())) return;
  }
  async restore(): Promise<void> {
    if (!this.listener.listening) await this.listener.listen();
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.outage();
    await new Promise<void>((r) => this.broker.close(() => r()));
    await this.files.close();
  }

  /**
   * Every record list (connects, refusals, received, accepted, ops) grows through here, one item at a time: a
   * benchmark replaces it to count and trim them (test/bench/lib/worlds.ts).
   */
  record<T>(list: T[], item: T): void {
    list.push(item);
  }

  /** Resolves with the first gateway message matching, or rejects after `timeoutMs`. */
  waitMessage(match: (topic: string, body: Json) => boolean, timeoutMs: number): Promise<Json> {
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (b: Json) => { clearTimeout(t); this.waiters.delete(w); resolve(b); } };
      const t = setTimeout(() => { this.waiters.delete(w); reject(new Error(`no matching message within ${timeoutMs} ms`)); }, timeoutMs);
      this.waiters.add(w);
    });
  }

  async waitFor<T>(pred: () => T | undefined | false, timeoutMs: number): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Publishes a platform downlink (raw text or JSON). */
  send(topic: string, body: Json | string): void {
    const payload = Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
    this.downlinks.add(payload);
    this.broker.publish({ cmd: "publish", topic, payload, qos: 1, retain: false, dup: false }, () => undefined);
  }

  private subscribed(topic: string): boolean {
    const c = this.gatewayClient as unknown as { subscriptions?: Record<string, unknown> } | undefined;
    return !!c?.subscriptions && topic in c.subscriptions;
  }

  private async request(topic: string, body: Json | string, replyTopic: string, match: (b: Json) => boolean, timeoutMs: number): Promise<Json> {
    if (!this.subscribed(topic)) throw new Error(`no connection subscribes ${topic}`);
    const p = this.waitMessage((t, b) => t === replyTopic && match(b), timeoutMs);
    this.send(topic, body);
    return p;
  }

  /** `control` to a sub-device; resolves with its control_reply. `raw` sends a payload as is (with `token` to match). */
  control(pair: string, params: unknown, o: { token?: string; raw?: string; timeoutMs?: number } = {}): Promise<Json> {
    const token = o.token ?? `ctl-${Math.random().toString(36).slice(2)}`;
    const body = o.raw ?? { method: "control", clientToken: token, params };
    return this.request(`$thing/down/property/${pair}`, body, `$thing/up/property/${pair}`, (b) => b.method === "control_reply" && b.clientToken === token, o.timeoutMs ?? 5000);
  }

  action(pair: string, actionId: string, params: unknown, o: { token?: string; timeoutMs?: number } = {}): Promise<Json> {
    const token = o.token ?? `act-${Math.random().toString(36).slice(2)}`;
    const body = { method: "action", clientToken: token, actionId, timestamp: Math.floor(Date.now() / 1000), params };
    return this.request(`$thing/down/action/${pair}`, body, `$thing/up/action/${pair}`, (b) => b.method === "action_reply" && b.clientToken === token, o.timeoutMs ?? 5000);
  }

  /** `change` (status 0 unbinds in the registry, 1 binds); resolves with the gateway's `change` reply. */
  change(status: unknown, devices: unknown, timeoutMs = 5000): Promise<Json> {
    if ((status === 0 || status === 1) && Array.isArray(devices)) {
      for (const d of devices as Json[]) {
        const dev = this.devices.get(`${String(d.product_id)}/${String(d.device_name)}`);
        if (dev) { dev.bound = status === 1; if (status === 0) dev.online = false; }
      }
    }
    const topic = `$gateway/operation/result/${this.gw}`;
    return this.request(topic, { type: "change", payload: { status, devices } }, `$gateway/operation/${this.gw}`, (b) => b.type === "change", timeoutMs);
  }

  searchDevices(status: unknown, timeoutMs = 5000): Promise<Json> {
    const topic = `$gateway/operation/result/${this.gw}`;
    return this.request(topic, { type: "search_devices", payload: { status } }, `$gateway/operation/${this.gw}`, (b) => b.type === "search_devices", timeoutMs);
  }

  /**
   * Hosts `body` and sends `update_resource`; resolves with the gateway's `report_result` progress object.
   * `wrongMd5` announces a digest that does not match the bytes served.
   */
  async deliverDocument(body: Buffer | string, o: { version?: string; name?: string; wrongMd5?: boolean; sizeDelta?: number; timeoutMs?: number } = {}): Promise<{ state: string; result_code: string; result_msg: string }> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
    const version = o.version ?? String(Date.now());
    const url = `${this.files.put(`cfg-${version}.json`, bytes)}?sign=${randomBytes(16).toString("hex")}`;
    this.documentUrls.push(url);
    let md5 = createHash("md5").update(bytes).digest("hex");
    if (o.wrongMd5) md5 = md5.startsWith("0") ? `1${md5.slice(1)}` : `0${md5.slice(1)}`;
    const msg = { method: "update_resource", resource_name: o.name ?? "gateway-config.json", resource_type: "FILE", version, url, md5sum: md5, file_size: bytes.length + (o.sizeDelta ?? 0) };
    const reply = await this.request(`$thing/down/service/${this.gw}`, msg, `$thing/up/service/${this.gw}`, (b) => b.method === "report_result" && isObj(b.report) && b.report.version === version, o.timeoutMs ?? 15000);
    const progress = (reply.report as Json).progress as { state: string; result_code: string; result_msg: string };
    return progress;
  }

  // ---------------------------------------------------------------- broker

  private async listen(): Promise<void> {
    const { Aedes } = await import("aedes");
    const keepalive = new WeakMap<Client, number>();
    const unsupported = new WeakMap<Client, string>();
    const authError = (code: number, reason: string) => Object.assign(new Error(reason), { returnCode: code }) as AuthenticateError;
    this.broker = await Aedes.createBroker({
      preConnect: (client, packet, cb) => {
        keepalive.set(client, packet.keepalive ?? 0);
        // The platform supports neither will messages; the gateway must use clean sessions (tencent.md 2.1).
        if (packet.will) unsupported.set(client, "will messages are not supported");
        else if (packet.clean === false) unsupported.set(client, "persistent sessions are not used by the gateway");
        cb(null, true);
      },
      authenticate: (client, username, password, done) => {
        const fault = this.takeFault("connect", undefined);
        const ka = keepalive.get(client) ?? 0;
        const bad = unsupported.get(client);
        const v = fault
          ? { ok: false as const, code: fault, reason: "injected" }
          : bad
          ? { ok: false as const, code: 5, reason: bad }
          : checkConnect({ clientId: client.id, username, password: password?.toString("utf8"), keepalive: ka }, { productId: this.opts.productId, deviceName: this.opts.deviceName, psk: this.opts.psk, sdkAppId: this.opts.sdkAppId ?? "12010126" }, (id) => [...this.devices.keys()].some((p) => p.replace("/", "") === id), Math.floor(Date.now() / 1000));
        this.record(this.connects, { accepted: v.ok, code: v.ok ? 0 : v.code, reason: v.ok ? "ok" : v.reason, time: Date.now() });
        if (!v.ok) return done(authError(v.code, v.reason), false);
        // A second connection of the gateway pushes the first out.
        if (this.gatewayClient && this.gatewayClient !== client) this.gatewayClient.close();
        this.gatewayClient = client;
        for (const d of this.devices.values()) d.online = false;
        client.conn.once("close", () => {
          if (this.gatewayClient !== client) return;
          this.gatewayClient = undefined;
          this.gatewayClosed.push(Date.now());
          // aedes sets this flag only when the client sent a DISCONNECT packet.
          if ((client as unknown as { _disconnected?: boolean })._disconnected) this.gatewayDisconnects.push(Date.now());
          for (const d of this.devices.values()) d.online = false;
        });
        done(null, true);
      },
      authorizePublish: (client, packet, cb) => {
        if (!client) return cb(null);
        const size = Buffer.isBuffer(packet.payload) ? packet.payload.length : Buffer.byteLength(String(packet.payload));
        const reason = packet.qos === 2 ? "QoS 2" : packet.retain ? "retain" : size > 16 * 1024 ? `payload of ${size} bytes over 16 KiB` : this.mayPublish(packet.topic);
        if (reason) {
          this.record(this.refusals, { kind: "publish", topic: packet.topic, reason, time: Date.now() });
          return cb(new Error(reason));
        }
        cb(null);
      },
      authorizeSubscribe: (client, sub, cb) => {
        const reason = sub.qos === 2 ? "QoS 2" : this.maySubscribe(sub.topic);
        if (reason) {
          this.record(this.refusals, { kind: "subscribe", topic: sub.topic, reason, time: Date.now() });
          return cb(null, null);
        }
        cb(null, sub);
      },
      authorizeForward: (_client, packet) => (Buffer.isBuffer(packet.payload) && this.downlinks.has(packet.payload) ? packet : null),
    });
    this.broker.on("publish", (packet, client) => { if (client) this.onPublish(packet); });
    this.listener = new BrokerListener({ handle: (stream) => this.broker.handle(stream), host: "127.0.0.1", tls: this.tls ? { ...testPki().server } : undefined });
    await this.listener.listen(this.opts.port ?? 0);
    this.port = this.listener.port;
  }

  private mayPublish(topic: string): string | undefined {
    const s = scopeOf(topic);
    if (!s) return "topic not permitted";
    if (s.pair === this.gw) return ["op", "otaReport", "up/property", "up/event", "up/action", "up/service"].includes(s.kind) ? undefined : "not an uplink topic";
    if (!SUB_UP.includes(s.kind)) return "not an uplink topic of a sub-device";
    return this.devices.get(s.pair)?.online ? undefined : "sub-device not online on this connection";
  }

  private maySubscribe(topic: string): string | undefined {
    const s = scopeOf(topic);
    if (!s) return "filter not permitted";
    if (s.pair === this.gw) return ["opResult", "otaUpdate", ...SUB_DOWN].includes(s.kind) ? undefined : "not a downlink topic";
    if (!SUB_DOWN.includes(s.kind)) return "not a downlink topic of a sub-device";
    return this.devices.get(s.pair)?.online ? undefined : "sub-device not online on this connection";
  }

  private takeFault(method: string, device: string | undefined): number | undefined {
    const i = this.faults.findIndex((f) => f.method === method && (!f.device || f.device === device));
    if (i < 0) return undefined;
    return this.faults.splice(i, 1)[0]!.code;
  }

  private onPublish(packet: AedesPublishPacket): void {
    const s = scopeOf(packet.topic);
    if (!s || packet.topic.startsWith("$SYS")) return;
    let body: unknown;
    try { body = JSON.parse(packet.payload.toString("utf8")); } catch { body = undefined; }
    if (!isObj(body)) {
      this.record(this.refusals, { kind: "payload", topic: packet.topic, reason: "not a JSON object", time: Date.now() });
      if (s.kind === "up/property") this.send(`$thing/down/property/${s.pair}`, { method: "report_reply", clientToken: "", code: 400, status: "bad json" });
      return;
    }
    this.record(this.received, { topic: packet.topic, body, time: Date.now(), bytes: packet.payload.length });
    for (const w of [...this.waiters]) if (w.match(packet.topic, body)) w.resolve(body);
    if (s.kind === "op") return this.onOperation(body);
    if (body.method === "control_reply" || body.method === "action_reply") {
      const ok = typeof body.clientToken === "string" && Number.isInteger(body.code) && typeof body.status === "string" &&
        (body.method === "control_reply" ? s.kind === "up/property" : s.kind === "up/action" && typeof body.response === "object" && body.response !== null);
      if (!ok) this.record(this.refusals, { kind: "payload", topic: packet.topic, reason: `malformed ${body.method}`, time: Date.now() });
      return;
    }
    if ((s.kind === "up/property" && body.method === "report") || (s.kind === "up/event" && body.method === "event_post")) {
      const r = checkUplink(s.pair, body, this.devices.get(s.pair)?.identifiers, Date.now());
      const fault = this.takeFault(String(body.method), s.pair);
      const code = fault ?? r.code;
      if (code === 0) for (const v of r.values) this.record(this.accepted, v);
      else this.record(this.refusals, { kind: "payload", topic: packet.topic, reason: `${String(body.method)} code ${code}${r.reason ? `: ${r.reason}` : ""}`, time: Date.now() });
      const reply = body.method === "report" ? "report_reply" : "event_reply";
      const down = body.method === "report" ? "property" : "event";
      this.send(`$thing/down/${down}/${s.pair}`, { method: reply, clientToken: typeof body.clientToken === "string" ? body.clientToken : "", code, status: code === 0 ? "success" : "refused" });
    }
  }

  private onOperation(body: Json): void {
    const type = body.type;
    const reply = (payload: Json) => this.send(`$gateway/operation/result/${this.gw}`, { type, payload });
    if (type === "describe_sub_devices") {
      this.record(this.ops, { type, device: "", result: 0, time: Date.now() });
      const devices = [...this.devices.values()].filter((d) => d.bound).map((d) => { const [p, n] = d.pair.split("/"); return { product_id: p, device_name: n }; });
      return reply({ devices });
    }
    if (type === "change" || type === "search_devices") return; // replies of the gateway, recorded in `received`
    if (!["bind", "unbind", "online", "offline"].includes(String(type)) || !isObj(body.payload) || !Array.isArray(body.payload.devices)) {
      this.record(this.refusals, { kind: "payload", topic: `$gateway/operation/${this.gw}`, reason: `bad operation ${String(type)}`, time: Date.now() });
      return;
    }
    const out: Json[] = [];
    for (const e of body.payload.devices as unknown[]) {
      if (!isObj(e) || typeof e.product_id !== "string" || typeof e.device_name !== "string") continue;
      const pair = `${e.product_id}/${e.device_name}`;
      const d = this.devices.get(pair);
      let result = this.takeFault(String(type), pair) ?? 0;
      if (result === 0) {
        if (!d) result = 802;
        else if (type === "bind") {
          result = d.psk === undefined ? 803 : checkBind(e, d.psk, Math.floor(Date.now() / 1000));
          if (result === 0 && d.bound) result = 809;
          if (result === 0) d.bound = true;
        } else if (type === "unbind") { d.bound = false; d.online = false; }
        else if (type === "online") { if (!d.bound) result = -1; else d.online = true; }
        else if (type === "offline") d.online = false;
      }
      this.record(this.ops, { type: String(type), device: pair, result, time: Date.now() });
      out.push({ product_id: e.product_id, device_name: e.device_name, result });
    }
    reply({ devices: out });
  }
}
