/** The cloud emulator: an in-process aedes broker plus the platform's registry and rules. See index.ts. */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Aedes, AedesPublishPacket, Client } from "aedes";
import type { Logger } from "pino";
import { replyOf, wire } from "./wire.js";
import type { TslDocument } from "../../../things/tsl-types.js";
import { startFileServer, type FileServer } from "../../files.js";
import { topicMatches, topicScope } from "./acl.js";
import type {
  CloudEmulatorOptions,
  ConfigPushResult,
  DeviceRef,
  DeviceView,
  EmulatorEvent,
  EmulatorEvents,
  PushConfigOptions,
  RegistryChangeOptions,
  RequestOptions,
  SessionView,
} from "./api-types.js";
import { createBrokerHooks } from "./broker-hooks.js";
import type { Core, MessageId, Uplink } from "./context.js";
import { type FaultKind, type FaultOptions, Faults } from "./faults.js";
import { type FirmwareInput, type FirmwareOffer, makeOffer, OtaDesk } from "./ota.js";
import { type DownlinkReply, PendingReplies } from "./pending.js";
import { Records, type ReceivedMessage } from "./records.js";
import { type DeviceSpecInput, type DeviceState, keyOf, type ProductOptions, Registry, splitKey } from "./registry.js";
import { testPki } from "../tls-material.js";
import { isPlainObject } from "../tsl-check.js";
import { routeUplink } from "./uplink.js";
import { LOGINS_PER_WINDOW } from "./session.js";
import { RemoteConfigs, type RemoteConfigFile, type RemoteConfigOptions } from "./config.js";
import { TagStore } from "./tags.js";
import { DiscoveryDesk } from "./discovery.js";
import { BrokerListener } from "../broker-listener.js";

const KICK_MESSAGES: Record<number, string> = {
  427: "device connect in elsewhere",
  521: "device deleted",
  522: "device forbidden",
  6401: "topo relation not exist",
};

export class CloudEmulator extends EventEmitter<EmulatorEvents> {
  private readonly registry = new Registry();
  private readonly records: Records;
  readonly files: FileServer;
  readonly tls: boolean;
  readonly host: string;
  port = 0;

  private readonly faults = new Faults();
  /** thing.dsltemplate.get answers and thing.list.found reports (discovery.ts). */
  readonly discovery = new DiscoveryDesk();
  private readonly pending = new PendingReplies();
  private readonly otaDesk = new OtaDesk();
  private readonly clientDevice = new WeakMap<Client, string>();
  private readonly subs = new Map<Client, Set<string>>();
  private readonly downlinkPayloads = new WeakSet<Buffer>();
  private readonly core: Core;
  private readonly log?: Logger;
  private readonly replyTimeoutMs: number;
  private broker!: Aedes;
  private mqttClientId: (client: Client) => string = (client) => client.id;
  private listener!: BrokerListener;
  private seq = 1000;
  private configSeq = 0;
  private closed = false;

  private constructor(opts: CloudEmulatorOptions, files: FileServer) {
    super();
    this.setMaxListeners(0);
    this.files = files;
    this.tls = opts.tls ?? false;
    this.host = opts.host ?? "127.0.0.1";
    this.log = opts.logger?.child({ component: "cloud-emulator" });
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 10_000;
    this.records = new Records(opts.recordLimit ?? 10_000, (kind, record) => {
      this.emit("record", { kind, record } as EmulatorEvent);
    });
    const self = this;
    this.core = {
      registry: this.registry,
      records: this.records,
      faults: this.faults,
      remoteConfigs: new RemoteConfigs((name, body) => files.put(name, body)),
      tags: new TagStore(),
      discovery: this.discovery,
      onlineCap: opts.onlineCap ?? 1500,
      loginsPerWindow: opts.loginsPerMinute ?? LOGINS_PER_WINDOW,
      kickNotice: opts.kickNoticeTopic ?? "logout_reply",
      log: this.log,
      now: () => Date.now(),
      send: (topic, body) => self.send(topic, body),
      reply: (up, code, extra = {}) =>
        self.send(`${up.topic}_reply`, { id: up.id, code, data: extra.data ?? {}, ...(extra.message ? { message: extra.message } : {}) }),
      endSession: (sub, notice) => self.endSession(sub, notice),
      reject: (r) => self.records.add("rejected", { ...r, time: Date.now() }),
    };
  }

