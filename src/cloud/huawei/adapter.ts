/**
 * The `huawei` platform adapter (huawei.md): every device is directly connected, so the gateway and each document
 * device with credentials get their own MQTT connection from one paced pool (gateway first, at most
 * `huawei.maxConnections` field devices). A device's records travel on its own connection (route = its device
 * key); its commands arrive there and are answered there. The gateway's connection also carries CONFIG_PUSH and
 * REMOVE. A device removed by REMOVE stays removed across restarts (core.kv) until a pushed document is applied.
 * Devices the platform cannot serve for a lasting reason (removed, no credentials, over the connection cap) are
 * held by the core (`core.hold`, one cause each): they are not polled, so no records pile up for them.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import { deviceKey } from "../../core/device-key.js";
import { compileTsl, type CompiledTsl } from "../../things/tsl.js";
import type { TslDataType, TslDocument } from "../../things/tsl-types.js";
import type { MqttLinkOptions } from "../mqtt/link.js";
import { MqttPool, type PoolMemberState } from "../mqtt/pool.js";
import type {
  Core,
  DeviceCloudStatus,
  DeviceKey,
  PlatformAdapter,
  PlatformDevice,
  PlatformStatus,
  RecordResult,
  RouteId,
  RouteStatus,
  Sending,
  UplinkRecord,
} from "../platform.js";
import { huaweiView, type HuaweiConfig, type HuaweiSubDevice } from "./bootstrap.js";
import { CommandDesk } from "./commands.js";
import { Holds } from "./holds.js";
import type { RemoveTarget } from "./downlink.js";
import { connectFields, documentKey, type AuthType } from "./sign.js";
import { commandTopic, dataTopic } from "./topics.js";
import { encodeDeviceReq, type UplinkTypes } from "./uplink.js";

const REMOVED_PREFIX = "huawei/removed/";

interface Identity {
  id: string;
  authType: AuthType;
  secret: string;
  /** For log lines: `productKey/deviceName`, or "gateway". */
  label: string;
}

interface DeviceEntry {
  device: PlatformDevice;
  tsl: CompiledTsl | undefined;
  /** Why it has no connection: noCredentials or removed; undefined when it is a pool member. */
  parked?: "noCredentials" | "removed";
  since: number;
  fieldReason?: string;
  /** It was online once: a later connection is a rejoin. */
  wasOnline: boolean;
}

export class HuaweiAdapter implements PlatformAdapter {
  readonly name = "huawei" as const;
  readonly gateway: { key: DeviceKey; productKey: string; deviceName: string };
  readonly maxRecordsPerSend = 50;
  readonly perDeviceRoutes = true;
  readonly deviceStates: readonly string[] = ["connecting", "noCredentials", "online", "backoff", "refused", "removed", "overLimit"];
  private readonly c: HuaweiConfig;
  private readonly log: Logger;
  private readonly pool: MqttPool;
  private readonly ca: Buffer | undefined;
  private readonly credentialsByKey = new Map<DeviceKey, HuaweiSubDevice>();
  private readonly identities = new Map<RouteId, Identity>();
  private readonly devices = new Map<DeviceKey, DeviceEntry>();
  private readonly compiledCache = new WeakMap<TslDocument, CompiledTsl>();
  private readonly desk: CommandDesk;
  private readonly lastRefusal = new Map<RouteId, string>();
  private readonly holds: Holds;
  /** Devices removed by REMOVE in this run: the core holds them for the cloud too, until they are released. */
  private readonly cloudHeld = new Set<DeviceKey>();
  private gatewayEverOnline = false;
  /** The gateway's own device when the core lists it (its thing model serves self-telemetry and set/get). */
  private gatewayDevice: PlatformDevice | undefined;
  private stopped = false;
  private summaryTimer: NodeJS.Timeout | undefined;
  readonly counters = { sent: 0, acked: 0, unsent: 0, rejected: 0, messages: 0, removed: 0 };

