/**
 * Firmware update of the gateway itself (alink.md 3.19): reports the running version on every connect,
 * asks once per start whether an upgrade is pending, and carries out an upgrade notice: download to
 * `dataDir/ota/` (streamed, size-capped, HTTPS verified as for config pushes), verify the checksum, hand
 * the file to `ota.installCommand`, report progress on the way. Success is judged by the cloud from the
 * version reported after the installer restarted the service.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { packageVersion } from "../../ops/version.js";
import type { Logger } from "pino";
import type { AlinkConnection, AlinkMessage } from "./connection.js";
import { topics, type Identity } from "./topics.js";
import { DownloadError, downloadToFile, redactUrl } from "../../config/gateway/download.js";
import { runInstaller } from "../../ops/ota-install.js";
import { digestMatches, downloadStep, hashName, otaCode, parseFirmwareNotice, type FailureStep, type FirmwareNotice } from "./ota-notice.js";

export interface OtaDownloadOptions {
  /** `download.caFile`: the only CA trusted for the firmware server. */
  caFile?: string;
  /** `download.allowHttp`. */
  allowHttp: boolean;
  /** `download.timeoutSeconds` × 1000: a download with no byte for this long fails. */
  timeoutMs: number;
}

export interface OtaManagerOptions {
  link: AlinkConnection;
  gateway: Identity;
  /** `gateway.firmwareVersion`; default: the package version. */
  version?: string;
  dataDir: string;
  download: OtaDownloadOptions;
  /** `ota.installCommand`: argv; the downloaded file path is appended. Absent → upgrades are refused ("-1"). */
  installCommand?: readonly string[];
  /** `ota.maxBytes`: the largest firmware file accepted. */
  maxBytes: number;
  logger: Logger;
  /** Message ids (digits, increasing). Default: a counter seeded from the clock. */
  nextId?: () => string;
  /** Default 15 min. */
  installTimeoutMs?: number;
  /** Upper bound of one download attempt, however steady. Default 1 h. */
  downloadTimeoutMs?: number;
  /** Progress is reported at least every 10 % or after this long. Default 2 s. */
  progressIntervalMs?: number;
}

export interface OtaStatus {
  version: string;
  /** The upgrade being carried out, if any. */
  upgrading?: { version: string; phase: "download" | "install"; step: number };
  /** Installed in this run, waiting for the restart that reports it. */
  installed?: string;
}

interface Job {
  version: string;
  phase: "download" | "install";
  step: number;
  abort: AbortController;
  done: Promise<void>;
}


export class OtaManager {
  readonly version: string;
  private readonly dir: string;
  private readonly log: Logger;
  private started = false;
  private requested = false;
  private informedOnce = false;
  private warnedNoInstaller = false;
  private job: Job | undefined;
  private installed: string | undefined;
  private seq = Date.now() * 1000;
  readonly counters = { pushes: 0, upgrades: 0, failures: 0, ignored: 0 };

  constructor(private readonly o: OtaManagerOptions) {
    this.version = o.version ?? packageVersion();
    this.dir = join(o.dataDir, "ota");
    this.log = o.logger;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // A file left by an upgrade interrupted by a crash or power cut is never resumed.
    rmSync(this.dir, { recursive: true, force: true });
    this.o.link.on("connected", this.onConnected);
    if (this.o.link.connected) this.onConnected();
  }