  static async start(opts: CloudEmulatorOptions = {}): Promise<CloudEmulator> {
    const files = await startFileServer({ tls: opts.fileServerTls ?? true, host: opts.host, tlsMaterial: opts.tlsMaterial });
    const emu = new CloudEmulator(opts, files);
    try {
      await emu.listen(opts);
    } catch (err) {
      await files.close();
      throw err;
    }
    return emu;
  }

  private async listen(opts: CloudEmulatorOptions): Promise<void> {
    const { Aedes } = await import("aedes");
    const { hooks, mqttClientId } = createBrokerHooks({
      registry: this.registry,
      records: this.records,
      faults: this.faults,
      now: () => Date.now(),
      connected: (client, device) => this.onConnected(client, device),
      closed: (client) => this.onClosed(client),
      subscribed: (client, filter) => {
        const set = this.subs.get(client) ?? new Set<string>();
        set.add(filter);
        this.subs.set(client, set);
        this.changed();
      },
      deviceOf: (client) => this.clientDevice.get(client),
      isDownlink: (payload) => Buffer.isBuffer(payload) && this.downlinkPayloads.has(payload),
    });
    this.mqttClientId = mqttClientId;
    this.broker = await Aedes.createBroker(hooks);
    this.broker.on("publish", (packet, client) => this.onPublish(packet, client));
    this.broker.on("unsubscribe", (filters, client) => {
      for (const f of filters) this.subs.get(client)?.delete(f);
    });
    this.broker.on("clientError", (client, err) => this.log?.debug({ clientId: mqttClientId(client), err: err.message }, "client error"));
    this.broker.on("connectionError", (client, err) => this.log?.debug({ clientId: mqttClientId(client), err: err.message }, "connection error"));

    this.listener = new BrokerListener({ handle: (stream) => this.broker.handle(stream), host: this.host, tls: this.tls ? { ...(opts.tlsMaterial ?? testPki().server) } : undefined });
    await this.listener.listen(opts.port ?? 0);
    this.port = this.listener.port;
    this.log?.info({ url: this.url }, "cloud emulator listening");
  }

  /** `mqtt://host:port` or `mqtts://host:port`. */
  get url(): string {
    return `${this.tls ? "mqtts" : "mqtt"}://${this.host}:${this.port}`;
  }

  /** PEM of the fixture CA, which verifies the default certificate of the broker and the file server. */
  get caPem(): string {
    return testPki().ca;
  }

  // ---------------------------------------------------------------- registry

  addProduct(productKey: string, opts: ProductOptions = {}): void {
    this.registry.addProduct(productKey, opts);
  }

  setTsl(productKey: string, tsl: TslDocument): void {
    this.registry.addProduct(productKey, { tsl });
  }

  /** Registers a device; returns its secret (generated when not given). */
  addDevice(spec: DeviceSpecInput): { deviceSecret: string } {
    return { deviceSecret: this.registry.addDevice(spec).secret };
  }

  device(ref: DeviceRef): DeviceView;
  device(productKey: string, deviceName: string): DeviceView;
  device(a: DeviceRef, b?: string): DeviceView {
    const key = b !== undefined ? keyOf(a as string, b) : refKey(a);
    const d = this.registry.get(key);
    if (!d) return { exists: false, deleted: false, disabled: false, gateway: false, online: false };
    return {
      exists: !d.deleted,
      deleted: d.deleted,
      disabled: d.disabled,
      gateway: d.gateway,
      secret: d.secret,
      ...(d.topoParent ? { topoParent: d.topoParent } : {}),
      online: !!d.online,
      ...(d.online && d.online.gatewayKey !== d.key ? { via: d.online.gatewayKey } : {}),
      ...(d.online ? { since: d.online.since } : {}),
    };
  }