  constructor(cfg: BootstrapConfig, private readonly core: Core) {
    this.c = huaweiView(cfg);
    this.log = core.logger.child({ platform: "huawei" });
    const g = this.c.gateway;
    const pk = g.productKey ?? "gateway";
    this.gateway = { key: deviceKey(pk, g.deviceId), productKey: pk, deviceName: g.deviceId };
    this.ca = this.c.mqtt.caFile ? readFileSync(this.c.mqtt.caFile) : undefined;
    for (const s of this.c.subDevices ?? []) this.credentialsByKey.set(deviceKey(s.productKey, s.deviceName), s);
    this.holds = new Holds((key, cause, held) => core.hold(key, cause, held));
    this.pool = new MqttPool({
      connectsPerSecond: this.c.huawei.connectsPerSecond,
      maxConnections: this.c.huawei.maxConnections,
      logger: this.log,
      closeBeforeConnackIsRefusal: true,
    });
    this.pool.on("up", (id) => this.onUp(id));
    this.pool.on("down", (id, reason) => {
      if (id === this.gateway.key) this.log.warn({ reason }, "gateway device offline");
      this.scheduleSummary();
      this.core.presence(id, false);
    });
    this.pool.on("state", (id, state, reason) => this.onState(id, state, reason));
    this.pool.on("message", (id, topic, payload) => {
      const ident = this.identities.get(id);
      if (ident && topic === commandTopic(ident.id)) this.desk.handle(id, payload);
    });
    this.desk = new CommandDesk({
      core,
      logger: this.log,
      serviceId: this.c.huawei.serviceId,
      allowHttp: this.c.download?.allowHttp ?? false,
      gatewayKey: this.gateway.key,
      device: (key) => (key === this.gateway.key ? this.gatewayDevice : this.devices.get(key)?.device),
      compiled: (key) => (key === this.gateway.key ? this.compile(this.gatewayDevice?.tsl) : this.devices.get(key)?.tsl),
      removeTarget: (t) => this.removeTarget(t),
      remove: (key) => this.removeDevice(key),
      documentApplied: () => this.documentApplied(),
      respond: (route, payload) => this.respond(route, payload),
    });
    if (this.c.mqtt.tls === false) this.log.warn("mqtt.tls is false: the platform accepts only MQTTS; plain TCP is for test rigs");
  }

  documentSecret(): string | undefined {
    return documentKey(this.c.gateway.deviceSecret);
  }