  /** Cancels a running download. A running installer is left alone: interrupting a flash is worse. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.o.link.off("connected", this.onConnected);
    const job = this.job;
    if (!job) return;
    if (job.phase === "install") {
      this.log.warn({ version: job.version }, "stopping while the firmware installer runs; it is left to finish");
      return;
    }
    job.abort.abort();
    await job.done;
  }

  status(): OtaStatus {
    const j = this.job;
    return {
      version: this.version,
      ...(j ? { upgrading: { version: j.version, phase: j.phase, step: j.step } } : {}),
      ...(this.installed ? { installed: this.installed } : {}),
    };
  }

  /** For the downlink router: `/ota/device/upgrade/…` pushes and answers on `/ota/device/request/…`. */
  handle(topic: string, msg: AlinkMessage | null): void {
    if (!this.started) return;
    const gw = this.o.gateway;
    const isRequest = topic === topics.otaRequest(gw);
    if (!isRequest && topic !== topics.otaUpgrade(gw)) return;
    if (!msg) {
      this.log.warn({ topic }, "malformed OTA message (not a JSON object); ignored");
      return;
    }
    const code = otaCode(msg);
    // The request topic also carries our own request back (we subscribe to it for the answer).
    if (code === undefined) return;
    if (code === "500" && isRequest) {
      this.log.debug({ message: msg["message"] }, "no firmware upgrade pending");
      return;
    }
    if (code !== "1000") {
      this.log.warn({ topic, code, message: msg["message"] }, "OTA message with an unexpected code; ignored");
      return;
    }
    this.counters.pushes++;
    this.offer(msg["data"], isRequest ? "request" : "push");
  }

  private readonly onConnected = (): void => {
    void this.send(topics.otaInform(this.o.gateway), { version: this.version }).then((sent) => {
      if (!sent) return;
      if (!this.informedOnce) this.log.info({ version: this.version }, "firmware version reported");
      this.informedOnce = true;
    });
    if (this.requested) return;
    this.requested = true;
    void this.send(topics.otaRequest(this.o.gateway), { version: this.version }).then((sent) => {
      // Not sent (the link dropped at once): ask again on the next connect.
      if (!sent) this.requested = false;
    });
  };

  private offer(data: unknown, source: "push" | "request"): void {
    const checked = parseFirmwareNotice(data);
    if (!checked.ok) {
      this.counters.failures++;
      this.log.warn({ source, reason: checked.reason }, "firmware upgrade notice refused");
      this.progress(checked.step, checked.reason);
      return;
    }
    const n = checked.notice;
    const ctx = { source, version: n.version, url: redactUrl(n.url) };
    if (this.job) {
      this.counters.ignored++;
      this.log.warn({ ...ctx, running: this.job.version }, "firmware upgrade already in progress; notice ignored");
      return;
    }
    if (n.version === this.version) {
      this.counters.ignored++;
      this.log.info(ctx, "offered firmware is the running version; reporting it again");
      void this.send(topics.otaInform(this.o.gateway), { version: this.version });
      return;
    }
    if (n.version === this.installed) {
      this.counters.ignored++;
      this.log.info(ctx, "offered firmware is already installed and waits for the service restart; notice ignored");
      return;
    }
    if (!this.o.installCommand?.length) {
      this.counters.failures++;
      const reason = "firmware upgrade is not enabled on this gateway (ota.installCommand is not configured)";
      if (!this.warnedNoInstaller) this.log.warn(ctx, `${reason}; upgrade refused`);
      else this.log.debug(ctx, "upgrade refused: no ota.installCommand");
      this.warnedNoInstaller = true;
      this.progress("-1", reason);
      return;
    }
    if (n.size !== undefined && n.size > this.o.maxBytes) {
      this.counters.failures++;
      const reason = `firmware of ${n.size} bytes exceeds ota.maxBytes (${this.o.maxBytes})`;
      this.log.warn(ctx, `firmware upgrade refused: ${reason}`);
      this.progress("-2", reason);
      return;
    }
    const job: Job = { version: n.version, phase: "download", step: 0, abort: new AbortController(), done: Promise.resolve() };
    this.job = job;
    job.done = this.upgrade(n, job)
      .catch((err: Error) => {
        this.counters.failures++;
        this.log.error({ ...ctx, err: err.message }, "firmware upgrade failed");
        this.progress("-1", `upgrade failed: ${err.message}`);
      })
      .finally(() => {
        if (this.job === job) this.job = undefined;
      });
  }