  // ---------------------------------------------------------------- records

  get accepted() {
    return { properties: this.records.lists.properties, events: this.records.lists.events };
  }
  get rejected() {
    return this.records.lists.rejected;
  }
  get connects() {
    return this.records.lists.connects;
  }
  get logins() {
    return this.records.lists.logins;
  }
  get logouts() {
    return this.records.lists.logouts;
  }
  get kicks() {
    return this.records.lists.kicks;
  }
  get ota() {
    return this.records.lists.ota;
  }
  get refusals() {
    return this.records.lists.refusals;
  }

  /** Every publish received from devices; `filter` is an MQTT topic filter or a predicate. */
  received(filter?: string | ((m: ReceivedMessage) => boolean)): ReceivedMessage[] {
    const all = this.records.lists.received;
    if (filter === undefined) return [...all];
    if (typeof filter === "string") return all.filter((m) => topicMatches(filter, m.topic));
    return all.filter(filter);
  }

  /** `pk/dn` of every sub-device bound to the gateway, sorted. */
  topo(gateway: DeviceRef): string[] {
    return this.registry.children(refKey(gateway)).map((d) => d.key).sort();
  }

  /** Sub-device sessions, optionally under one gateway. */
  onlineSessions(gateway?: DeviceRef): SessionView[] {
    const gw = gateway === undefined ? undefined : refKey(gateway);
    return [...this.registry.devices.values()]
      .filter((d) => d.online && d.online.gatewayKey !== d.key && (gw === undefined || d.online.gatewayKey === gw))
      .map((d) => ({ deviceKey: d.key, gatewayKey: d.online!.gatewayKey, since: d.online!.since, cleanSession: d.online!.cleanSession ?? true }));
  }

  /** The filters granted to the connection of `device` (a gateway). */
  subscriptions(device: DeviceRef): string[] {
    const client = this.registry.get(refKey(device))?.online?.client;
    return client ? [...(this.subs.get(client) ?? [])].sort() : [];
  }

