/**
 * The gateway: builds every part, owns the start/stop order and applies config diffs.
 *
 *   drivers ──Sample──▶ things (TSL, report policy, batching) ──Uplink──▶ outbox (SQLite) ──▶ forwarder ──▶ link
 *   drivers ◀─write/call── downlink router ◀── link
 */
import type { Logger } from "pino";
import type { BootstrapConfig } from "../config/bootstrap/load.js";
import { AlinkConnection } from "../cloud/aliyun/connection.js";
import { SubDeviceManager } from "../cloud/aliyun/subdevices.js";
import { aliyunConfig } from "../cloud/aliyun/bootstrap.js";
import { topics, replyTopic, type Identity } from "../cloud/aliyun/topics.js";
import { openStore, type Store } from "../store/store.js";
import { Forwarder } from "../store/forwarder.js";
import { ThingsRuntime } from "../things/runtime.js";
import { FieldManager, loadDriver, type AsyncChannelFactory } from "../field/manager.js";
import { defaultFieldOptions } from "../field/driver.js";
import type { GatewayConfig, GatewayConfigDiff } from "../config/gateway/index.js";
import { GatewayConfigManager } from "./config-manager.js";
import { RecentUplinks } from "./redelivery.js";
import { DownlinkRouter } from "./downlinks.js";
import { buildMetrics } from "./status.js";
import { Metrics } from "../ops/metrics.js";
import { OtaManager } from "../ops/ota.js";
import { GatewayTelemetry } from "./telemetry.js";

export interface GatewayOptions {
  /** Replaces the built-in drivers (tests use a recording driver). */
  channelFactory?: AsyncChannelFactory;
}

export class Gateway {
  readonly identity: Identity;
  readonly gwKey: string;
  store!: Store;
  link!: AlinkConnection;
  subs!: SubDeviceManager;
  things!: ThingsRuntime;
  field!: FieldManager;
  forwarder!: Forwarder;
  configs!: GatewayConfigManager;
  router!: DownlinkRouter;
  ota!: OtaManager;
  telemetry!: GatewayTelemetry;
  readonly metrics = new Metrics();
  /** Uplinks acknowledged by the broker in the last minutes, put back into the outbox if the platform refuses them. */
  readonly recent = new RecentUplinks();
  readonly startedAt = Date.now();
  private started = false;

  constructor(readonly cfg: BootstrapConfig, readonly logger: Logger, private readonly opts: GatewayOptions = {}) {
    this.identity = { productKey: aliyunConfig(cfg).productKey, deviceName: aliyunConfig(cfg).deviceName };
    this.gwKey = `${this.identity.productKey}/${this.identity.deviceName}`;
  }

