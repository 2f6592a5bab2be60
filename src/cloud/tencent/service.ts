/**
 * The gateway's own service traffic: the gateway config document by file management `update_resource`
 * (tencent.md 7.2) and gateway OTA on `$ota/...` (section 9). Downloads, digests and applying belong to the core
 * (offerConfig / offerFirmware); here are the envelopes, the progress reports and the result codes. Messages and
 * reports never carry the download URL (a pre-signed URL is a credential).
 */
import type { Logger } from "pino";
import type { Core, FirmwareStep } from "../platform.js";
import type { MqttLink } from "../mqtt/link.js";
import { configFailureCode, type Obj, parseFirmwareUpdate, parseResourceUpdate } from "./downlink.js";
import { tencentTopics } from "./topics.js";

const KV_DOC = "tencent.document";
const KV_OTA = "tencent.otaTarget";

/** Text safe for a report: no URL, at most 200 characters. */
export function safeMessage(s: string): string {
  return s.replace(/\b(?:https?|mqtts?):\/\/\S+/gi, "<url>").slice(0, 200);
}

export class GatewayService {
  private chain: Promise<void> = Promise.resolve();
  private otaRunning: string | undefined;

  constructor(
    private readonly link: MqttLink,
    private readonly core: Core,
    private readonly gw: string,
    private readonly resourceName: string,
    private readonly allowHttp: boolean,
    private readonly log: Logger,
    private readonly nextToken: () => string,
    /** A pushed document was applied (the adapter clears `unbound` states and re-runs the topology). */
    private readonly applied: () => void,
  ) {}

  private pub(topic: string, body: unknown): Promise<void> {
    return this.link.publish(topic, JSON.stringify(body)).catch((err: Error) => this.log.warn({ topic, err: err.message }, "report not sent"));
  }

  /** After every connect: both version reports, and the OTA result of a restart into a new version. */
  async announce(): Promise<void> {
    const target = this.core.kv.get<string>(KV_OTA);
    if (target !== undefined) {
      this.core.kv.delete(KV_OTA);
      if (target === this.core.version) await this.otaProgress(target, "done", "0", "");
      else await this.otaProgress(target, "fail", "-5", `version after restart: ${this.core.version}`);
    }
    await this.pub(tencentTopics.otaReport(this.gw), { type: "report_version", report: { version: this.core.version } });
    await this.reportVersion();
  }

  async reportVersion(): Promise<void> {
    const doc = this.core.kv.get<{ name: string; version: string }>(KV_DOC);
    const report = doc ? { resource_name: doc.name, version: doc.version, resource_type: "FILE" } : { resource_list: [] };
    await this.pub(tencentTopics.serviceUp(this.gw), { method: "report_version", request_id: this.nextToken(), report });
  }

  private progress(method: "report_progress" | "report_result", name: string, version: string, state: string, code: string, msg: string, percent?: number): Promise<void> {
    const progress: Obj = { resource_name: name, state, ...(percent !== undefined ? { percent: String(percent) } : {}), result_code: code, result_msg: msg };
    return this.pub(tencentTopics.serviceUp(this.gw), { method, report: { progress, version } });
  }

  /** A message on `$thing/down/service/{gw}`. */
  onService(msg: Obj): void {
    const method = msg.method;
    if (method === "update_resource") {
      this.chain = this.chain.then(() => this.updateResource(msg)).catch((err: Error) => this.log.error({ err: err.message }, "update_resource failed"));
    } else if (method === "del_resource") {
      const name = typeof msg.resource_name === "string" ? msg.resource_name : this.resourceName;
      const version = typeof msg.version === "string" ? msg.version : "";
      if (name === this.resourceName) this.core.kv.delete(KV_DOC);
      void this.pub(tencentTopics.serviceUp(this.gw), { method: "del_result", report: { progress: { resource_name: name, state: "done", result_code: "0", result_msg: "" }, version } });
    } else if (method === "report_version_rsp") {
      if (msg.result_code !== 0 && msg.result_code !== "0") this.log.warn({ resultCode: msg.result_code }, "the platform refused the file version report");
    } else {
      this.log.info({ method: typeof method === "string" ? method.slice(0, 64) : typeof method }, "service notification ignored");
    }
  }

