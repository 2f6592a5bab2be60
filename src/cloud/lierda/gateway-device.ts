/**
 * What only the gateway's own device does (lierda.md §8): the config channel (down_config / ask_config →
 * config_report), the firmware report with its resends, OTA notifications, and time sync.
 */

import type { Logger } from "pino";
import type { Core } from "../platform.js";
import type { LierdaConfig } from "./bootstrap.js";
import { envelopeJson, type MessageId } from "./envelope.js";
import { checkConfigSettings, clockOffset, configReportPayload, firmwareReportPayload, otaOffer, updateTimeJson, type ConfigReportState } from "./gateway-messages.js";
import type { Entry } from "./entries.js";
import { deviceTopics } from "./topics.js";

export interface GatewayDeviceContext {
  cfg: LierdaConfig;
  core: Core;
  log: Logger;
  /** Publishes on the gateway's connection; resolves on PUBACK, rejects when not connected. */
  publish(topic: string, json: string): Promise<void>;
  /** Field devices of the running document and how many are online; problems of devices without credentials. */
  fleet(): { devices: number; online: number; problems: string[] };
  firmwareVersion: string;
}

const RUNNING_SHA_KEY = "lierda.runningConfigSha256";
const FIRMWARE_RESENDS = 3;

export class GatewayDevice {
  /** Measured clock offset, ms (0 until a time reply). */
  offsetMs = 0;
  private fwWait: { id: number; timer: NodeJS.Timeout; left: number } | undefined;
  private timeWait: { id: number; sentAt: number } | undefined;
  private configBusy = false;

  constructor(private readonly e: Entry, private readonly ctx: GatewayDeviceContext) {}

  /** After every connect: firmware report and time sync (§8.3, §8.4). */
  online(): void {
    this.sendFirmwareReport(undefined, FIRMWARE_RESENDS);
    const id = this.e.ids.take();
    this.timeWait = { id, sentAt: Date.now() };
    this.ctx.publish(deviceTopics(this.e.id).updateTime, updateTimeJson(id)).catch(() => undefined);
  }

  offline(): void {
    if (this.fwWait) clearTimeout(this.fwWait.timer);
    this.fwWait = undefined;
    this.timeWait = undefined;
  }

  /** The firmware report; `replyTo` echoes an ask_firmware's id. Resent without a "200" ack (§8.4). */
  sendFirmwareReport(replyTo: MessageId | undefined, resends: number): void {
    const id = this.e.ids.take();
    const json = envelopeJson(replyTo ?? id, 8, firmwareReportPayload(this.ctx.cfg.lierda.hardwareVersion, this.ctx.firmwareVersion));
    this.ctx.publish(deviceTopics(this.e.id).firmwareReport, json).catch(() => undefined);
    if (replyTo !== undefined) return;
    if (this.fwWait) clearTimeout(this.fwWait.timer);
    const timer = setTimeout(() => {
      if (this.fwWait?.id !== id) return;
      this.fwWait = undefined;
      if (resends > 0) this.sendFirmwareReport(undefined, resends - 1);
      else this.ctx.log.warn("firmware report not acknowledged after 3 resends");
    }, this.ctx.cfg.mqtt.requestTimeoutSeconds * 1000);
    this.fwWait = { id, timer, left: resends };
  }

  firmwareAck(id: MessageId, code: string): void {
    if (!this.fwWait || String(this.fwWait.id) !== String(id) || code !== "200") return;
    clearTimeout(this.fwWait.timer);
    this.fwWait = undefined;
  }

  timeAck(id: MessageId | undefined, timestamp: number | undefined, code: string): void {
    const w = this.timeWait;
    if (!w || (id !== undefined && String(id) !== String(w.id)) || code !== "200" || timestamp === undefined) return;
    this.timeWait = undefined;
    const offset = clockOffset(timestamp, w.sentAt, Date.now());
    this.offsetMs = Math.abs(offset) > 2000 ? offset : 0;
    if (this.offsetMs) this.ctx.log.warn({ offsetMs: offset }, "the platform's clock differs from ours by more than 2 s; sample and connect times are corrected");
  }

