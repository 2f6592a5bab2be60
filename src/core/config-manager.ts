/**
 * The gateway config document's life in the daemon (alink.md sections 3.15 and 5.1, the same document on every
 * platform): applied from the last good file at start (or from the bootstrap's `gatewayConfig.file` when none was
 * pushed yet), before and without any cloud connection; on an offer from the platform, downloaded at once,
 * verified, validated, persisted atomically and applied as a diff. A document that fails any step is not applied at
 * all: the running config continues, and the failure is logged with every problem and kept for the status output.
 * A config counts as running only once it is persisted, so a restart never silently returns to an older one.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  loadGatewayDocument, verifyDigest, downloadDocument, redactUrl, writeGatewayConfigAtomic, readPersisted,
  diffGatewayConfig, summarizeDiff, formatProblem, DownloadError,
  type ParseContext, type GatewayConfig, type GatewayConfigDiff, type Problem,
} from "../config/gateway/index.js";
import { readFile } from "node:fs/promises";
import type { ConfigOffer, ConfigOutcome, ConfigStage } from "../cloud/platform.js";

export interface ConfigManagerOptions {
  dataDir: string;
  /** Read at each parse: the secret that decrypts passwords may become known only after the platform's auth. */
  parse: () => ParseContext;
  /** Bootstrap `gatewayConfig.file`: applied at start when the data dir holds no pushed document. */
  localFile?: string;
  download: { caFile?: string; allowHttp: boolean; maxBytes: number; timeoutMs: number; retries?: number };
  logger: Logger;
  /** Applies a validated config (diff against the running one). */
  apply: (next: GatewayConfig, diff: GatewayConfigDiff) => Promise<void>;
}

export interface ConfigStatus {
  /** sha256 of the applied document. */
  version?: string;
  appliedAt?: number;
  source?: "persisted" | "push" | "local";
  channels: number;
  devices: number;
  /** Problems of the applied document (warnings, or channels failed for credentials). */
  warnings: string[];
  lastError?: { at: number; stage: ConfigStage; message: string; problems: string[] };
}

/** Errors that fail a single channel and let the rest of the document apply (alink.md 5.6). */
function isChannelScoped(p: Problem): boolean {
  return /^serverList\[\d+\]\.password$/.test(p.path);
}

export class GatewayConfigManager {
  private current: GatewayConfig | null = null;
  /** The running document as received, and where it came from (a re-apply parses it again). */
  private running: { bytes: Uint8Array; source: "persisted" | "push" | "local" } | undefined;
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