  private async updateResource(msg: Obj): Promise<void> {
    const p = parseResourceUpdate(msg, this.resourceName, this.allowHttp);
    if (!p) {
      this.log.warn("update_resource without resource_name or version ignored");
      return;
    }
    if (!p.ok) {
      this.log.warn({ resource: p.name.slice(0, 64), version: p.version.slice(0, 64), reason: p.reason }, "update_resource refused");
      await this.progress("report_result", p.name, p.version, "fail", "-6", p.reason);
      return;
    }
    const u = p.update;
    await this.progress("report_progress", u.name, u.version, "downloading", "0", "", 0);
    let lastReport = Date.now();
    const outcome = await this.core.offerConfig({
      url: u.url,
      digest: u.md5,
      digestMethod: "md5",
      size: u.size,
      version: u.version,
      progress: (percent) => {
        if (Date.now() - lastReport < 1000) return;
        lastReport = Date.now();
        void this.progress("report_progress", u.name, u.version, "downloading", "0", "", Math.max(0, Math.min(100, Math.floor(percent))));
      },
    });
    if (outcome.ok) {
      this.core.kv.set(KV_DOC, { name: u.name, version: u.version });
      // Part of applying: devices the cloud had unbound come back before the result is reported.
      this.applied();
      await this.progress("report_progress", u.name, u.version, "downloading", "0", "", 100);
      await this.progress("report_result", u.name, u.version, "done", "0", "success");
      this.log.info({ version: u.version }, "gateway config document applied");
      await this.reportVersion();
      return;
    }
    const code = configFailureCode(outcome.stage, outcome.message);
    const text = outcome.stage === "validation" || outcome.stage === "apply"
      ? `${outcome.problems.length}: ${outcome.problems[0] ?? outcome.message}`
      : outcome.message;
    this.log.warn({ version: u.version, stage: outcome.stage, code }, "gateway config document refused");
    await this.progress("report_result", u.name, u.version, "fail", code, safeMessage(text));
  }

  private otaProgress(version: string, state: string, code: string, msg: string, percent?: number): Promise<void> {
    const progress: Obj = { state, ...(percent !== undefined ? { percent: String(percent) } : {}), result_code: code, result_msg: safeMessage(msg) };
    return this.pub(tencentTopics.otaReport(this.gw), { type: "report_progress", report: { progress, version } });
  }

  /** A message on `$ota/update/{gw}`. */
  onOta(msg: Obj): void {
    const p = parseFirmwareUpdate(msg, this.allowHttp);
    if (!p) {
      this.log.warn("OTA message without a version ignored");
      return;
    }
    if (!p.ok) {
      void this.otaProgress(p.version, "fail", "-5", p.reason);
      return;
    }
    const u = p.update;
    if (u.version === this.core.version) {
      void this.otaProgress(u.version, "done", "0", "");
      return;
    }
    if (this.otaRunning !== undefined) {
      if (this.otaRunning !== u.version) void this.otaProgress(u.version, "fail", "-5", "busy");
      return;
    }
    this.otaRunning = u.version;
    void this.runOta(u).finally(() => { this.otaRunning = undefined; });
  }

  private async runOta(u: { version: string; url: string; md5: string; size: number }): Promise<void> {
    let last = 0;
    const progress = (step: FirmwareStep, percent: number) => {
      if (step === "install") { void this.otaProgress(u.version, "burning", "0", "", 100); return; }
      if (Date.now() - last < 1000) return;
      last = Date.now();
      void this.otaProgress(u.version, "downloading", "0", "", Math.floor(percent));
    };
    await this.otaProgress(u.version, "downloading", "0", "", 0);
    this.core.kv.set(KV_OTA, u.version);
    const out = await this.core.offerFirmware({ version: u.version, url: u.url, size: u.size, digest: u.md5, digestMethod: "md5" }, progress);
    if (out.ok) return; // the install command restarts the daemon; `announce` reports done after the restart
    this.core.kv.delete(KV_OTA);
    const code = out.step === "download" ? configFailureCode("download", out.message) : out.step === "verify" ? "-4" : "-5";
    await this.otaProgress(u.version, "fail", code, out.message);
  }
}
