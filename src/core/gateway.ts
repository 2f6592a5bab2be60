/**
 * The gateway: builds every part, owns the start/stop order and applies config diffs. It speaks no wire protocol:
 * the cloud adapter of `gateway.platform` does, behind the north interface (cloud/platform.ts).
 *
 *   field/ ──Sample──▶ things/ (TSL, report policy, batching) ──record──▶ store/ outbox ──drains per route──▶ cloud/<platform>
 *   field/ ◀─write/call── core/commands (TSL check) ◀──CloudRequest── cloud/<platform>
 */
import type { Logger } from "pino";
import type { BootstrapConfig } from "../config/bootstrap/load.js";
import type { GatewayConfig, GatewayConfigDiff } from "../config/gateway/index.js";
import { loadPlatform } from "../cloud/index.js";
import { documentCheck } from "../cloud/bootstraps.js";
import type { CloudRequest, ConfigOffer, ConfigStage, Core, DeviceKey, FirmwareOffer, FirmwareOutcome, FirmwareStep, LifecycleAction, Outcome, PlatformAdapter, RouteId } from "../cloud/platform.js";
import { openStore, type Store } from "../store/store.js";
import { Drains } from "../store/drains.js";
import { ThingsRuntime } from "../things/runtime.js";
import { FieldManager, loadDriver, type AsyncChannelFactory } from "../field/manager.js";
import { defaultFieldOptions } from "../field/driver.js";
import { Metrics } from "../ops/metrics.js";
import { packageVersion } from "../ops/version.js";
import { GatewayConfigManager } from "./config-manager.js";
import { Commands } from "./commands.js";
import { installFirmware } from "./firmware.js";
import { GatewayTelemetry } from "./telemetry.js";
import { buildMetrics } from "./metrics.js";
import type { DeliveryReading, GatewayView, OutboxReading } from "./view.js";
import type { ConfigStatus } from "./config-manager.js";
import type { PlatformStatus } from "../cloud/platform.js";
import type { ChannelStats } from "../field/driver.js";
import type { TslValue } from "../things/tsl-value.js";
import type { CompiledTsl } from "../things/tsl.js";
import { RemoteSettings, type RemoteSettingsStatus } from "./remote-settings.js";
import { CloudTslManager, TSL_HOLD, type CloudTslStatus } from "./cloud-tsl.js";
import { TslCache } from "../store/tsl-cache.js";
import { cloudTslProblems } from "../config/gateway/cloud-tsl.js";
import { loadGatewayDocument } from "../config/gateway/index.js";
import { FoundInbox } from "./found-inbox.js";

export interface GatewayOptions {
  /** Replaces the built-in drivers (tests use a recording driver). */
  channelFactory?: AsyncChannelFactory;
}

export class Gateway implements GatewayView {
  store!: Store;
  cloud!: PlatformAdapter;
  things!: ThingsRuntime;
  field!: FieldManager;
  drains!: Drains;
  configs!: GatewayConfigManager;
  commands!: Commands;
  telemetry!: GatewayTelemetry;
  cloudTsl!: CloudTslManager;
  /** Reports of `fieldbridge scan --report` dropped into the data dir. */
  found!: FoundInbox;
  readonly metrics = new Metrics();
  readonly startedAt = Date.now();
  readonly version: string;
  /** The bootstrap file with the persisted remote settings over it: what the parts are built from. */
  readonly cfg: BootstrapConfig;
  readonly remote: RemoteSettings;
  private started = false;
  private stopMetrics: () => void = () => undefined;

  constructor(bootstrap: BootstrapConfig, readonly logger: Logger, private readonly opts: GatewayOptions = {}) {
    const d = bootstrap.download;
    this.remote = new RemoteSettings({ bootstrap, logger, download: { caFile: d.caFile, allowHttp: d.allowHttp, timeoutMs: d.timeoutSeconds * 1000 } });
    const cfg = (this.cfg = this.remote.effective);
    if (cfg.log.level !== bootstrap.log.level) logger.level = cfg.log.level;
    this.version = cfg.gateway.firmwareVersion ?? packageVersion();
  }

