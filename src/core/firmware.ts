/**
 * A firmware offered by the platform: downloaded into the data dir under a name of ours, checked (size, digest),
 * handed to the operator's `ota.installCommand` (the file path appended; nothing from the cloud reaches a command
 * line), and removed. Platforms report the steps in their own protocol through `progress`.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { FirmwareOffer, FirmwareOutcome, FirmwareStep } from "../cloud/platform.js";
import { DownloadError, downloadToFile, redactUrl } from "../config/gateway/download.js";
import { runInstaller } from "../ops/ota-install.js";

export interface FirmwareOptions {
  dataDir: string;
  installCommand?: readonly string[];
  maxBytes: number;
  download: { caFile?: string; allowHttp: boolean; timeoutMs: number };
  logger: Logger;
  installTimeoutMs?: number;
}

let running = false;

export async function installFirmware(o: FirmwareOffer, progress: (step: FirmwareStep, percent: number) => void, opts: FirmwareOptions): Promise<FirmwareOutcome> {
  const ctx = { version: o.version, url: redactUrl(o.url) };
  const fail = (step: FirmwareStep, message: string): FirmwareOutcome => {
    opts.logger.error({ ...ctx, step, reason: message }, "firmware upgrade failed");
    return { ok: false, step, message };
  };
  if (!opts.installCommand?.length) return fail("install", "firmware upgrade is not enabled on this gateway (ota.installCommand is not configured)");
  if (o.size !== undefined && o.size > opts.maxBytes) return fail("download", `firmware of ${o.size} bytes exceeds ota.maxBytes (${opts.maxBytes})`);
  const method = (o.digestMethod ?? "md5").toLowerCase();
  if (o.digest !== undefined && method !== "md5" && method !== "sha256") return fail("verify", `unsupported digest method ${o.digestMethod}`);
  if (running) return fail("download", "another firmware upgrade is in progress");
  running = true;
  const dir = join(opts.dataDir, "ota");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `firmware-${Date.now()}-${randomBytes(4).toString("hex")}.bin`);
  opts.logger.info({ ...ctx, size: o.size }, "firmware upgrade started");
  try {
    progress("download", 0);
    let last = 0;
    let result;
    try {
      result = await downloadToFile(o.url, file, {
        caFile: opts.download.caFile, allowHttp: opts.download.allowHttp, maxBytes: opts.maxBytes,
        idleTimeoutMs: opts.download.timeoutMs, timeoutMs: 3_600_000, retries: 2, retryBudgetMs: 10 * 60_000,
        hash: method === "sha256" ? "sha256" : "md5",
        onProgress: (received, declared) => {
          const total = o.size ?? declared;
          const pct = total ? Math.min(99, Math.floor((received * 100) / total)) : 0;
          if (pct >= last + 10) {
            last = pct;
            progress("download", pct);
          }
        },
      });
    } catch (err) {
      return fail("download", err instanceof DownloadError ? err.message : (err as Error).message);
    }
    if (o.size !== undefined && result.bytes !== o.size) return fail("verify", `size mismatch: got ${result.bytes} bytes, expected ${o.size}`);
    if (o.digest !== undefined && o.digest.toLowerCase() !== (result.digest ?? "").toLowerCase()) return fail("verify", `${method} checksum mismatch`);
    progress("install", 100);
    const installed = await runInstaller({ command: opts.installCommand, file, timeoutMs: opts.installTimeoutMs ?? 15 * 60_000, cwd: dir });
    if (!installed.ok) return fail("install", installed.reason);
    opts.logger.info(ctx, "firmware installed; the new version will be reported when the service has restarted");
    return { ok: true };
  } finally {
    running = false;
    await rm(file, { force: true }).catch(() => undefined);
  }
}