  /** down_config on the gateway: download, check, apply (core), then config_report with the same MessageId (§8.1). */
  async downConfig(messageId: MessageId, rawSettings: unknown): Promise<void> {
    const settings = checkConfigSettings(rawSettings, this.ctx.cfg.download.allowHttp);
    if (!settings.ok) {
      this.ctx.log.warn({ reason: settings.reason }, "config push refused");
      return this.report(messageId, "rejected", [settings.reason]);
    }
    if (this.configBusy) return this.report(messageId, "rejected", ["another config push is being processed"]);
    this.configBusy = true;
    try {
      const outcome = await this.ctx.core.offerConfig({ url: settings.url, digest: settings.sha256, digestMethod: "sha256" });
      if (outcome.ok) {
        this.ctx.core.kv.set(RUNNING_SHA_KEY, settings.sha256);
        return this.report(messageId, "applied", []);
      }
      const state = outcome.stage === "download" || outcome.stage === "request" ? "download-failed" : "rejected";
      return this.report(messageId, state, [`${outcome.stage}: ${outcome.message}`, ...outcome.problems]);
    } finally {
      this.configBusy = false;
    }
  }

  askConfig(messageId: MessageId): Promise<void> {
    return this.report(messageId, this.runningSha() ? "applied" : "none", []);
  }

  /** ota_notify: ack at once with the DownID, then hand a new version to the core (§8.4). */
  async otaNotify(messageId: MessageId, downId: unknown, offer: Record<string, unknown>): Promise<void> {
    const ack = envelopeJson(messageId, 9, JSON.stringify({ DownID: downId ?? null }));
    await this.ctx.publish(deviceTopics(this.e.id).otaNotifyAck, ack).catch(() => undefined);
    const o = otaOffer(offer);
    if (!o.ok) return void this.ctx.log.warn({ reason: o.reason }, "OTA notification ignored");
    if (o.offer.version === this.ctx.firmwareVersion) return;
    if (o.offer.module !== undefined && o.offer.module !== "default") return void this.ctx.log.info({ module: o.offer.module }, "OTA for another module ignored");
    if (!o.offer.md5 || !/^[0-9A-Fa-f]{32}$/.test(o.offer.md5)) return void this.ctx.log.warn("OTA notification without a 32-hex MD5: not installed");
    const result = await this.ctx.core.offerFirmware(
      { version: o.offer.version, url: o.offer.url, ...(o.offer.size ? { size: o.offer.size } : {}), digest: o.offer.md5.toLowerCase(), digestMethod: "md5" },
      () => undefined,
    );
    if (!result.ok) this.ctx.log.warn({ step: result.step, reason: result.message }, "firmware update failed");
  }

  private runningSha(): string {
    const v = this.ctx.core.kv.get<unknown>(RUNNING_SHA_KEY);
    return typeof v === "string" && /^[0-9a-f]{64}$/.test(v) ? v : "";
  }

  private async report(messageId: MessageId, state: ConfigReportState["state"], errors: string[]): Promise<void> {
    const fleet = this.ctx.fleet();
    const payload = configReportPayload({
      state,
      runningSha256: this.runningSha(),
      errors: [...errors, ...fleet.problems].map(scrub),
      firmwareVersion: this.ctx.firmwareVersion,
      devices: fleet.devices,
      devicesOnline: fleet.online,
    });
    await this.ctx.publish(deviceTopics(this.e.id).configReport, envelopeJson(messageId, 14, payload)).catch((err: Error) => {
      this.ctx.log.warn({ err: err.message }, "config report not delivered");
    });
  }
}

/** The config report never carries a URL (a signed URL is a credential) or a 32-hex key (§8.1). */
function scrub(s: string): string {
  return s.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<url>").replace(/\b[0-9A-Fa-f]{32}\b/g, "<hidden>");
}