  start(): void {
    if (this.stopped) return;
    const g = this.c.gateway;
    this.addMember(this.gateway.key, { id: g.deviceId, authType: 0, secret: g.deviceSecret, label: "gateway" }, true);
    this.pool.start();
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.summaryTimer);
    await this.pool.stop("priorityLast", deadlineMs);
  }

  setDevices(list: readonly PlatformDevice[]): void {
    const now = Date.now();
    const keep = new Set<DeviceKey>();
    const missing: string[] = [];
    for (const d of list) {
      if (d.key === this.gateway.key) {
        this.gatewayDevice = d;
        continue;
      }
      keep.add(d.key);
      const prev = this.devices.get(d.key);
      const entry: DeviceEntry = { device: d, tsl: this.compile(d.tsl), since: prev?.since ?? now, wasOnline: prev?.wasOnline ?? false, ...(prev?.fieldReason ? { fieldReason: prev.fieldReason } : {}) };
      const cred = this.credentialsByKey.get(d.key);
      if (this.core.kv.get(REMOVED_PREFIX + d.key) !== undefined) entry.parked = "removed";
      else if (!cred) {
        entry.parked = "noCredentials";
        missing.push(d.key);
      }
      if (entry.parked !== prev?.parked) entry.since = now;
      this.devices.set(d.key, entry);
      this.holds.set(d.key, "removed", entry.parked === "removed");
      this.holds.set(d.key, "noCredentials", entry.parked === "noCredentials");
      if (entry.parked) {
        if (this.pool.has(d.key)) void this.pool.remove(d.key);
        continue;
      }
      const label = d.key;
      this.addMember(d.key, cred!.deviceId !== undefined ? { id: cred!.deviceId, authType: 0, secret: cred!.deviceSecret, label } : { id: d.deviceName, authType: 2, secret: cred!.deviceSecret, label });
      for (const s of entry.tsl?.problems ?? []) this.log.debug({ device: d.key, problem: s }, "thing model problem");
      for (const svc of d.tsl?.services ?? []) {
        if (typeof svc?.identifier === "string" && svc.identifier.length > 32) {
          this.log.warn({ device: d.key, service: svc.identifier }, "service identifier longer than 32 characters: the platform cannot call it");
        }
      }
    }
    for (const key of [...this.devices.keys()]) {
      if (keep.has(key)) continue;
      this.devices.delete(key);
      this.identities.delete(key);
      void this.pool.remove(key);
      // Not in the document any more: the core does not poll it anyway; a later document decides afresh.
      this.holds.releaseAll(key);
      this.releaseCloudHold(key);
    }
    if (missing.length) this.log.warn({ devices: missing.slice(0, 20), count: missing.length }, "devices without credentials in subDevices are not connected");
  }

  fieldHealth(device: DeviceKey, reachable: boolean, reason?: string): void {
    const e = this.devices.get(device);
    if (!e) return;
    if (reachable) delete e.fieldReason;
    else e.fieldReason = reason ?? "field device unreachable";
  }

  routeOf(device: DeviceKey): RouteId {
    return device;
  }

  ready(route: RouteId, device: DeviceKey): boolean {
    if (route !== device) return false;
    if (device !== this.gateway.key && this.devices.get(device)?.parked) return false;
    return this.pool.link(route)?.connected ?? false;
  }

  send(route: RouteId, records: readonly UplinkRecord[]): Sending {
    const link = this.pool.link(route);
    if (!link || !link.connected) return { messages: 0, done: Promise.resolve(records.map((r) => unsent(r.seq, "not connected"))) };
    const ident = this.identities.get(route)!;
    let encoded: ReturnType<typeof encodeDeviceReq>;
    try {
      encoded = encodeDeviceReq(records, this.typesOf(route));
    } catch (err) {
      const reason = `cannot encode: ${(err as Error).message}`;
      return { messages: 0, done: Promise.resolve(records.map((r) => ({ seq: r.seq, result: "reject" as const, reason }))) };
    }
    const topic = dataTopic(ident.id);
    const publishes = encoded.messages.map((m) => link.publish(topic, m.payload, 1).then(() => true, () => false));
    this.counters.messages += encoded.messages.length;
    const done = Promise.all(publishes).then((acks) => {
      const failed = new Set<number>();
      const acked = new Set<number>();
      let broken = false;
      encoded.messages.forEach((m, i) => {
        // After a lost message, later ones are not counted as delivered either: order is kept on retry.
        if (!acks[i] || broken) {
          broken = true;
          for (const s of m.seqs) failed.add(s);
        } else for (const s of m.seqs) acked.add(s);
      });
      const rejected = new Map(encoded.rejected.map((r) => [r.seq, r.reason]));
      return records.map((r): RecordResult => {
        const why = rejected.get(r.seq);
        if (why !== undefined) {
          this.counters.rejected++;
          return { seq: r.seq, result: "reject", reason: why };
        }
        if (failed.has(r.seq) || !acked.has(r.seq)) {
          this.counters.unsent++;
          return unsent(r.seq, "connection lost before the PUBACK");
        }
        this.counters.acked++;
        return { seq: r.seq, result: "ok" };
      });
    });
    this.counters.sent += records.length;
    return { messages: encoded.messages.length, done };
  }

  status(): PlatformStatus {
    const gw = this.pool.link(this.gateway.key);
    const routes: RouteStatus[] = this.pool.members().map((m) => ({
      route: m.id,
      state: mapState(m.state),
      since: m.since,
      ...(m.reason !== undefined ? { reason: m.reason } : {}),
      reconnects: Math.max(0, m.connects - 1),
    }));
    const devices: DeviceCloudStatus[] = [...this.devices.values()].map((e) => {
      if (e.parked) return { device: e.device.key, state: e.parked, online: false, since: e.since };
      const m = this.pool.member(e.device.key);
      const state = m ? mapState(m.state) : "connecting";
      const reason = m?.reason ?? e.fieldReason;
      return { device: e.device.key, state, online: state === "online", since: m?.since ?? e.since, ...(reason !== undefined ? { reason } : {}) };
    });
    const counts = this.pool.counts();
    const counters: Record<string, number> = { ...this.counters, ...this.desk.counters };
    for (const [s, n] of Object.entries(counts)) counters[`connections.${mapState(s as PoolMemberState)}`] = (counters[`connections.${mapState(s as PoolMemberState)}`] ?? 0) + n;
    counters["devices.noCredentials"] = devices.filter((d) => d.state === "noCredentials").length;
    counters["devices.removed"] = devices.filter((d) => d.state === "removed").length;
    return { platform: "huawei", connected: gw?.connected ?? false, downSince: gw ? gw.downSince : Date.now(), routes, devices, counters };
  }

  // ---------------------------------------------------------------- internals

  private compile(doc: TslDocument | undefined): CompiledTsl | undefined {
    if (!doc) return undefined;
    let c = this.compiledCache.get(doc);
    if (!c) {
      c = compileTsl(doc);
      this.compiledCache.set(doc, c);
    }
    return c;
  }

  private typesOf(route: RouteId): UplinkTypes {
    const doc = route === this.gateway.key ? this.gatewayDevice?.tsl : this.devices.get(route)?.device.tsl;
    return {
      serviceId: this.c.huawei.serviceId,
      property: (id) => doc?.properties?.find((p) => p.identifier === id)?.dataType,
      event: (id): TslDataType | undefined => {
        const e = doc?.events?.find((x) => x.identifier === id);
        return e ? { type: "struct", specs: e.outputData ?? [] } : undefined;
      },
    };
  }

  private addMember(key: RouteId, ident: Identity, priority = false): void {
    this.identities.set(key, ident);
    if (this.pool.has(key)) return;
    const c = this.c;
    const opts: MqttLinkOptions = {
      host: c.mqtt.host,
      port: c.mqtt.port,
      tls: c.mqtt.tls,
      ...(this.ca ? { ca: this.ca } : {}),
      ...(c.huawei.tlsServerName ? { servername: c.huawei.tlsServerName } : {}),
      keepaliveSeconds: c.mqtt.keepaliveSeconds,
      credentials: () => {
        const i = this.identities.get(key) ?? ident;
        return connectFields({ id: i.id, authType: i.authType, signType: c.huawei.signType, secret: i.secret, encoding: c.huawei.passwordEncoding, now: new Date() });
      },
      subscriptions: () => [commandTopic((this.identities.get(key) ?? ident).id)],
      reconnectMinMs: c.mqtt.reconnectMinSeconds * 1000,
      reconnectMaxMs: c.mqtt.reconnectMaxSeconds * 1000,
      credentialRefusals: new Set([1, 2, 4, 5]),
      refusalHint: "check the deviceId/nodeId and secret, and whether the device was deleted on the platform",
      logger: this.log.child({ device: ident.label }),
      quiet: true,
    };
    this.pool.add(key, { link: opts, priority });
  }

  /** Many device connections are logged as counts, at most every 5 s, not one line each. */
  private scheduleSummary(): void {
    if (this.summaryTimer || this.stopped) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      if (this.stopped) return;
      const c = this.pool.counts();
      this.log.info({ online: c.online, connecting: c.connecting + c.waiting, backoff: c.backoff, refused: c.refused, overLimit: c.overLimit }, "device connections");
    }, 5_000);
    this.summaryTimer.unref();
  }

  private onUp(id: RouteId): void {
    if (id === this.gateway.key) this.log.info("gateway device online");
    this.scheduleSummary();
    this.lastRefusal.delete(id);
    const e = this.devices.get(id);
    const rejoin = id === this.gateway.key ? this.gatewayEverOnline : e?.wasOnline ?? false;
    if (id === this.gateway.key) this.gatewayEverOnline = true;
    else if (e) e.wasOnline = true;
    this.core.presence(id, true);
    if (rejoin) this.core.deviceRejoined(id);
  }

  private onState(id: RouteId, state: PoolMemberState, reason: string | undefined): void {
    // A device waiting for a connection slot is not polled; it is again once it has a slot (or left the pool).
    if (id !== this.gateway.key && this.devices.has(id)) this.holds.set(id, "overLimit", state === "overLimit");
    if (state !== "refused" || reason === undefined || this.lastRefusal.get(id) === reason) return;
    this.lastRefusal.set(id, reason);
    const code = /CONNACK (\d+)/.exec(reason)?.[1];
    const label = this.identities.get(id)?.label ?? id;
    this.log.error({ device: label, reason }, `device ${label} refused (code ${code ?? "closed before CONNACK"})`);
  }

  private async respond(route: RouteId, payload: string): Promise<boolean> {
    const link = this.pool.link(route);
    const ident = this.identities.get(route);
    if (!link || !ident || !link.connected) {
      this.log.debug({ route }, "response not sent: connection down");
      return false;
    }
    return link.publish(dataTopic(ident.id), payload, 1).then(
      () => true,
      () => false,
    );
  }

  private removeTarget(t: RemoveTarget): DeviceKey | undefined {
    let key: DeviceKey | undefined;
    if ("deviceId" in t) {
      if (t.deviceId === this.c.gateway.deviceId) return undefined;
      key = [...this.credentialsByKey.entries()].find(([, s]) => s.deviceId === t.deviceId)?.[0];
    } else key = deviceKey(t.productKey, t.deviceName);
    if (!key || key === this.gateway.key) return undefined;
    return this.devices.has(key) ? key : undefined;
  }

  private async removeDevice(key: DeviceKey): Promise<void> {
    const e = this.devices.get(key);
    // A repeated REMOVE of a device already removed changes nothing.
    if (e?.parked === "removed") return;
    this.core.kv.set(REMOVED_PREFIX + key, { at: Date.now() });
    if (e) {
      e.parked = "removed";
      e.since = Date.now();
    }
    this.counters.removed++;
    this.log.info({ device: key }, "device removed by the platform's REMOVE command");
    this.holds.set(key, "removed", true);
    await this.pool.remove(key);
    // Holds it for the cloud as well and drops its waiting records (a removed device's backlog is never sent).
    this.cloudHeld.add(key);
    await this.core.lifecycle(key, "remove");
  }

  /** A pushed document was applied: every device it lists is bridged again, removed ones included. */
  private documentApplied(): void {
    const keys = this.core.kv.keys(REMOVED_PREFIX);
    if (keys.length === 0) return;
    for (const k of keys) this.core.kv.delete(k);
    const list = [...this.devices.values()].map((e) => e.device);
    for (const e of this.devices.values()) {
      if (e.parked !== "removed") continue;
      delete e.parked;
      this.releaseCloudHold(e.device.key);
    }
    this.setDevices(list);
  }

  /** Ends the core's own hold of a REMOVE in this run (core.lifecycle "remove"), so that nothing holds it for good. */
  private releaseCloudHold(key: DeviceKey): void {
    if (this.cloudHeld.delete(key)) void this.core.lifecycle(key, "resume");
  }

}

function unsent(seq: number, reason: string): RecordResult {
  return { seq, result: "unsent", reason };
}

/** Pool states in this platform's status names. */
function mapState(s: PoolMemberState): string {
  return s === "waiting" ? "connecting" : s;
}
