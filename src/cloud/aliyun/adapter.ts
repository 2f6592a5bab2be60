/**
 * Alibaba Cloud IoT Platform (Alink) behind the north interface: one MQTT connection for the gateway and its
 * sub-devices (registration, topology, signed logins), pack posts acknowledged by their reply, the config push,
 * OTA and every downlink answered in Alink codes.
 */
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import { deviceKey } from "../../core/device-key.js";
import type { Core, DeviceKey, PlatformAdapter, PlatformDevice, PlatformStatus, RecordResult, RouteId, Sending, UplinkRecord, WireRecord } from "../platform.js";
import { GATEWAY_ROUTE } from "../platform.js";
import { AlinkConnection, AlinkRequestError, type AlinkMessage, type AlinkReply } from "./connection.js";
import { DownlinkRouter } from "./downlinks.js";
import { OtaManager } from "./ota.js";
import { SubDeviceManager, type SessionStatus } from "./subdevices.js";
import { replyTopic, type Identity } from "./topics.js";
import { AlinkUplinks } from "./uplink.js";
import { handleConfigPush } from "./config-push.js";
import { aliyunConfig } from "./bootstrap.js";
import { RemoteConfig } from "./remote-config.js";
import { DeviceTags, gatewayTags } from "./tags.js";
import { fetchDslTemplate } from "./dsltemplate.js";
import { DiscoveredDevices } from "./found.js";
import type { TslFetch } from "../platform.js";

/** Reply codes of an uplink a later attempt can succeed after: no session (520), no topology (6401), throttled, busy. */
const RETRYABLE = new Set([520, 6401, 429, 500, 6313]);

export class AliyunAdapter implements PlatformAdapter {
  readonly name = "aliyun" as const;
  readonly gateway: { key: DeviceKey; productKey: string; deviceName: string };
  /**
   * A pack post carries at most 20 sub-devices; one send packs the records of up to 200 devices (a whole poll cycle of
   * a large line) into as few messages as the limits allow.
   */
  readonly maxRecordsPerSend = 200;
  readonly perDeviceRoutes = false;
  readonly deviceStates: readonly SessionStatus[] = ["waiting", "online", "offline", "disabled", "deleted", "conflict", "error"];
  readonly link: AlinkConnection;
  readonly subs: SubDeviceManager;
  readonly ota: OtaManager;
  private readonly router: DownlinkRouter;
  readonly remoteConfig: RemoteConfig;
  readonly tags: DeviceTags;
  private readonly uplinks: AlinkUplinks;
  private readonly identity: Identity;
  private devices = new Set<string>();
  /** The document's devices (undefined before the first apply); sub-devices added by discovery are served besides. */
  private documentDevices: readonly PlatformDevice[] | undefined;
  private readonly found: DiscoveredDevices;
  private readonly secret: string;
  readonly counters = { sends: 0, messages: 0, acked: 0, refused: 0, noReply: 0 };