  /**
   * Starts every part. The cloud link starts first (connecting takes a while and does not depend on the config);
   * the last good gateway config is then applied locally, before any data can be sent, and
   * `onLocalConfigApplied` is called at that point (systemd READY=1).
   */
  async start(onLocalConfigApplied?: () => void): Promise<void> {
    const cfg = this.cfg;
    const log = this.logger;
    this.store = openStore(cfg.dataDir, {
      logger: log, sync: cfg.store.sync,
      records: { maxBytes: cfg.store.maxBytes, maxAgeHours: cfg.store.maxAgeHours },
    });
    const platform = await loadPlatform(cfg.gateway.platform);
    this.cloud = platform.createAdapter(cfg, this.coreFor(log));
    const checkDocument = documentCheck(cfg);
    const parseContext = () => ({ serialPorts: cfg.serialPorts, gatewayDeviceSecret: this.cloud.documentSecret() ?? "", ...this.cloudTsl.parseContext(), ...(checkDocument ? { checkDocument } : {}) });
    const tslCache = new TslCache(this.store.kv);
    this.cloudTsl = new CloudTslManager({
      cache: tslCache, logger: log.child({ component: "cloud-tsl" }),
      fetch: this.cloud.fetchTsl?.bind(this.cloud),
      onlineDevices: (pk) => this.cloud.status().devices.filter((d) => d.online && d.device.startsWith(`${pk}/`)).map((d) => d.device),
      hold: (device, held) => this.hold(device, TSL_HOLD, held),
      check: (pk, tsl) => {
        const doc = this.configs.document;
        if (!doc) return ["$: no gateway config is applied"];
        return cloudTslProblems(pk, tsl, tslCache.all(), (models) => loadGatewayDocument(doc, { ...parseContext(), fetchTsl: true, cloudTsls: models }).problems);
      },
      reapply: () => this.configs.reapply(),
    });
    this.things = new ThingsRuntime({
      logger: log.child({ component: "things" }), windowMs: cfg.uplink.batchWindowMs,
      emit: (records) => this.store.records.append(records),
      onFieldHealth: (key, online, reason) => this.cloud.fieldHealth(key, online, reason),
    });
    this.drains = new Drains({
      outbox: this.store.records, target: this.cloud,
      logger: log.child({ component: "drains" }), window: cfg.store.inFlight, replayRatePerSec: cfg.store.replayRatePerSecond,
    });
    this.field = new FieldManager(this.things, {
      logger: log.child({ component: "field" }), dataDir: cfg.dataDir,
      options: { ...defaultFieldOptions, ...cfg.field },
    }, this.opts.channelFactory ?? loadDriver);
    this.commands = new Commands({
      tslOf: (device) => {
        const pk = this.things.productOf(device);
        return pk ? this.things.tsl(pk) : undefined;
      },
      latest: (device) => this.things.latest(device),
      write: (device, values) => this.field.write(device, values),
      call: (device, service, inputs) => this.field.call(device, service, inputs),
    }, log.child({ component: "commands" }));
    this.configs = new GatewayConfigManager({
      dataDir: cfg.dataDir,
      localFile: cfg.gatewayConfig?.file,
      parse: parseContext,
      download: { caFile: cfg.download.caFile, allowHttp: cfg.download.allowHttp, timeoutMs: cfg.download.timeoutSeconds * 1000, maxBytes: cfg.download.maxBytes },
      logger: log.child({ component: "config" }),
      apply: (next, diff) => this.applyConfig(next, diff),
    });
    this.telemetry = new GatewayTelemetry(this, (p) => this.things.batcher.addProperty(p), cfg.telemetry.intervalSeconds * 1000);
    this.stopMetrics = buildMetrics(this, this.metrics, this.cloud.deviceStates);
    this.remote.setAppliers({
      "log.level": (level: Logger["level"]) => void (log.level = level),
      "uplink.batchWindowMs": (ms: number) => this.things.batcher.setWindowMs(ms),
      "telemetry.intervalSeconds": (s: number) => this.telemetry.setIntervalMs(s * 1000),
    });
    this.started = true;

    this.cloud.start();
    this.drains.start();
    this.found = new FoundInbox(cfg.dataDir, this.cloud, log.child({ component: "discovery" }));
    this.found.start();
    await this.configs.loadPersisted();
    onLocalConfigApplied?.();
    this.telemetry.start();
    log.info({ platform: this.cloud.name, gateway: this.cloud.gateway.key, host: cfg.mqtt.host, port: cfg.mqtt.port, tls: cfg.mqtt.tls, dataDir: cfg.dataDir }, "fieldbridge started");
  }

