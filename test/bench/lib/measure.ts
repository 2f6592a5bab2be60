/** Bringing a daemon to its steady state, measuring a window of it, and running the bare-client ceiling. */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BenchDaemon, cpuPercent, type ProbeReport } from "./daemon.js";
import type { CloudCounts, RunDir } from "./rig.js";
import { sleep } from "./stats.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Copies a failed daemon's log next to the results (BENCH_LOG_DIR, set by run.ts); returns the copy's path. */
export function keepLog(logFile: string): string | undefined {
  const dir = process.env["BENCH_LOG_DIR"];
  if (!dir || !fs.existsSync(logFile)) return undefined;
  const target = path.join(dir, `daemon-${Date.now()}.log`);
  fs.copyFileSync(logFile, target);
  return target;
}

export interface SteadyDaemon {
  daemon: BenchDaemon;
  /** Spawn → every sub-device logged in, ms. */
  rampMs: number;
  /** Spawn → the backlog of the ramp replayed and the outbox back to its working depth, ms. */
  settledMs: number;
}

/**
 * Starts the daemon with the probe and waits (bounded) until `online` sub-devices are logged in and what piled
 * up before their logins has been replayed, so that the window that follows sees live traffic only. `onSpawn`
 * gets the daemon as soon as it is spawned (to watch the ramp from the outside).
 */
export async function startSteady(
  run: Pick<RunDir, "configFile" | "logFile" | "httpPort">,
  online: number,
  timeoutMs: number,
  onSpawn?: (daemon: BenchDaemon) => void,
): Promise<SteadyDaemon> {
  const daemon = new BenchDaemon({ configFile: run.configFile, logFile: run.logFile, probe: true, httpPort: run.httpPort });
  onSpawn?.(daemon);
  const deadline = Date.now() + timeoutMs;
  const fail = (what: string) => {
    const s = daemon.logSummary();
    const kept = keepLog(run.logFile);
    return new Error(`${what}; daemon log${kept ? ` (kept as ${kept})` : ""}: ${s.first.join(" | ") || "no warnings"}`);
  };
  let rampMs = Number.NaN;
  let lastReplayed = -1;
  let calm = 0;
  let last = "no metrics yet";
  for (;;) {
    if (!daemon.running) throw fail(`daemon exited during start (code ${daemon.child.exitCode})`);
    if (Date.now() > deadline) {
      await daemon.stop();
      throw fail(`not steady within ${timeoutMs} ms (${last})`);
    }
    await sleep(250);
    let m: Map<string, number>;
    try {
      m = await daemon.metrics(5000);
    } catch {
      continue; // the status endpoint is not listening yet
    }
    last = `${m.get("fieldbridge_subdevices_online") ?? 0} of ${online} sub-devices online, outbox depth ${m.get("fieldbridge_outbox_depth") ?? 0}, tags pending ${m.get("fieldbridge_tags_pending") ?? 0}`;
    if ((m.get("fieldbridge_subdevices_online") ?? 0) < online) continue;
    if (Number.isNaN(rampMs)) rampMs = performance.now() - daemon.spawnedAtPerf;
    const replayed = m.get("fieldbridge_uplinks_replayed_total") ?? 0;
    const depth = m.get("fieldbridge_outbox_depth") ?? 0;
    // One-time work after a first start (Alibaba sends each device's tags once) is not the steady state either.
    const tagsPending = m.get("fieldbridge_tags_pending") ?? 0;
    calm = replayed === lastReplayed && depth < 500 && tagsPending === 0 ? calm + 1 : 0;
    lastReplayed = replayed;
    if (calm >= 3) return { daemon, rampMs, settledMs: performance.now() - daemon.spawnedAtPerf };
  }
}

