/**
 * How `fieldbridge scan --report` reaches the running daemon: the scan writes its result as a JSON file into
 * `<dataDir>/discovered/` (atomically: a temporary name, then a rename); the daemon looks into that folder every
 * second, hands each report to the platform (`PlatformAdapter.reportFound`, Alibaba thing.list.found) and answers with
 * a `<name>.result` file (reported, refused with the reason, invalid, unsupported) that the scan waits for. A report
 * the platform cannot take now (not connected) stays and is sent once it can: also after a restart, or when the scan
 * ran while the daemon was stopped. Result files are removed after a day.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Logger } from "pino";
import type { PlatformAdapter } from "../cloud/platform.js";
import { isObject } from "./json.js";

export const FOUND_DIR = "discovered";
const RESULT_TTL_MS = 24 * 3600_000;
const RETRY_MS = 5000;

export interface FoundDevice {
  productKey: string;
  deviceName: string;
  /** Where it was found (for the log). */
  unit?: number;
}

export interface FoundReport {
  productKey: string;
  channel: string;
  scannedAt: number;
  devices: FoundDevice[];
}

export interface FoundResult {
  state: "reported" | "refused" | "invalid" | "unsupported";
  reason?: string;
  at: number;
}

/** Writes a report for the daemon; returns its path (the result appears at `${path}.result`). */
export async function writeFoundReport(dataDir: string, report: FoundReport): Promise<string> {
  const dir = join(dataDir, FOUND_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = `${new Date(report.scannedAt).toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}.json`;
  const temp = join(dir, `.${name}.tmp`);
  await writeFile(temp, JSON.stringify(report, null, 2), { mode: 0o600 });
  await rename(temp, join(dir, name));
  return join(dir, name);
}

/** The daemon's answer to a report, once there is one. */
export async function readFoundResult(reportPath: string): Promise<FoundResult | undefined> {
  try {
    return JSON.parse(await readFile(`${reportPath}.result`, "utf8")) as FoundResult;
  } catch {
    return undefined;
  }
}

function parseReport(text: string): FoundReport | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (!isObject(v) || typeof v["productKey"] !== "string" || !Array.isArray(v["devices"]) || v["devices"].length === 0) {
    return "needs productKey and a non-empty devices list";
  }
  const ok = v["devices"].every((d) => isObject(d) && typeof d["productKey"] === "string" && typeof d["deviceName"] === "string");
  return ok ? (v as unknown as FoundReport) : "every device needs productKey and deviceName";
}

export class FoundInbox {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly notBefore = new Map<string, number>();
  readonly counters = { reported: 0, refused: 0 };

  constructor(
    private readonly dataDir: string,
    private readonly adapter: Pick<PlatformAdapter, "name" | "reportFound">,
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look into the folder; reports are sent one at a time, oldest first. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const dir = join(this.dataDir, FOUND_DIR);
      let names: string[];
      try {
        names = (await readdir(dir)).sort();
      } catch {
        return;
      }
      for (const name of names) {
        const path = join(dir, name);
        if (name.endsWith(".result")) await this.expire(path);
        else if (name.endsWith(".json") && !name.startsWith(".") && (this.notBefore.get(name) ?? 0) <= Date.now()) await this.handle(name, path);
      }
    } finally {
      this.busy = false;
    }
  }

  private async handle(name: string, path: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      // Typically a scan run as another user than the service's.
      const reason = `cannot read the report (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run fieldbridge scan as the service's user`;
      return this.finish(path, { state: "invalid", reason, at: Date.now() });
    }
    const report = parseReport(text);
    if (typeof report === "string") return this.finish(path, { state: "invalid", reason: report, at: Date.now() });
    if (!this.adapter.reportFound) {
      return this.finish(path, { state: "unsupported", reason: `platform ${this.adapter.name} does not take discovered devices`, at: Date.now() });
    }
    const devices = report.devices.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName }));
    const r = await this.adapter.reportFound(devices);
    const log = { file: name, channel: report.channel, devices: devices.map((d) => `${d.productKey}/${d.deviceName}`) };
    if (r.ok) {
      this.counters.reported++;
      this.logger.info(log, "discovered devices reported to the cloud");
      return this.finish(path, { state: "reported", at: Date.now() });
    }
    if (r.retry) {
      this.notBefore.set(name, Date.now() + RETRY_MS);
      this.logger.debug({ ...log, reason: r.reason }, "discovered devices not reported yet; retrying");
      return;
    }
    this.counters.refused++;
    this.logger.error({ ...log, reason: r.reason }, "discovered devices refused by the cloud");
    return this.finish(path, { state: "refused", reason: r.reason, at: Date.now() });
  }

  private async finish(path: string, result: FoundResult): Promise<void> {
    try {
      await writeFile(`${path}.result`, JSON.stringify(result), { mode: 0o600 });
      await rm(path, { force: true });
    } catch (err) {
      this.logger.warn({ file: path, err: (err as Error).message }, "cannot record the outcome of a discovery report");
    }
    this.notBefore.delete(basename(path));
  }

  private async expire(path: string): Promise<void> {
    const s = await stat(path).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > RESULT_TTL_MS) await rm(path, { force: true }).catch(() => undefined);
  }
}