  /** What the adapter may use of the core. */
  private coreFor(log: Logger): Core {
    const cfg = this.cfg;
    return {
      logger: log,
      metrics: this.metrics,
      secrets: this.store.secrets,
      kv: this.store.kv,
      dataDir: cfg.dataDir,
      version: this.version,
      nextId: () => this.store.messageIds.next(),
      request: (r: CloudRequest): Promise<Outcome> => this.commands.run(r),
      offerConfig: (o: ConfigOffer) => this.configs.offer(o),
      rejectConfig: (stage: ConfigStage, message: string) => this.configs.reject(stage, message),
      offerSettings: (o: ConfigOffer) => this.remote.offer(o),
      offerFirmware: (o: FirmwareOffer, progress: (step: FirmwareStep, percent: number) => void): Promise<FirmwareOutcome> =>
        installFirmware(o, progress, {
          dataDir: cfg.dataDir, installCommand: cfg.ota.installCommand, maxBytes: cfg.ota.maxBytes,
          download: { caFile: cfg.download.caFile, allowHttp: cfg.download.allowHttp, timeoutMs: cfg.download.timeoutSeconds * 1000 },
          logger: log.child({ component: "ota" }),
        }),
      lifecycle: (device: DeviceKey, action: LifecycleAction) => this.lifecycle(device, action),
      hold: (device: DeviceKey, cause: string, held: boolean) => void this.hold(device, cause, held),
      presence: (route: RouteId, up: boolean) => {
        this.drains.presence(route, up);
        this.cloudTsl?.wake();
      },
      deviceRejoined: (device: DeviceKey) => this.things.resetReporting(device),
    };
  }

  private async applyConfig(next: GatewayConfig, diff: GatewayConfigDiff): Promise<void> {
    const changedChannels = new Set(diff.channels.filter((c) => c.kind === "changed").map((c) => c.serverId));
    const changedDevices = new Set(diff.devices.filter((d) => d.kind === "changed").map((d) => d.key));
    await this.cloudTsl.beforeApply(next);
    this.things.setConfig(next);
    // The platform learns the devices before the drivers start: a device may answer its first poll at once.
    this.cloud.setDevices(next.devices.map((d) => ({ key: d.key, productKey: d.productKey, deviceName: d.deviceName, tsl: next.products[d.productKey], spec: d })));
    await this.field.apply(next, changedChannels, changedDevices);
    for (const key of changedDevices) this.things.resetReporting(key);
    // A device removed from the document takes its waiting records with it (counted), so nothing waits forever.
    for (const d of diff.devices) {
      if (d.kind !== "removed") continue;
      const dropped = this.store.records.dropDevice(d.key);
      this.drains.forget(d.key);
      if (dropped) this.logger.info({ device: d.key, dropped }, "device removed from the gateway config: its waiting records are dropped");
    }
    await this.cloudTsl.afterApply(next);
  }

  /**
   * The cloud suspended, resumed or removed a device: the field side (the adapter handles its sessions). A removed
   * device is no longer polled and its waiting records go (counted); a document applied later does not poll it again
   * until the adapter releases it.
   */
  private async lifecycle(device: DeviceKey, action: LifecycleAction): Promise<void> {
    await this.hold(device, "cloud", action !== "resume");
    if (action !== "remove") return;
    const dropped = this.store.records.dropDevice(device);
    this.drains.forget(device);
    if (dropped) this.logger.info({ device, dropped }, "device removed by the cloud: its waiting records are dropped");
  }

  /** Not polled while any cause holds it (the cloud's suspend, an adapter's lasting refusal, …). */
  private async hold(device: DeviceKey, cause: string, held: boolean): Promise<void> {
    try {
      if (await this.field.hold(device, cause, held)) this.logger.info({ device, cause }, held ? "device held: not polled" : "device released: polled again");
    } catch (err) {
      this.logger.warn({ device, cause, err: (err as Error).message }, "holding a device failed");
    }
  }

  // ---- GatewayView ----

