/**
 * The gateway config's life in the daemon (alink.md sections 3.15 and 5.1): applied from the last good file at
 * start, before and without any cloud connection; on a push, downloaded at once, verified, validated and applied
 * as a diff, then persisted atomically. A document that fails any step is not applied at all: the running config
 * continues, and the failure is logged with every problem and kept for the status output.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  loadGatewayDocument, verifyDigest, downloadDocument, redactUrl, writeGatewayConfigAtomic, readPersisted,
  diffGatewayConfig, summarizeDiff, formatProblem, DownloadError,
  type ParseContext, type GatewayConfig, type GatewayConfigDiff, type Problem,
} from "../config/gateway/index.js";
import type { AlinkMessage } from "../cloud/aliyun/connection.js";

export interface ConfigManagerOptions {
  dataDir: string;
  parse: ParseContext;
  download: { caFile?: string; allowHttp: boolean; maxBytes: number; timeoutMs: number; retries?: number };
  logger: Logger;
  /** Applies a validated config (diff against the running one). */
  apply: (next: GatewayConfig, diff: GatewayConfigDiff) => Promise<void>;
}

export interface ConfigStatus {
  /** sha256 of the applied document. */
  version?: string;
  appliedAt?: number;
  source?: "persisted" | "push";
  channels: number;
  devices: number;
  /** Problems of the applied document (warnings, or channels failed for credentials). */
  warnings: string[];
  lastError?: { at: number; stage: "download" | "digest" | "validation" | "apply" | "request"; message: string; problems: string[] };
}

export type PushReply = (code: number, message?: string) => Promise<void>;

/** Errors that fail a single channel and let the rest of the document apply (alink.md 5.6). */
function isChannelScoped(p: Problem): boolean {
  return /^serverList\[\d+\]\.password$/.test(p.path);
}

export class GatewayConfigManager {
  private current: GatewayConfig | null = null;
  private readonly st: ConfigStatus = { channels: 0, devices: 0, warnings: [] };
  private chain: Promise<void> = Promise.resolve();
  readonly counters = { pushes: 0, applied: 0, rejected: 0 };

  constructor(private readonly o: ConfigManagerOptions) {}

  get config(): GatewayConfig | null {
    return this.current;
  }

  status(): ConfigStatus {
    return { ...this.st, warnings: [...this.st.warnings] };
  }

  /** True when the last attempt to change the config failed (the previous config still runs). */
  get failing(): boolean {
    return this.st.lastError !== undefined && (this.st.appliedAt === undefined || this.st.lastError.at > this.st.appliedAt);
  }

  /** Applies `dataDir/gateway-config.json` if there is one. Returns whether a config was applied. */
  async loadPersisted(): Promise<boolean> {
    const bytes = await readPersisted(this.o.dataDir);
    if (!bytes) {
      this.o.logger.info("no gateway config yet; waiting for the cloud to push one");
      return false;
    }
    const result = loadGatewayDocument(bytes, this.o.parse);
    if (result.fatal) {
      this.fail("validation", "the persisted gateway config cannot be read", result.problems);
      return false;
    }
    // It was valid when it was applied; apply what is still valid (e.g. a serial port since unmapped).
    await this.install(result.config, bytes, "persisted", result.problems);
    return true;
  }

  /** Handles thing.model.config.push; serialised so that two pushes never apply concurrently. */
  handlePush(msg: AlinkMessage | null, reply: (code: number, data: unknown, message?: string) => Promise<void>): Promise<void> {
    const run = this.chain.then(() => this.push(msg, reply));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async push(msg: AlinkMessage | null, reply: (code: number, data: unknown, message?: string) => Promise<void>): Promise<void> {
    this.counters.pushes++;
    const body = (msg?.["data"] ?? msg?.["params"]) as Record<string, unknown> | undefined;
    const echo = body && typeof body === "object" ? { digest: body["digest"] ?? "", digestMethod: body["digestMethod"] ?? "", url: body["url"] ?? "" } : {};
    if (msg && msg["method"] !== undefined && msg["method"] !== "thing.model.config.push") {
      this.o.logger.info({ method: msg["method"] }, "config push with an unexpected method name; handled by its topic");
    }
    if (!body || typeof body !== "object" || typeof body["url"] !== "string" || !body["url"]) {
      this.fail("request", "config push without a url", []);
      return reply(460, echo, "data.url is required");
    }
    const url = body["url"] as string;
    const where = redactUrl(url);
    this.o.logger.info({ url: where }, "gateway config pushed; downloading");
    let bytes: Buffer;
    try {
      bytes = await downloadDocument(url, { ...this.o.download });
    } catch (err) {
      const message = err instanceof DownloadError ? err.message : `download failed: ${(err as Error).message}`;
      this.fail("download", message, []);
      return reply(100010, echo, message);
    }
    const digest = verifyDigest(bytes, body["digest"] as string | undefined, body["digestMethod"] as string | undefined);
    if (!digest.ok) {
      this.fail("digest", `digest check failed: ${digest.reason}`, []);
      return reply(460, echo, `digest check failed: ${digest.reason}`);
    }
    const result = loadGatewayDocument(bytes, this.o.parse);
    const blocking = result.problems.filter((p) => p.severity === "error" && !isChannelScoped(p));
    if (result.fatal || blocking.length) {
      this.fail("validation", `gateway config rejected: ${blocking.length || result.problems.length} problem(s)`, result.fatal ? result.problems : blocking);
      const first = (result.fatal ? result.problems : blocking).slice(0, 3).map(formatProblem).join("; ");
      return reply(460, echo, `validation failed: ${first}`);
    }
    try {
      await this.install(result.config, bytes, "push", result.problems);
      await writeGatewayConfigAtomic(this.o.dataDir, bytes);
    } catch (err) {
      this.fail("apply", `applying the gateway config failed: ${(err as Error).message}`, []);
      return reply(100000, echo, "apply failed");
    }
    const warnings = result.problems.filter((p) => p.severity === "error");
    return reply(200, echo, warnings.length ? `applied; ${warnings.length} channel(s) failed: ${warnings.map(formatProblem).join("; ")}` : undefined);
  }

  private async install(next: GatewayConfig, bytes: Uint8Array, source: "persisted" | "push", problems: Problem[]): Promise<void> {
    const diff = diffGatewayConfig(this.current, next);
    await this.o.apply(next, diff);
    this.current = next;
    this.counters.applied++;
    const version = createHash("sha256").update(bytes).digest("hex");
    Object.assign(this.st, {
      version, appliedAt: Date.now(), source, channels: next.channels.length, devices: next.devices.length,
      warnings: problems.map(formatProblem),
    });
    for (const p of problems) {
      if (p.severity === "error") this.o.logger.error({ problem: formatProblem(p) }, "gateway config: part not applied");
    }
    this.o.logger.info({ source, version: version.slice(0, 12), ...summarizeDiff(diff), warnings: problems.length }, "gateway config applied");
  }

  private fail(stage: NonNullable<ConfigStatus["lastError"]>["stage"], message: string, problems: Problem[]): void {
    this.counters.rejected++;
    const lines = problems.map(formatProblem);
    this.st.lastError = { at: Date.now(), stage, message, problems: lines };
    this.o.logger.error({ stage, problems: lines }, message);
  }
}