  constructor(cfg: BootstrapConfig, private readonly core: Core) {
    const g = aliyunConfig(cfg);
    const m = cfg.mqtt;
    this.identity = { productKey: g.productKey, deviceName: g.deviceName };
    this.secret = g.deviceSecret;
    this.gateway = { key: deviceKey(g.productKey, g.deviceName), ...this.identity };
    const log = core.logger;
    this.link = new AlinkConnection({
      gateway: { ...this.identity, deviceSecret: g.deviceSecret },
      host: m.host, port: m.port, tls: m.tls, caFile: m.caFile,
      keepaliveSeconds: m.keepaliveSeconds, signMethod: g.signMethod, clientId: g.clientId,
      reconnectMinMs: m.reconnectMinSeconds * 1000, reconnectMaxMs: m.reconnectMaxSeconds * 1000,
      requestTimeoutMs: m.requestTimeoutSeconds * 1000,
      nextId: () => core.nextId(), logger: log.child({ component: "link" }),
    });
    const sessions = g.sessions;
    const subDevices = cfg.subDevices as Array<{ productKey: string; deviceName: string; deviceSecret: string }>;
    this.subs = new SubDeviceManager(this.link, core.secrets, subDevices, sessions, log.child({ component: "sessions" }));
    this.uplinks = new AlinkUplinks(this.gateway.key);
    this.ota = new OtaManager({
      link: this.link, gateway: this.identity, version: core.version, dataDir: core.dataDir,
      download: { caFile: cfg.download.caFile, allowHttp: cfg.download.allowHttp, timeoutMs: cfg.download.timeoutSeconds * 1000 },
      installCommand: cfg.ota.installCommand, maxBytes: cfg.ota.maxBytes,
      nextId: () => core.nextId(), logger: log.child({ component: "ota" }),
    });
    this.remoteConfig = new RemoteConfig(this.link, this.identity, core, log.child({ component: "remote-config" }));
    this.tags = new DeviceTags({
      link: this.link, kv: core.kv, gateway: this.identity, gatewayTags: gatewayTags(core.version, g.tags),
      online: (key) => this.subs.isOnline(key), logger: log.child({ component: "tags" }),
    });
    core.metrics.collect("fieldbridge_tags_pending", "devices whose tags wait to be sent (Alibaba device tags)", "gauge", () => [{ labels: {}, value: this.tags.pending }]);
    this.router = new DownlinkRouter(this.link, this.identity, this.subs, {
      request: (r) => core.request(r),
      serves: (key) => this.devices.has(key),
      configPush: (topic, msg) => void handleConfigPush(msg, core, (code, data, message) => this.link.reply(replyTopic(topic), msg?.["id"], code, data, message)),
      lifecycle: async (key, action) => {
        const neutral = action === "disable" ? "suspend" : action === "enable" ? "resume" : "remove";
        await core.lifecycle(key, neutral);
        await this.lifecycle(key, neutral);
      },
      ota: (topic, msg) => this.ota.handle(topic, msg),
      remoteConfig: (topic, msg) => void this.remoteConfig.push(topic, msg),
    }, log.child({ component: "downlink" }));

    this.subs.on("online", (key) => {
      // After a re-login, trigger-2 points report their current value again; the first login needs no reset:
      // the values sampled before it wait in the outbox.
      if ((this.subs.state(key)?.loginCount ?? 0) > 1) core.deviceRejoined(key);
      this.tags.online(key);
      core.presence(GATEWAY_ROUTE, this.link.connected);
    });
    this.subs.on("offline", () => core.presence(GATEWAY_ROUTE, this.link.connected));
    this.link.on("connected", () => core.presence(GATEWAY_ROUTE, true));
    this.link.on("disconnected", () => core.presence(GATEWAY_ROUTE, false));
    this.found = new DiscoveredDevices(this.link, core.kv, log.child({ component: "discovery" }));
    this.link.on("message", (topic, msg) => {
      // Before the sub-device manager answers a topo add notify: a device this gateway reported becomes configured.
      if (this.found.onNotify(topic, msg).length && this.documentDevices) this.configure();
      this.router.handle(topic, msg);
    });
  }

  documentSecret(): string {
    return this.secret;
  }

  start(): void {
    this.ota.start();
    this.link.start();
  }

  setDevices(devices: readonly PlatformDevice[]): void {
    this.devices = new Set(devices.map((d) => d.key));
    this.uplinks.setDevices(devices);
    this.tags.setDevices(devices);
    this.documentDevices = devices;
    this.configure();
    // A product without a thing model yet: its devices are not polled, yet dsltemplate.get needs a logged-in device
    // of the product, so they log in as if reachable (their field health takes over once they are polled).
    for (const d of devices) if (d.tsl === undefined) this.subs.setFieldHealth(d.key, true);
  }

