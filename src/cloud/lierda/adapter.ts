/**
 * The Lierda X-platform adapter (lierda.md): one device connection per device of the document plus the
 * gateway's own, on the shared MQTT pool (connections.ts). Records are encoded at send time (16/17 live, 27
 * with sample times), delivered on PUBACK; platform requests are validated before anything changes and answered
 * with "200"/"4001"; the gateway's device carries the config channel, firmware report and time sync.
 */
import type { Logger } from "pino";
import { deviceKey } from "../../core/device-key.js";
import type {
  Core,
  DeviceCloudStatus,
  DeviceKey,
  Outcome,
  PlatformAdapter,
  PlatformDevice,
  PlatformStatus,
  RecordResult,
  RouteId,
  Sending,
  UplinkRecord,
} from "../platform.js";
import { LinkError } from "../mqtt/link.js";
import type { LierdaConfig } from "./bootstrap.js";
import { Connections } from "./connections.js";
import { decodeDownlink, type DownAction, type Reply } from "./downlink.js";
import { createEntry, type DeviceState, type Entry } from "./entries.js";
import { envelopeJson, failurePayload, successPayload, type MessageId } from "./envelope.js";
import { GatewayDevice } from "./gateway-device.js";
import { deviceTopics } from "./topics.js";
import { planMessages, type DataRecord } from "./uplink.js";

const SET_REPEAT_MS = 60_000;
/**
 * The hold cause of a device without credentials (§6.1: not polled, not connected). Credentials come from the
 * bootstrap file, read once at start, so the hold is never released while running: not even when the device leaves
 * the document (a release would poll it until the field side removes it; if it comes back it still has none).
 * Refused and disabled devices are not held: they keep being polled and queue their values until the platform
 * accepts them again (§6.2, §9.2).
 */
const NO_CREDENTIALS = "no-credentials";
const LOG_EVERY_MS = 60_000;

export class LierdaAdapter implements PlatformAdapter {
  readonly name = "lierda" as const;
  readonly gateway: { key: DeviceKey; productKey: string; deviceName: string };
  readonly maxRecordsPerSend: number;
  readonly perDeviceRoutes = true;
  readonly deviceStates: readonly DeviceState[] = ["no-credentials", "authenticating", "connecting", "online", "backoff", "refused", "disabled"];
  private readonly entries = new Map<DeviceKey, Entry>();
  private readonly conns: Connections;
  private readonly gwEntry: Entry;
  private readonly gw: GatewayDevice;
  private readonly log: Logger;
  private readonly acks = new Map<string, number>();
  private readonly logged = new Map<string, number>();
  private readonly counters = { uplinksSent: 0, uplinksAccepted: 0, uplinksRejected: 0, acksUnknown: 0, downlinksIgnored: 0, downlinksRefused: 0, requests: 0 };
  private readonly rejectedMetric;
  private started = false;
  private stopped = false;

  constructor(private readonly cfg: LierdaConfig, private readonly core: Core) {
    this.log = core.logger.child({ platform: "lierda" });
    const g = cfg.gateway;
    this.gateway = { key: deviceKey(g.productId, g.nodeEui), productKey: g.productId, deviceName: g.nodeEui };
    this.maxRecordsPerSend = cfg.lierda.historyBatchSize;
    this.rejectedMetric = core.metrics.counter("fieldbridge_lierda_uplinks_rejected_total", "Uplinks the platform acked with 4001 (not retried)");
    this.gwEntry = createEntry(this.entryContext(), this.gateway.key, g.productId, g.nodeEui, true, undefined);
    this.entries.set(this.gwEntry.key, this.gwEntry);
    this.conns = new Connections(cfg, core.secrets, this.entries, this.log, {
      up: (e) => this.onUp(e),
      down: (e, reason) => this.onDown(e, reason),
      message: (e, topic, payload) => this.onMessage(e, topic, payload),
      changed: () => undefined,
    });
    this.gw = new GatewayDevice(this.gwEntry, {
      cfg,
      core,
      log: this.log,
      firmwareVersion: g.firmwareVersion ?? core.version,
      publish: (topic, json) => this.publish(this.gwEntry, topic, json),
      fleet: () => this.fleet(),
    });
  }

  documentSecret(): string | undefined {
    const g = this.cfg.gateway;
    if ((g.authType ?? 2) === 2) return g.deviceSecret;
    const s = this.core.secrets.get(g.productId, g.nodeEui);
    return s && /^[0-9A-Fa-f]{32}$/.test(s) ? s : undefined;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.conns.start();
    for (const e of this.entries.values()) this.conns.open(e);
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.gw.offline();
    await this.conns.stop(deadlineMs);
  }