  get unhealthyAfterMs(): number {
    return this.cfg.http.unhealthyAfterSeconds * 1000;
  }

  get endpoint(): { host: string; port: number; tls: boolean } {
    return { host: this.cfg.mqtt.host, port: this.cfg.mqtt.port, tls: this.cfg.mqtt.tls };
  }

  gatewayDevice(): { key: string; productKey: string; deviceName: string } {
    return this.cloud.gateway;
  }

  cloudStatus(): PlatformStatus {
    return this.cloud.status();
  }

  configStatus(): ConfigStatus {
    return this.configs.status();
  }

  remoteSettings(): RemoteSettingsStatus {
    return this.remote.status();
  }

  cloudTslStatus(): CloudTslStatus[] {
    return this.cloudTsl.status();
  }

  configFailing(): boolean {
    return this.configs.failing;
  }

  appliedConfig(): GatewayConfig | null {
    return this.configs.config;
  }

  outbox(): OutboxReading {
    const s = this.store.records.stats();
    return {
      depth: s.depth, bytes: s.bytes, oldestAgeMs: s.oldestAgeMs, inFlight: s.inFlight, writable: s.writable,
      dropped: {
        size: s.droppedForSize, age: s.droppedForAge, write_failed: s.droppedWriteFailed,
        refused: s.droppedRefused, rejected: s.droppedRejected, removed: s.droppedRemoved, expired: s.droppedExpired,
      },
    };
  }

  delivery(): DeliveryReading {
    const s = this.drains.stats();
    return { published: s.messages, acked: s.acked, failed: s.failed, replayed: s.replayed };
  }

  channels(): Array<ChannelStats & { name: string }> {
    return this.field.stats();
  }

  channelErrors(): Record<string, string> {
    return this.field.channelErrors();
  }

  channelHealth(serverId: string): { up: boolean; reason?: string; since: number } | undefined {
    return this.things.channelHealthOf(serverId);
  }

  latest(device: string): Map<string, { value: TslValue; time: number }> {
    return this.things.latest(device);
  }

  lastSampleAt(device: string): number {
    return this.things.lastSampleAt(device);
  }

  thingsCounters(): { samples: number; reported: number; dropped: number } {
    const r = this.things.report.counters();
    return { samples: this.things.counters.samples, reported: r.reported, dropped: r.dropped };
  }

  commandCounters(): { requests: number; refused: number; failed: number } {
    return { ...this.commands.counters };
  }

  configCounters(): { pushes: number; applied: number; rejected: number } {
    return { ...this.configs.counters };
  }

  gatewayTsl(): { key: string; tsl: CompiledTsl } | undefined {
    const own = this.cloud.gateway;
    const tsl = this.things.tsl(own.productKey);
    return tsl ? { key: own.key, tsl } : undefined;
  }

  /** Stops in reverse start order; bounded by `deadlineMs` overall. */
  async stop(deadlineMs = 8000): Promise<void> {
    if (!this.started) return;
    this.started = false;
    const t0 = Date.now();
    const left = () => Math.max(200, deadlineMs - (Date.now() - t0));
    // The steps before the cloud's leave it this much of the deadline: logouts, offline messages and DISCONNECTs
    // must go out even when stopping the field side was slow.
    const CLOUD_RESERVE_MS = 3000;
    const beforeCloud = () => Math.max(200, left() - CLOUD_RESERVE_MS);
    const step = async (name: string, fn: () => Promise<unknown> | unknown, bound = left) => {
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, bound()).unref())]);
      } catch (err) {
        this.logger.warn({ step: name, err: (err as Error).message }, "shutdown step failed");
      }
    };
    this.telemetry.stop();
    this.cloudTsl.stop();
    this.found?.stop();
    this.stopMetrics();
    await step("field", () => this.field.stop(), beforeCloud);
    await step("things", () => this.things.stop(), beforeCloud);
    await step("outbox", () => this.store.records.flush(), beforeCloud);
    await step("drains", () => this.drains.stop(Math.min(2000, beforeCloud())), beforeCloud);
    await step("cloud", () => this.cloud.stop(Math.min(5000, left())));
    await step("store", () => this.store.close());
    this.logger.info({ ms: Date.now() - t0 }, "fieldbridge stopped");
  }
}