  /**
   * Starts every part. The last good gateway config is applied before the cloud connection is started;
   * `onLocalConfigApplied` is called at that point (systemd READY=1).
   */
  async start(onLocalConfigApplied?: () => void): Promise<void> {
    const cfg = this.cfg;
    const log = this.logger;
    this.store = openStore(cfg.dataDir, {
      logger: log, sync: cfg.store.sync,
      outbox: { maxBytes: cfg.store.maxBytes, maxAgeHours: cfg.store.maxAgeHours },
    });
    const ids = this.store.messageIds;
    this.link = new AlinkConnection({
      gateway: { ...this.identity, deviceSecret: aliyunConfig(cfg).deviceSecret },
      host: cfg.mqtt.host, port: cfg.mqtt.port, tls: cfg.mqtt.tls, caFile: cfg.mqtt.caFile,
      keepaliveSeconds: cfg.mqtt.keepaliveSeconds, signMethod: aliyunConfig(cfg).signMethod, clientId: aliyunConfig(cfg).clientId,
      reconnectMinMs: cfg.mqtt.reconnectMinSeconds * 1000, reconnectMaxMs: cfg.mqtt.reconnectMaxSeconds * 1000,
      requestTimeoutMs: cfg.mqtt.requestTimeoutSeconds * 1000,
      nextId: () => ids.next(), logger: log.child({ component: "link" }),
    });
    this.subs = new SubDeviceManager(this.link, this.store.secrets, cfg.subDevices, aliyunConfig(cfg).sessions, log.child({ component: "sessions" }));
    this.things = new ThingsRuntime({
      gateway: this.identity, logger: log.child({ component: "things" }), windowMs: cfg.uplink.batchWindowMs,
      nextId: () => ids.next(), isOnline: (key) => this.subs.isOnline(key),
      emit: (uplinks) => this.store.outbox.append(uplinks),
      onFieldHealth: (key, online, reason) => this.subs.setFieldHealth(key, online, reason),
    });
    this.forwarder = new Forwarder({
      outbox: this.store.outbox,
      publisher: {
        publish: async (topic, payload, entry) => {
          await this.link.publish(topic, payload, 1);
          this.recent.remember(entry);
        },
      },
      canSend: (devices) => this.link.connected && devices.every((d) => d === this.gwKey || this.subs.isOnline(d)),
      logger: log.child({ component: "forwarder" }),
      window: cfg.store.inFlight, replayRatePerSec: cfg.store.replayRatePerSecond,
    });
    this.field = new FieldManager(this.things, {
      logger: log.child({ component: "field" }), dataDir: cfg.dataDir,
      options: { ...defaultFieldOptions, ...cfg.field },
    }, this.opts.channelFactory ?? loadDriver);
    const download = { caFile: cfg.download.caFile, allowHttp: cfg.download.allowHttp, timeoutMs: cfg.download.timeoutSeconds * 1000 };
    this.configs = new GatewayConfigManager({
      dataDir: cfg.dataDir,
      parse: { serialPorts: cfg.serialPorts, gatewayDeviceSecret: aliyunConfig(cfg).deviceSecret },
      download: { ...download, maxBytes: cfg.download.maxBytes },
      logger: log.child({ component: "config" }),
      apply: (next, diff) => this.applyConfig(next, diff),
    });
    this.ota = new OtaManager({
      link: this.link, gateway: this.identity, version: cfg.gateway.firmwareVersion, dataDir: cfg.dataDir,
      download,
      installCommand: cfg.ota.installCommand, maxBytes: cfg.ota.maxBytes,
      nextId: () => ids.next(), logger: log.child({ component: "ota" }),
    });
    this.ota.start();
    this.telemetry = new GatewayTelemetry(this, cfg.telemetry.intervalSeconds * 1000);
    this.router = new DownlinkRouter(this.link, this.identity, this.things, this.field, this.subs, {
      configPush: (topic, msg) => void this.configs.handlePush(msg, (code, data, message) => this.link.reply(replyTopic(topic), msg?.["id"], code, data, message)),
      lifecycle: (key, action) => this.lifecycle(key, action),
      refused: (msgId, code) => this.requeue(msgId, code),
      ota: (topic, msg) => this.ota.handle(topic, msg),
    }, log.child({ component: "downlink" }));

    this.subs.on("online", (key) => {
      // After a re-login, trigger-2 points report their current value again (C16); the first login needs no
      // reset: the values sampled before it wait in the outbox.
      if ((this.subs.state(key)?.loginCount ?? 0) > 1) this.things.resetReporting(key);
      this.forwarder.wake();
    });
    this.subs.on("offline", () => this.forwarder.wake());
    this.link.on("connected", () => this.forwarder.wake());
    this.link.on("disconnected", () => this.forwarder.wake());
    this.link.on("message", (topic, msg) => this.router.handle(topic, msg));
    buildMetrics(this);
    this.started = true;

    // The cloud link does not wait for the local config (loading a driver such as OPC UA takes a second); the
    // sessions learn the configured sub-devices when it is applied.
    this.link.start();
    this.forwarder.start();
    await this.configs.loadPersisted();
    onLocalConfigApplied?.();
    this.telemetry.start();
    log.info({ gateway: this.gwKey, host: cfg.mqtt.host, port: cfg.mqtt.port, tls: cfg.mqtt.tls, dataDir: cfg.dataDir }, "fieldbridge started");
  }

  private async applyConfig(next: GatewayConfig, diff: GatewayConfigDiff): Promise<void> {
    const changedChannels = new Set(diff.channels.filter((c) => c.kind === "changed").map((c) => c.serverId));
    const changedDevices = new Set(diff.devices.filter((d) => d.kind === "changed").map((d) => d.key));
    this.things.setConfig(next);
    // Sessions learn the devices before the drivers start: a device may answer its first poll at once.
    this.subs.setConfigured(next.devices);
    await this.field.apply(next, changedChannels, changedDevices);
    for (const key of changedDevices) this.things.resetReporting(key);
  }

  /** The platform refused an acknowledged uplink for a reason that a later attempt can fix: send it again. */
  private requeue(msgId: string, code: number): void {
    const item = this.recent.take(msgId);
    if (!item) {
      this.logger.warn({ msgId, code }, "the platform refused an uplink after delivery; it cannot be sent again");
      return;
    }
    this.store.outbox.append([item]);
    this.logger.info({ msgId, code, topic: item.topic }, "uplink refused by the platform after delivery; queued again");
  }

  private async lifecycle(key: string, action: "disable" | "enable" | "delete"): Promise<void> {
    if (action === "enable") {
      this.field.resume(key);
      await this.subs.enable(key);
      return;
    }
    await this.field.suspend(key);
    if (action === "disable") await this.subs.disable(key);
    else await this.subs.deleted(key);
  }

  /** Stops in reverse start order; bounded by `deadlineMs` overall. */
  async stop(deadlineMs = 8000): Promise<void> {
    if (!this.started) return;
    this.started = false;
    const t0 = Date.now();
    const left = () => Math.max(200, deadlineMs - (Date.now() - t0));
    const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, left()).unref())]);
      } catch (err) {
        this.logger.warn({ step: name, err: (err as Error).message }, "shutdown step failed");
      }
    };
    this.telemetry.stop();
    await step("field", () => this.field.stop());
    await step("things", () => this.things.stop());
    await step("outbox", () => this.store.outbox.flush());
    await step("sessions", () => this.subs.stop(Math.min(3000, left())));
    await step("forwarder", () => this.forwarder.stop(Math.min(2000, left())));
    await step("ota", () => this.ota?.stop());
    await step("link", () => this.link.stop());
    await step("store", () => this.store.close());
    this.logger.info({ ms: Date.now() - t0 }, "fieldbridge stopped");
  }
}

export { topics };