  setDevices(devices: readonly PlatformDevice[]): void {
    const wanted = new Map<DeviceKey, PlatformDevice>();
    for (const d of devices) {
      if (d.key === this.gateway.key) {
        this.retsl(this.gwEntry, d);
        continue;
      }
      wanted.set(d.key, d);
    }
    for (const [key, e] of this.entries) {
      if (e.gateway || wanted.has(key)) continue;
      this.entries.delete(key);
      e.removed = true;
      void this.conns.close(e);
      this.core.presence(key, false);
      this.log.info({ device: key }, "device removed: disconnected");
    }
    for (const d of wanted.values()) {
      const existing = this.entries.get(d.key);
      if (existing) {
        this.retsl(existing, d);
        continue;
      }
      const e = createEntry(this.entryContext(), d.key, d.productKey, d.deviceName, false, d.tsl);
      this.entries.set(d.key, e);
      if (e.state === "no-credentials") {
        this.log.warn({ device: d.key, reason: e.reason }, "device not connected: no credentials");
        this.core.hold(d.key, NO_CREDENTIALS, true);
      }
      if (this.started && !this.stopped) this.conns.open(e);
    }
  }

  fieldHealth(): void {
    // The X platform has no message for field reachability; the values simply stop.
  }

  routeOf(device: DeviceKey): RouteId {
    return device;
  }

  ready(route: RouteId, device: DeviceKey): boolean {
    const e = this.entries.get(route);
    return route === device && !!e && e.state === "online" && !!this.conns.link(e)?.connected;
  }

  send(route: RouteId, records: readonly UplinkRecord[]): Sending {
    try {
      return this.sendNow(route, records);
    } catch (err) {
      this.log.error({ route, err: (err as Error).message }, "encoding records failed");
      return { messages: 0, done: Promise.resolve(records.map((r) => ({ seq: r.seq, result: "retry", reason: "encoding failed" }) as RecordResult)) };
    }
  }

  status(): PlatformStatus {
    const list = [...this.entries.values()];
    const gwLink = this.conns.link(this.gwEntry);
    return {
      platform: "lierda",
      connected: this.gwEntry.state === "online",
      downSince: this.gwEntry.state === "online" ? 0 : gwLink?.downSince || this.gwEntry.since,
      routes: list.map((e) => ({ route: e.key, state: e.state, since: e.since, ...(e.reason ? { reason: e.reason } : {}), reconnects: e.reconnects })),
      devices: list.map((e): DeviceCloudStatus => ({ device: e.key, state: e.state, online: e.state === "online", since: e.since, ...(e.reason ? { reason: e.reason } : {}) })),
      counters: { ...this.counters, clockOffsetMs: this.gw.offsetMs, devicesOnline: list.filter((e) => e.state === "online").length },
    };
  }

  // ---------------------------------------------------------------- uplinks

  private sendNow(route: RouteId, records: readonly UplinkRecord[]): Sending {
    const e = this.entries.get(route);
    const link = e ? this.conns.link(e) : undefined;
    if (!e || !link?.connected || e.state !== "online") {
      return { messages: 0, done: Promise.resolve(records.map((r) => ({ seq: r.seq, result: "unsent", reason: "device not online" }) as RecordResult)) };
    }
    const fixed = new Map<number, RecordResult>();
    const data: DataRecord[] = [];
    for (const r of records) {
      if (r.kind === "wire") fixed.set(r.seq, { seq: r.seq, result: "reject", reason: "a wire message of another platform" });
      else if (r.device !== e.key) fixed.set(r.seq, { seq: r.seq, result: "reject", reason: "record of another device on this route" });
      else data.push(r);
    }
    const planned = planMessages(data, {
      writer: e.writer,
      onlineSince: e.onlineSince,
      now: Date.now(),
      liveMaxAgeMs: this.cfg.lierda.liveMaxAgeSeconds * 1000,
      historyBatchSize: this.cfg.lierda.historyBatchSize,
      timeOffsetMs: this.gw.offsetMs,
    });
    const topics = deviceTopics(e.id);
    const outcomes = planned.map((m) => {
      const id = e.ids.take();
      const topic = m.headerCtrl === 16 ? topics.propertyReport : m.headerCtrl === 27 ? topics.historyReport : topics.eventReport(m.eventId!);
      this.trackAck(e, id);
      this.counters.uplinksSent++;
      return link.publish(topic, envelopeJson(id, m.headerCtrl, m.payloadJson)).then(
        () => undefined,
        (err: Error) => err,
      );
    });
    const done = Promise.all(outcomes).then((errs) => {
      const worst = new Map<number, RecordResult>();
      planned.forEach((m, i) => {
        const err = errs[i];
        for (const seq of m.seqs) {
          if (!err) {
            if (!worst.has(seq)) worst.set(seq, { seq, result: "ok" });
          } else if (err instanceof LinkError && err.kind === "disconnected") worst.set(seq, { seq, result: "unsent", reason: "connection lost" });
          else worst.set(seq, { seq, result: "retry", reason: `publish failed: ${err.message}` });
        }
      });
      return records.map((r) => fixed.get(r.seq) ?? worst.get(r.seq) ?? ({ seq: r.seq, result: "ok" } as RecordResult));
    });
    return { messages: planned.length, done };
  }