  /**
   * Applies `dataDir/gateway-config.json` if there is one, else the bootstrap's local document. Returns whether a
   * config was applied.
   */
  async loadPersisted(): Promise<boolean> {
    let bytes = await readPersisted(this.o.dataDir);
    let source: "persisted" | "local" = "persisted";
    if (!bytes && this.o.localFile) {
      try {
        bytes = await readFile(this.o.localFile);
        source = "local";
      } catch (err) {
        this.fail("request", `the local gateway config ${this.o.localFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, []);
        return false;
      }
    }
    if (!bytes) {
      this.o.logger.info("no gateway config yet; waiting for the cloud to push one");
      return false;
    }
    const result = loadGatewayDocument(bytes, this.o.parse());
    const blocking = result.problems.filter((p) => p.severity === "error" && !isChannelScoped(p));
    if (result.fatal || (source === "local" && blocking.length)) {
      this.fail("validation", `the ${source === "local" ? "local" : "persisted"} gateway config cannot be used`, result.fatal ? result.problems : blocking);
      return false;
    }
    // A persisted one was valid when it was applied; apply what is still valid (e.g. a serial port since unmapped).
    await this.install(result.config, bytes, source, result.problems);
    return true;
  }

  /** A document offered by the platform; serialised so that two offers never apply concurrently. Never rejects. */
  offer(o: ConfigOffer): Promise<ConfigOutcome> {
    const run = this.chain.then(() => this.accept(o));
    this.chain = run.then(() => undefined, () => undefined);
    return run.catch((err: Error) => this.failed("apply", `applying the gateway config failed: ${err.message}`, []));
  }

  /** The running document's bytes, undefined before one is applied. */
  get document(): Uint8Array | undefined {
    return this.running?.bytes;
  }

  /**
   * Parses and applies the running document again, with the parse context of now (e.g. a thing model fetched from the
   * cloud since); serialised with offers. What is still valid applies, as for a persisted document.
   */
  reapply(): Promise<void> {
    const run = this.chain.then(async () => {
      if (!this.running) return;
      const { bytes, source } = this.running;
      const result = loadGatewayDocument(bytes, this.o.parse());
      if (!result.fatal) await this.install(result.config, bytes, source, result.problems);
    });
    this.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  /** A delivery that is not a valid request (no url, bad parameters): recorded like a failed document. */
  reject(stage: ConfigStage, message: string): void {
    this.counters.pushes++;
    this.fail(stage, message, []);
  }

  private async accept(o: ConfigOffer): Promise<ConfigOutcome> {
    this.counters.pushes++;
    const where = redactUrl(o.url);
    this.o.logger.info({ url: where, ...(o.version ? { version: o.version } : {}) }, "gateway config offered; downloading");
    let bytes: Buffer;
    try {
      bytes = await downloadDocument(o.url, { ...this.o.download });
      o.progress?.(100);
    } catch (err) {
      const message = err instanceof DownloadError ? err.message : `download failed: ${(err as Error).message}`;
      return this.failed("download", message, []);
    }
    if (o.size !== undefined && bytes.length !== o.size) return this.failed("digest", `size check failed: ${bytes.length} bytes, expected ${o.size}`, []);
    const digest = verifyDigest(bytes, o.digest, o.digestMethod);
    if (!digest.ok) return this.failed("digest", `digest check failed: ${digest.reason}`, []);
    const result = loadGatewayDocument(bytes, this.o.parse());
    const blocking = result.problems.filter((p) => p.severity === "error" && !isChannelScoped(p));
    if (result.fatal || blocking.length) {
      const problems = result.fatal ? result.problems : blocking;
      const first = problems.slice(0, 3).map(formatProblem).join("; ");
      return this.failed("validation", `gateway config rejected: ${problems.length} problem(s)`, problems, `validation failed: ${first}`);
    }
    // Persisted first: a config runs only once a restart would bring it back.
    const previous = await readPersisted(this.o.dataDir).catch(() => undefined);
    try {
      await writeGatewayConfigAtomic(this.o.dataDir, bytes);
    } catch (err) {
      return this.failed("apply", `the gateway config cannot be persisted: ${(err as Error).message}`, []);
    }
    try {
      await this.install(result.config, bytes, "push", result.problems);
    } catch (err) {
      if (previous) await writeGatewayConfigAtomic(this.o.dataDir, previous).catch(() => undefined);
      return this.failed("apply", `applying the gateway config failed: ${(err as Error).message}`, []);
    }
    const warnings = result.problems.filter((p) => p.severity === "error");
    return { ok: true, ...(warnings.length ? { message: `applied; ${warnings.length} channel(s) failed: ${warnings.map(formatProblem).join("; ")}` } : {}) };
  }

  private failed(stage: ConfigStage, message: string, problems: Problem[], reply?: string): ConfigOutcome {
    this.fail(stage, message, problems);
    return { ok: false, stage, message: reply ?? message, problems: problems.map(formatProblem) };
  }

  private async install(next: GatewayConfig, bytes: Uint8Array, source: "persisted" | "push" | "local", problems: Problem[]): Promise<void> {
    const diff = diffGatewayConfig(this.current, next);
    await this.o.apply(next, diff);
    this.current = next;
    this.running = { bytes, source };
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

  private fail(stage: ConfigStage, message: string, problems: Problem[]): void {
    this.counters.rejected++;
    const lines = problems.map(formatProblem);
    this.st.lastError = { at: Date.now(), stage, message, problems: lines };
    this.o.logger.error({ stage, problems: lines }, message);
  }
}