  private async upgrade(n: FirmwareNotice, job: Job): Promise<void> {
    const ctx = { version: n.version, url: redactUrl(n.url) };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // Named here, never after the URL: nothing from the cloud reaches the file system or a command line.
    const file = join(this.dir, `firmware-${Date.now()}-${randomBytes(4).toString("hex")}.bin`);
    this.log.info({ ...ctx, size: n.size }, "firmware upgrade started");
    try {
      job.step = 1;
      this.progress("1", `downloading firmware ${n.version}`);
      const every = this.o.progressIntervalMs ?? 2000;
      let lastAt = Date.now();
      let result;
      try {
        result = await downloadToFile(n.url, file, {
          caFile: this.o.download.caFile,
          allowHttp: this.o.download.allowHttp,
          maxBytes: this.o.maxBytes,
          idleTimeoutMs: this.o.download.timeoutMs,
          timeoutMs: this.o.downloadTimeoutMs ?? 3_600_000,
          retries: 2,
          retryBudgetMs: 10 * 60_000,
          hash: hashName(n.signMethod),
          signal: job.abort.signal,
          onProgress: (received, declared) => {
            const step = downloadStep(received, n.size ?? declared);
            const now = Date.now();
            if (step <= job.step || (step - job.step < 10 && now - lastAt < every)) return;
            job.step = step;
            lastAt = now;
            this.progress(String(step), "downloading");
          },
        });
      } catch (err) {
        // After an abort the error may be the one of an attempt whose retry was cancelled.
        const reason = job.abort.signal.aborted ? "download interrupted: the gateway is shutting down" : (err as DownloadError).message;
        return this.fail("-2", reason, ctx);
      }
      if (n.size !== undefined && result.bytes !== n.size) {
        return this.fail("-3", `size mismatch: got ${result.bytes} bytes, the notice says ${n.size}`, ctx);
      }
      if (!digestMatches(n.digest, result.digest ?? "")) {
        return this.fail("-3", `${n.signMethod} checksum mismatch`, { ...ctx, expected: n.digest, actual: result.digest });
      }
      if (job.abort.signal.aborted) return this.fail("-1", "not installed: the gateway is shutting down", ctx);
      job.phase = "install";
      this.progress("99", `firmware ${n.version} verified; installing`);
      const installed = await runInstaller({
        command: this.o.installCommand!,
        file,
        timeoutMs: this.o.installTimeoutMs ?? 15 * 60_000,
        cwd: this.dir,
      });
      if (!installed.ok) return this.fail("-4", installed.reason, { ...ctx, output: installed.output });
      this.installed = n.version;
      this.counters.upgrades++;
      this.progress("100", `firmware ${n.version} installed; the new version is reported after restart`);
      this.log.info(ctx, "firmware installed; the new version will be reported when the service has restarted");
    } finally {
      await rm(file, { force: true }).catch((err: Error) => this.log.warn({ err: err.message }, "could not remove the firmware file"));
    }
  }

  private fail(step: FailureStep, reason: string, ctx: Record<string, unknown>): void {
    this.counters.failures++;
    this.log.error({ ...ctx, step, reason }, "firmware upgrade failed");
    this.progress(step, reason);
  }

  private progress(step: string, desc: string): void {
    void this.send(topics.otaProgress(this.o.gateway), { step, desc });
  }

  /** Publishes `{id, params}`; false when it could not be sent (offline), which is not worth more than a debug line. */
  private async send(topic: string, params: Record<string, unknown>): Promise<boolean> {
    const id = this.o.nextId ? this.o.nextId() : String(++this.seq);
    try {
      await this.o.link.publish(topic, JSON.stringify({ id, params }), 1);
      return true;
    } catch (err) {
      this.log.debug({ topic, err: (err as Error).message }, "OTA report not sent");
      return false;
    }
  }
}