  /**
   * Resolves with the predicate's first result other than undefined, null or false; re-evaluated on every
   * change (and every 100 ms). Rejects after `timeoutMs`.
   */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      const finish = () => {
        this.off("change", check);
        clearInterval(poll);
        clearTimeout(timer);
      };
      function evaluate(): boolean {
        try {
          const v = predicate();
          if (v === undefined || v === null || v === false) return false;
          finish();
          resolve(v);
        } catch (err) {
          finish();
          reject(err);
        }
        return true;
      }
      const check = () => void evaluate();
      if (evaluate()) return;
      this.on("change", check);
      poll = setInterval(check, 100);
      timer = setTimeout(() => {
        finish();
        reject(new Error(`waitFor ${what}: not met within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  // ---------------------------------------------------------------- faults and availability

  /** The next matching request(s) get `code` and have no other effect. */
  failNext(kind: FaultKind, code: number, opts: FaultOptions = {}): void {
    this.faults.add(kind, code, opts);
  }

  /** Forgets every injected fault not used yet. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Drops every connection and stops listening (new connections are refused). */
  async outage(): Promise<void> {
    if (!(await this.listener.outage())) return;
    this.log?.info("cloud emulator outage: listener closed");
    this.changed();
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.listener.listening) return;
    await this.listener.listen();
    this.log?.info({ url: this.url }, "cloud emulator restored");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.rejectAll("cloud emulator closed");
    await this.outage();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await this.files.close();
  }

  // ---------------------------------------------------------------- downlinks

  /**
   * Hosts `doc` on the file server and sends `thing.model.config.push` with `{url, digest, digestMethod}`;
   * resolves with the gateway's reply on `…/config/push_reply`.
   */
  async pushConfig(gateway: DeviceRef, doc: object | Buffer, opts: PushConfigOptions = {}): Promise<ConfigPushResult> {
    const gw = this.requireOnline(gateway);
    const body = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc), "utf8");
    const url = opts.url ?? this.files.put(opts.name ?? `gateway-config-${++this.configSeq}.json`, body);
    const digest = opts.digest ?? createHash("sha256").update(body).digest("hex");
    const digestMethod = opts.digestMethod ?? "sha256";
    const id = this.nextNumericId();
    const payload = { digest, digestMethod, url };
    const msg = { id, version: "1.0", method: opts.method ?? "thing.model.config.push", [opts.viaParams ? "params" : "data"]: payload };
    const reply = await this.request(wire.configPush(gw), msg, { timeoutMs: opts.timeoutMs ?? 20_000 });
    return { id, url, digest, digestMethod, reply };
  }

  async setProperty(device: DeviceRef, params: Record<string, unknown>, opts: RequestOptions = {}): Promise<DownlinkReply> {
    const d = this.requireOnline(device);
    return this.request(wire.propertySet(d), { id: this.nextId(), version: "1.0", params, method: "thing.service.property.set" }, opts);
  }

  async getProperty(device: DeviceRef, identifiers: string[], opts: RequestOptions = {}): Promise<DownlinkReply> {
    const d = this.requireOnline(device);
    return this.request(wire.propertyGet(d), { id: this.nextId(), version: "1.0", params: identifiers, method: "thing.service.property.get" }, opts);
  }

  /** Calls a service; services whose TSL `callType` is "sync" (or `rrpc: true`) go over RRPC. */
  async callService(device: DeviceRef, identifier: string, params: Record<string, unknown>, opts: RequestOptions & { rrpc?: boolean } = {}): Promise<DownlinkReply> {
    const d = this.requireOnline(device);
    const service = this.registry.product(d.productKey)?.tsl?.services?.find((s) => s.identifier === identifier);
    const rrpc = opts.rrpc ?? service?.callType === "sync";
    const id = this.nextId();
    const msg = { id, version: "1.0", params, method: `thing.service.${identifier}` };
    if (!rrpc) return this.request(wire.service(d, identifier), msg, opts);
    const requestTopic = wire.rrpcRequest(d, id);
    return this.request(requestTopic, msg, { ...opts, replyTopic: wire.rrpcResponse(d, id) });
  }

  /** Disables the device in the registry, tells it (when subscribed) and ends its session (522) or connection. */
  async disable(device: DeviceRef, opts: RegistryChangeOptions = {}): Promise<DownlinkReply | null> {
    const d = this.resolve(device);
    d.disabled = true;
    const reply = await this.notifyState(d, "disable", opts);
    if (opts.kick ?? true) this.endSession(d, { code: 522, message: KICK_MESSAGES[522]! });
    this.changed();
    return reply;
  }

  /** Re-enables the device and tells it when its topics are still subscribed. */
  async enable(device: DeviceRef, opts: RequestOptions = {}): Promise<DownlinkReply | null> {
    const d = this.resolve(device);
    d.disabled = false;
    this.changed();
    return this.notifyState(d, "enable", opts);
  }

  /** Deletes the device (and its topology), tells it when subscribed, and ends its session (521). */
  async deleteDevice(device: DeviceRef, opts: RegistryChangeOptions = {}): Promise<DownlinkReply | null> {
    const d = this.resolve(device);
    const reply = await this.notifyState(d, "delete", opts);
    d.deleted = true;
    d.topoParent = undefined;
    if (opts.kick ?? true) this.endSession(d, { code: 521, message: KICK_MESSAGES[521]! });
    this.changed();
    return reply;
  }

  /** Sends `thing.topo.add.notify` listing `devices` to the gateway. */
  async notifyTopoAdd(gateway: DeviceRef, devices: DeviceRef[], opts: RequestOptions = {}): Promise<DownlinkReply> {
    const gw = this.requireOnline(gateway);
    const params = devices.map((r) => splitKey(refKey(r)));
    return this.request(wire.topoAddNotify(gw), { id: this.nextId(), version: "1.0", params, method: "thing.topo.add.notify" }, opts);
  }

  /** Ends a sub-device session with a kick notice; false when it had none. */
  kick(subDevice: DeviceRef, code: number, opts: { message?: string } = {}): boolean {
    const d = this.resolve(subDevice);
    if (!d.online) return false;
    this.endSession(d, { code, message: opts.message ?? KICK_MESSAGES[code] ?? "kicked" });
    return true;
  }

  /**
   * A product's remote configuration file (config.ts): uploaded (object as JSON), switched off ("disabled": get is
   * answered 6713) or removed (null: 6710). Returns what get and push describe it with.
   */
  setRemoteConfig(productKey: string, file: object | Buffer | "disabled" | null, opts: RemoteConfigOptions = {}): RemoteConfigFile | undefined {
    return this.core.remoteConfigs.set(productKey, file, opts);
  }

  /** Sends `thing.config.push` with the product's current file (or `params` as given) to the device. */
  async pushRemoteConfig(device: DeviceRef, opts: RequestOptions & { params?: unknown } = {}): Promise<DownlinkReply> {
    const d = this.requireOnline(device);
    const entry = this.core.remoteConfigs.get(d.productKey);
    const params = opts.params ?? (typeof entry === "object" ? entry : undefined);
    if (params === undefined) throw new Error(`product ${d.productKey} has no remote configuration file`);
    return this.request(wire.remoteConfigPush(d), { id: this.nextId(), version: "1.0", params, method: "thing.config.push" }, opts);
  }

  /** The device's tags as the platform holds them. */
  tags(device: DeviceRef): Record<string, string> {
    return this.core.tags.of(refKey(device));
  }

  /** Hosts a firmware image and pushes it on `/ota/device/upgrade/{pk}/{dn}`; it is also offered on request. */
  otaUpgrade(gateway: DeviceRef, firmware: FirmwareInput): FirmwareOffer {
    const gw = this.requireOnline(gateway);
    const offer = makeOffer(firmware, (name, body) => this.files.put(name, body));
    this.otaDesk.offers.set(gw.key, offer);
    this.send(wire.otaUpgrade(gw), { code: "1000", data: offer, id: this.nextNumericId(), message: "success" });
    return offer;
  }

  // ---------------------------------------------------------------- internals

  private changed(): void {
    this.emit("change");
  }

  private nextId(): string {
    return String(++this.seq);
  }

  private nextNumericId(): number {
    return ++this.seq;
  }

  private resolve(ref: DeviceRef): DeviceState {
    const key = refKey(ref);
    const d = this.registry.get(key);
    if (!d) throw new Error(`device ${key} is not registered`);
    return d;
  }

  private requireOnline(ref: DeviceRef): DeviceState {
    const d = this.resolve(ref);
    if (!d.online) throw new Error(`device ${d.key} is offline`);
    return d;
  }

  private hasSubscriber(topic: string): boolean {
    for (const filters of this.subs.values()) {
      for (const f of filters) if (topicMatches(f, topic)) return true;
    }
    return false;
  }

  /** Publishes any payload on any topic, as a misbehaving platform could (malformed downlink tests). */
  sendRaw(topic: string, payload: string | Buffer): void {
    this.publish(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8"));
  }

  private send(topic: string, body: unknown): void {
    this.publish(topic, Buffer.from(JSON.stringify(body), "utf8"));
  }

  private publish(topic: string, payload: Buffer): void {
    this.downlinkPayloads.add(payload);
    this.broker.publish({ cmd: "publish", topic, payload, qos: 1, retain: false, dup: false }, (err) => {
      if (err) this.log?.warn({ topic, err: err.message }, "downlink publish failed");
    });
  }

  private request(topic: string, body: { id: MessageId } & Record<string, unknown>, opts: RequestOptions & { replyTopic?: string }): Promise<DownlinkReply> {
    if (!this.hasSubscriber(topic)) return Promise.reject(new Error(`no connection subscribes ${topic}`));
    const waiting = this.pending.wait(opts.replyTopic ?? replyOf(topic), body.id, opts.timeoutMs ?? this.replyTimeoutMs);
    this.send(topic, body);
    return waiting;
  }

  /** thing.disable / enable / delete to the device's own topic when its gateway holds that subscription. */
  private async notifyState(d: DeviceState, what: "disable" | "enable" | "delete", opts: RequestOptions): Promise<DownlinkReply | null> {
    const topic = wire.lifecycle(d, what);
    if (!this.hasSubscriber(topic)) return null;
    return this.request(topic, { id: this.nextId(), version: "1.0", params: {}, method: `thing.${what}` }, opts);
  }

  private endSession(sub: DeviceState, notice?: { code: number; message: string }): void {
    const link = sub.online;
    if (!link) return;
    sub.online = undefined;
    if (link.gatewayKey === sub.key) {
      // A directly connected device (or gateway): the platform closes its connection.
      this.records.add("kicks", { deviceKey: sub.key, gatewayKey: sub.key, code: notice?.code ?? 0, time: Date.now() });
      link.client.close();
    } else if (notice) {
      const gw = splitKey(link.gatewayKey);
      const topic = this.core.kickNotice === "ext_error" ? wire.extError(gw) : wire.logoutReply(gw);
      this.send(topic, { id: this.nextId(), code: notice.code, message: notice.message, data: { productKey: sub.productKey, deviceName: sub.deviceName } });
      this.records.add("kicks", { deviceKey: sub.key, gatewayKey: link.gatewayKey, code: notice.code, topic, time: Date.now() });
      this.log?.info({ device: sub.key, gateway: link.gatewayKey, code: notice.code }, "sub-device kicked");
    }
    this.changed();
  }

  private onConnected(client: Client, device: DeviceState): void {
    const previous = device.online;
    this.clientDevice.set(client, device.key);
    device.online = { client, gatewayKey: device.key, since: Date.now() };
    if (previous && previous.client !== client) {
      // The platform keeps one connection per device: the newer one wins.
      this.records.add("kicks", { deviceKey: device.key, gatewayKey: device.key, code: 427, time: Date.now() });
      for (const sub of this.registry.sessionsOn(previous.client)) sub.online = undefined;
      previous.client.close();
    }
    this.log?.info({ device: device.key }, "device connected");
    this.changed();
  }

  private onClosed(client: Client): void {
    this.subs.delete(client);
    const key = this.clientDevice.get(client);
    if (!key) return;
    const device = this.registry.get(key);
    if (device?.online?.client === client) {
      device.online = undefined;
      this.log?.info({ device: key }, "device disconnected");
    }
    // Sub-device sessions die with the gateway's connection.
    for (const sub of this.registry.sessionsOn(client)) sub.online = undefined;
    this.changed();
  }

  private onPublish(packet: AedesPublishPacket, client: Client | null): void {
    if (!client) return;
    const from = this.clientDevice.get(client);
    const conn = from ? this.registry.get(from) : undefined;
    const scope = topicScope(packet.topic);
    if (!conn || !scope) return;
    const payload = Buffer.isBuffer(packet.payload) ? Buffer.from(packet.payload) : Buffer.from(String(packet.payload), "utf8");
    let json: unknown;
    try {
      json = JSON.parse(payload.toString("utf8"));
    } catch {
      json = undefined;
    }
    this.records.add("received", { topic: packet.topic, payload, json, clientId: this.mqttClientId(client), from: conn.key, qos: packet.qos, time: Date.now() });
    const msg = isPlainObject(json) ? json : undefined;
    const rawId = msg?.["id"];
    const up: Uplink = {
      client,
      conn,
      topic: packet.topic,
      scope,
      msg,
      id: typeof rawId === "string" || typeof rawId === "number" ? rawId : undefined,
    };
    try {
      routeUplink(this.core, up, this.pending, this.otaDesk);
    } catch (err) {
      this.log?.error({ topic: packet.topic, err: (err as Error).message }, "uplink handling failed");
    }
    this.changed();
  }
}

function refKey(ref: DeviceRef): string {
  return typeof ref === "string" ? ref : keyOf(ref.productKey, ref.deviceName);
}