export interface WindowResult {
  seconds: number;
  probe: ProbeReport;
  cpuPercent: number;
  gateway: {
    samplesPerSec: number;
    valuesReportedPerSec: number;
    publishedPerSec: number;
    ackedPerSec: number;
    requestsPerSec: number;
    fieldErrors: number;
    fieldTimeouts: number;
    outboxDepthEnd: number;
    online: number;
  };
  cloud: {
    messagesPerSec: number;
    pointsPerSec: number;
    bytesPerSec: number;
    rejected: number;
    rejectReasons: string[];
  };
  /** CPU of the scenario process (emulator + simulators), percent of one core. */
  rigCpuPercent: number;
}

/** Measures `seconds` of the running daemon: inside (probe), its /metrics, and what the emulator accepted. */
export async function measureWindow(daemon: BenchDaemon, cloud: { counter: { snapshot(): CloudCounts } }, seconds: number): Promise<WindowResult> {
  await daemon.probe("mark");
  const m0 = await daemon.metrics();
  const c0 = cloud.counter.snapshot();
  const rig0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = cloud.counter.snapshot();
  const t1 = performance.now();
  const rig = process.cpuUsage(rig0);
  const probe = await daemon.probe("read");
  const m1 = await daemon.metrics();
  const secs = (t1 - t0) / 1000;
  const d = (name: string) => ((m1.get(name) ?? 0) - (m0.get(name) ?? 0)) / secs;
  return {
    seconds: secs,
    probe,
    cpuPercent: cpuPercent(probe),
    gateway: {
      samplesPerSec: d("fieldbridge_samples_total"),
      valuesReportedPerSec: d("fieldbridge_values_reported_total"),
      publishedPerSec: d("fieldbridge_uplinks_published_total"),
      ackedPerSec: d("fieldbridge_uplinks_acked_total"),
      requestsPerSec: d("fieldbridge_channel_requests_total"),
      fieldErrors: (m1.get("fieldbridge_channel_errors_total") ?? 0) - (m0.get("fieldbridge_channel_errors_total") ?? 0),
      fieldTimeouts: (m1.get("fieldbridge_channel_timeouts_total") ?? 0) - (m0.get("fieldbridge_channel_timeouts_total") ?? 0),
      outboxDepthEnd: m1.get("fieldbridge_outbox_depth") ?? 0,
      online: m1.get("fieldbridge_subdevices_online") ?? 0,
    },
    cloud: {
      messagesPerSec: (c1.messages - c0.messages) / secs,
      pointsPerSec: (c1.properties - c0.properties) / secs,
      bytesPerSec: (c1.bytes - c0.bytes) / secs,
      rejected: c1.rejected - c0.rejected,
      rejectReasons: c1.rejectReasons,
    },
    rigCpuPercent: ((rig.user + rig.system) / 1000 / (t1 - t0)) * 100,
  };
}

/** What the bare client (bare-client.mjs) is asked to do. */
export interface BarePlan {
  host: string;
  channels: Array<{ port: number; units: number[] }>;
  points: number;
  periodMs: number;
  paced: boolean;
  warmupMs: number;
  seconds: number;
  /** Publish one JSON message per read to this broker (mqtt://…): the bare script of the light scenarios. */
  publishUrl?: string;
}

export interface BareResult {
  reads: number;
  points: number;
  errors: number;
  /** Messages the broker acknowledged in the window (publishUrl only). */
  published: number;
  seconds: number;
  cpuPercent: number;
  /** Resident memory over the window, bytes (sampled every 200 ms). */
  rssPeak: number;
  rssMean: number;
  /** Cycles that started late because the previous one overran (paced only). */
  skippedSlots: number;
}

/** Runs the bare client (plain node, no loader) in its own process and returns its result. */
export async function runBareClient(plan: BarePlan): Promise<BareResult> {
  const child = spawn(process.execPath, [path.join(HERE, "bare-client.mjs"), JSON.stringify(plan)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), plan.warmupMs + plan.seconds * 1000 + 30_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  const line = out.trim().split("\n").pop() ?? "";
  if (code !== 0 || !line.startsWith("{")) throw new Error(`bare client failed (exit ${code}): ${err.trim().slice(0, 500)}`);
  return JSON.parse(line) as BareResult;
}