  /** The document's devices plus those discovery added; an added device the scan saw answering counts as reachable. */
  private configure(): void {
    const doc = this.documentDevices ?? [];
    const extra = this.found.addedDevices().filter((d) => !this.devices.has(deviceKey(d.productKey, d.deviceName)));
    this.subs.setConfigured([...doc.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName })), ...extra]);
    for (const d of extra) this.subs.setFieldHealth(deviceKey(d.productKey, d.deviceName), true);
  }

  /** thing.list.found for devices found on a line (`fieldbridge scan --report`). */
  reportFound(devices: ReadonlyArray<{ productKey: string; deviceName: string }>): ReturnType<DiscoveredDevices["report"]> {
    return this.found.report(devices);
  }

  /** Disabled, enabled or deleted in the cloud: the session side of a lifecycle command (the core stops the field side). */
  async lifecycle(key: DeviceKey, action: "suspend" | "resume" | "remove"): Promise<void> {
    if (action === "resume") await this.subs.enable(key);
    else if (action === "suspend") await this.subs.disable(key);
    else {
      this.found.forget(key);
      await this.subs.deleted(key);
    }
  }

  /** thing.dsltemplate.get under the identity of `viaDevice` (it must be logged in). */
  fetchTsl(productKey: string, viaDevice: DeviceKey): Promise<TslFetch> {
    const s = this.subs.state(viaDevice);
    if (!s || s.productKey !== productKey || !this.subs.isOnline(viaDevice)) return Promise.resolve({ ok: false, reason: `${viaDevice} is not logged in`, otherDevice: true });
    return fetchDslTemplate(this.link, s);
  }

  fieldHealth(device: DeviceKey, reachable: boolean, reason?: string): void {
    this.subs.setFieldHealth(device, reachable, reason);
  }

  routeOf(): RouteId {
    return GATEWAY_ROUTE;
  }

  ready(_route: RouteId, device: DeviceKey): boolean {
    return this.link.connected && (device === this.gateway.key || this.subs.isOnline(device));
  }

  send(_route: RouteId, records: readonly UplinkRecord[]): Sending {
    this.counters.sends++;
    const wire = records.filter((r): r is WireRecord => r.kind === "wire");
    const packs = this.uplinks.encode(records, () => this.core.nextId());
    const jobs: Array<Promise<RecordResult[]>> = [];
    for (const p of packs) {
      jobs.push(this.exchange(p.topic, p.msgId, p.payload, p.devices).then((res) => p.seqs.map((seq) => ({ seq, ...res }) as RecordResult)));
    }
    for (const w of wire) jobs.push(this.sendWire(w));
    const messages = packs.length + wire.length;
    this.counters.messages += messages;
    return { messages, done: Promise.all(jobs).then((all) => worstPerSeq(all.flat())) };
  }

  /** Publishes one request and turns its reply into a record result. */
  private async exchange(topic: string, id: string, payload: string, devices: readonly string[]): Promise<Outcomeless> {
    let reply: AlinkReply;
    try {
      reply = await this.link.requestRaw(topic, id, payload);
    } catch (err) {
      if (err instanceof AlinkRequestError && err.kind === "timeout") {
        this.counters.noReply++;
        return { result: "retry", reason: err.message };
      }
      return { result: "unsent", reason: (err as Error).message };
    }
    if (reply.code === 200) {
      this.counters.acked++;
      return { result: "ok" };
    }
    this.counters.refused++;
    if (reply.code === 520) for (const d of devices) if (d !== this.gateway.key) this.subs.sessionLost(d);
    const reason = `refused ${reply.code}${reply.message ? `: ${reply.message}` : ""}`;
    return RETRYABLE.has(reply.code) ? { result: "retry", reason } : { result: "reject", reason };
  }

  /** A message written by an older release: sent as it is, once every device it carries is logged in. */
  private async sendWire(w: WireRecord): Promise<RecordResult[]> {
    if (w.platform !== "aliyun") return [{ seq: w.seq, result: "reject", reason: `written for platform ${w.platform}` }];
    if (!w.devices.every((d) => this.ready(GATEWAY_ROUTE, d))) return [{ seq: w.seq, result: "unsent", reason: "devices not logged in" }];
    let id: string | undefined;
    try {
      const parsed = JSON.parse(w.payload) as AlinkMessage;
      id = parsed["id"] !== undefined ? String(parsed["id"]) : undefined;
    } catch {
      id = undefined;
    }
    if (id === undefined) return [{ seq: w.seq, result: "reject", reason: "stored message has no id" }];
    return [{ seq: w.seq, ...(await this.exchange(w.topic, id, w.payload, w.devices)) } as RecordResult];
  }

  status(): PlatformStatus {
    const l = this.link.link;
    return {
      platform: "aliyun",
      connected: this.link.connected,
      downSince: this.link.downSince,
      routes: [{ route: GATEWAY_ROUTE, state: l.state, since: l.since, ...(l.reason ? { reason: l.reason } : {}), reconnects: this.link.counters.disconnects }],
      devices: this.subs.states().map((s) => ({
        device: s.key, state: s.status, online: s.status === "online", since: s.lastLoginAt ?? 0, ...(s.reason ? { reason: s.reason } : {}),
      })),
      counters: {
        ...this.counters, logins: this.subs.counters.logins, loginFailures: this.subs.counters.loginFailures,
        connects: this.link.counters.connects, refusals: this.link.counters.refusals, downlinks: this.router.counters.requests,
        tagsPending: this.tags.pending,
      },
      firmware: this.ota.status(),
    };
  }

  async stop(deadlineMs: number): Promise<void> {
    const t0 = Date.now();
    const left = () => Math.max(200, deadlineMs - (Date.now() - t0));
    await this.subs.stop(Math.min(3000, left())).catch(() => undefined);
    await this.ota.stop();
    await this.link.stop();
  }
}

type Outcomeless = RecordResult extends infer R ? (R extends RecordResult ? Omit<R, "seq"> : never) : never;

const RANK: Record<RecordResult["result"], number> = { ok: 0, unsent: 1, retry: 2, expired: 3, reject: 4 };

/** A record spread over several messages is only ok when every message was; otherwise its worst result counts. */
function worstPerSeq(results: RecordResult[]): RecordResult[] {
  const by = new Map<number, RecordResult>();
  for (const r of results) {
    const prev = by.get(r.seq);
    if (!prev || RANK[r.result] > RANK[prev.result]) by.set(r.seq, r);
  }
  return [...by.values()];
}