  private trackAck(e: Entry, id: number): void {
    this.acks.set(`${e.key}|${id}`, Date.now());
    if (this.acks.size > 20_000) for (const k of [...this.acks.keys()].slice(0, 5_000)) this.acks.delete(k);
  }

  private onAck(e: Entry, id: MessageId, code: string): void {
    if (!this.acks.delete(`${e.key}|${String(id)}`)) {
      this.counters.acksUnknown++;
      return;
    }
    if (code === "200") this.counters.uplinksAccepted++;
    else {
      this.counters.uplinksRejected++;
      this.rejectedMetric.inc();
      this.note(e, `the platform rejected an uplink (Code ${code})`, "warn");
    }
  }

  // ---------------------------------------------------------------- connections

  private onUp(e: Entry): void {
    // Device connections log quietly (there may be thousands); the gateway's own is worth a line.
    if (e.gateway) this.log.info({ device: e.key }, "gateway device online");
    else this.log.debug({ device: e.key }, "device online");
    this.core.presence(e.key, true);
    this.core.deviceRejoined(e.key);
    if (e.gateway) this.gw.online();
  }

  private onDown(e: Entry, reason: string): void {
    if (e.gateway && !this.stopped) this.log.warn({ device: e.key, reason }, "gateway device offline");
    this.core.presence(e.key, false);
    if (e.gateway) this.gw.offline();
  }

  // ---------------------------------------------------------------- downlinks

  private onMessage(e: Entry, topic: string, payload: Buffer): void {
    let a: DownAction;
    try {
      a = decodeDownlink(topic, payload, { id: e.id, tsl: e.tsl });
    } catch (err) {
      a = { kind: "ignore", reason: `undecodable: ${(err as Error).message}` };
    }
    void this.act(e, a).catch((err: Error) => this.log.error({ device: e.key, err: err.message }, "handling a platform message failed"));
  }

  private async act(e: Entry, a: DownAction): Promise<void> {
    const topics = deviceTopics(e.id);
    switch (a.kind) {
      case "ignore":
        this.counters.downlinksIgnored++;
        return this.note(e, `platform message ignored: ${a.reason}`, "warn");
      case "reply":
        this.counters.downlinksRefused++;
        this.note(e, `platform request refused: ${a.reason}`, "warn");
        return this.reply(e, a.reply);
      case "set":
        return this.propertySet(e, a.messageId, a.values);
      case "ask": {
        const known = e.tsl ? a.identifiers.filter((id) => e.tsl!.property(id)) : a.identifiers;
        const out = a.identifiers.length && !known.length ? ({ ok: true, data: {} } as Outcome) : await this.request({ kind: "propertyGet", device: e.key, identifiers: known });
        const values = out.ok ? (out.data ?? {}) : {};
        return this.publish(e, topics.propertyReport, envelopeJson(a.messageId, 16, e.writer.propertyMap(values))).catch(() => undefined);
      }
      case "service": {
        const out = await this.request({ kind: "service", device: e.key, service: a.service, inputs: a.inputs });
        const body = out.ok ? successPayload(e.writer.serviceOutputs(a.service, out.data ?? {})) : failurePayload(out.message);
        return this.reply(e, { topic: topics.serviceAck(a.service), headerCtrl: 21, messageId: a.messageId, payloadJson: body });
      }
      case "downConfig":
        if (e.gateway) return this.gw.downConfig(a.messageId, a.settings);
        return this.reply(e, { topic: topics.configReport, headerCtrl: 14, messageId: a.messageId, payloadJson: '{"Settings":{}}' });
      case "askConfig":
        if (e.gateway) return this.gw.askConfig(a.messageId);
        return this.reply(e, { topic: topics.configReport, headerCtrl: 14, messageId: a.messageId, payloadJson: '{"Settings":{}}' });
      case "askFirmware":
        if (e.gateway) this.gw.sendFirmwareReport(a.messageId, 0);
        return;
      case "otaNotify":
        if (e.gateway) return this.gw.otaNotify(a.messageId, a.downId, a.offer);
        return this.reply(e, { topic: topics.otaNotifyAck, headerCtrl: 9, messageId: a.messageId, payloadJson: JSON.stringify({ DownID: a.downId ?? null }) });
      case "ack":
        return this.onAck(e, a.messageId, a.code);
      case "firmwareAck":
        if (e.gateway) this.gw.firmwareAck(a.messageId, a.code);
        return;
      case "timeAck":
        if (!e.gateway) return;
        this.gw.timeAck(a.messageId, a.timestamp, a.code);
        this.conns.timeOffsetMs = this.gw.offsetMs;
        return;
      case "authReply":
        return this.note(e, "auth reply on a device connection ignored", "debug");
    }
  }

  /** A validated set goes to the core; a repeat of the same MessageId within 60 s gets the first reply (§7.4). */
  private async propertySet(e: Entry, messageId: MessageId, values: Record<string, unknown>): Promise<void> {
    const topic = deviceTopics(e.id).setAck;
    const now = Date.now();
    for (const [k, v] of e.recentSets) if (now - v.at > SET_REPEAT_MS) e.recentSets.delete(k);
    const seen = e.recentSets.get(String(messageId));
    if (seen) return this.publish(e, seen.topic, seen.json).catch(() => undefined);
    const out = await this.request({ kind: "propertySet", device: e.key, values });
    const body = out.ok ? successPayload(e.writer.propertyMap(out.data ?? values)) : failurePayload(out.message);
    const json = envelopeJson(messageId, 20, body);
    e.recentSets.set(String(messageId), { topic, json, at: now });
    return this.publish(e, topic, json).catch(() => undefined);
  }

  /** core.request, answered within mqtt.requestTimeoutSeconds (§4). */
  private request(r: Parameters<Core["request"]>[0]): Promise<Outcome> {
    this.counters.requests++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, kind: "timeout", message: "timeout" }), this.cfg.mqtt.requestTimeoutSeconds * 1000);
    });
    const call = this.core.request(r).catch((err: Error): Outcome => ({ ok: false, kind: "internal", message: err.message }));
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  private reply(e: Entry, r: Reply): Promise<void> {
    return this.publish(e, r.topic, envelopeJson(r.messageId, r.headerCtrl, r.payloadJson)).catch(() => undefined);
  }

  private publish(e: Entry, topic: string, json: string): Promise<void> {
    const link = this.conns.link(e);
    if (!link) return Promise.reject(new LinkError("disconnected", "not connected"));
    return link.publish(topic, json);
  }

  // ---------------------------------------------------------------- internals

  private retsl(e: Entry, d: PlatformDevice): void {
    const fresh = createEntry(this.entryContext(), e.key, e.id.productId, e.id.nodeEui, e.gateway, d.tsl);
    e.tsl = fresh.tsl;
    e.writer = fresh.writer;
  }

  private entryContext() {
    return { cfg: this.cfg, kv: this.core.kv, secrets: this.core.secrets };
  }

  private fleet(): { devices: number; online: number; problems: string[] } {
    const field = [...this.entries.values()].filter((e) => !e.gateway);
    return {
      devices: field.length,
      online: field.filter((e) => e.state === "online").length,
      problems: field.filter((e) => e.state === "no-credentials").map((e) => `deviceList ${e.key}: ${e.reason ?? "no credentials"}`),
    };
  }

  /** One log line per device and text per minute (platform messages can repeat at any rate). */
  private note(e: Entry, text: string, level: "warn" | "debug"): void {
    const k = `${e.key}|${text}`;
    const last = this.logged.get(k) ?? 0;
    if (Date.now() - last < LOG_EVERY_MS) return;
    this.logged.set(k, Date.now());
    if (this.logged.size > 5_000) this.logged.clear();
    this.log[level]({ device: e.key }, text);
  }
}
