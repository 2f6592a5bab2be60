/**
 * Tencent IoT Explorer at scale: BENCH_DEVICES sub-devices (default 1,000) behind ONE gateway connection to the
 * Tencent emulator (through its cloud world), x 5 points every second from 8 Modbus TCP channels. The sub-devices
 * are bound in the console and brought online with `online` at the daemon's defaults (`sessions.loginsPerSecond`
 * 50, `sessions.batchSize` 10, `sessions.maxOnline` 1500; tencent.md 4.1, 11); each reports at most
 * `tencent.publishesPerSecond` (10) messages per second, and a report leaves the outbox on its `report_reply`.
 * Measured: spawn → every sub-device online on the emulator, then a steady window with all of them reporting.
 */
import { env } from "../lib/env.js";
import type { ScenarioBody } from "../lib/result.js";
import { fmt, fmtInt, mb } from "../lib/stats.js";
import { PERIOD_MS, POINTS, runDeviceWorld } from "./devices.js";

/** The daemon's defaults (src/cloud/tencent/bootstrap.ts). */
const LOGINS_PER_SECOND = 50;
const BATCH = 10;
const MAX_ONLINE = 1500;

export async function devicesTencentScenario(): Promise<ScenarioBody> {
  const devices = env.devices();
  if (devices > MAX_ONLINE) throw new Error(`BENCH_DEVICES ${devices}: at most sessions.maxOnline (${MAX_ONLINE}) sub-devices are online per gateway`);
  const seconds = 3 * env.seconds();
  const tls = env.tls();
  // The bucket starts full (burst = the rate).
  const floorS = Math.max(0, devices - LOGINS_PER_SECOND) / LOGINS_PER_SECOND;
  const nominal = (devices * POINTS * 1000) / PERIOD_MS;
  // The world raises the online and publish paces for quick tests; empty sections give the daemon's defaults. Values
  // sampled before a sub-device is online wait in the store; at the default 50/s replay they would still be draining
  // during the window.
  const { win, ramp, info, logs, channels, counts } = await runDeviceWorld({
    platform: "tencent", devices, seconds, tls, floorS, overrides: { sessions: {}, tencent: {}, store: { replayRatePerSecond: 5000 } },
  });

  const cpu = win.cpuPercent;
  const lag = win.probe.lagMs.p99 ?? Number.NaN;
  const perDevice = win.probe.rssMean / devices;
  const perDeviceAbove = (win.probe.rssMean - ramp.rssFirst) / Math.max(1, devices - 1);
  const delivered = win.cloud.pointsPerSec / nominal;
  const label = `Tencent ${fmtInt(devices)} sub-devices x ${POINTS} @ 1 s`;
  const notes = [
    `${label}: ${fmtInt(devices)} sub-devices bound in the console, behind one MQTT${tls ? "S" : ""} connection of the gateway, on ${channels} Modbus TCP channel(s); ` +
      `brought online at the defaults sessions.loginsPerSecond ${LOGINS_PER_SECOND} and batchSize ${BATCH} (so at least ${fmt(floorS, 0)} s for ${fmtInt(devices)} sub-devices), tencent.publishesPerSecond 10 per sub-device; ` +
      `a report leaves the outbox on its report_reply. The gateway config document persisted in dataDir; store.replayRatePerSecond 5000 (default 50). ` +
      `The daemon counted all online ${fmt(info.rampMs / 1000, 1)} s after the spawn, the ramp's backlog replayed by ${fmt(info.settledMs / 1000, 1)} s; window ${seconds} s after that. ` +
      `Emulator + simulators ran in the scenario process (${fmt(win.rigCpuPercent, 0)} % of a core), not in the daemon's.`,
  ];
  if (info.onlineAtEnd < devices) notes.push(`${label}: only ${info.onlineAtEnd} of ${devices} sub-devices were online on the emulator at the end of the window`);
  if (win.cloud.rejected > 0) notes.push(`${label}: the emulator refused ${win.cloud.rejected} message(s): ${win.cloud.rejectReasons.join("; ")}`);
  if (win.gateway.fieldErrors > 0) notes.push(`${label}: ${win.gateway.fieldErrors} failed Modbus request(s) in the window (${win.gateway.fieldTimeouts} timeouts)`);
  if (logs.errors > 0 || logs.warnings > 0) notes.push(`${label}: the daemon logged ${logs.errors} error(s) and ${logs.warnings} warning(s): ${logs.first.join(" | ")}`);
  else if (logs.other > 0) notes.push(`${label}: Node warned on the daemon's stderr: ${logs.first.join(" | ")}`);
  if (counts.loginsFailed > 0) notes.push(`${label}: the emulator refused ${counts.loginsFailed} online request(s) or CONNECT(s) during the run`);
  return {
    title: label,
    params: { platform: "tencent", devices, points: POINTS, periodMs: PERIOD_MS, channels, seconds, tls, loginsPerSecond: LOGINS_PER_SECOND, batchSize: BATCH, nominalPointsPerSec: nominal },
    metrics: {
      allOnlineMs: ramp.allOnlineMs,
      onlineFloorMs: floorS * 1000,
      nominalPointsPerSec: nominal,
      acceptedPointsPerSec: win.cloud.pointsPerSec,
      acceptedMessagesPerSec: win.cloud.messagesPerSec,
      bytesPerSec: win.cloud.bytesPerSec,
      gatewayCpuPercent: cpu,
      rssPeak: win.probe.rssPeak,
      rssMean: win.probe.rssMean,
      rssFirstDevice: ramp.rssFirst,
      rssPerDevice: perDevice,
      rssPerDeviceAboveFirst: perDeviceAbove,
      heapUsed: win.probe.heapUsed,
      lagMs: win.probe.lagMs,
      rigCpuPercent: win.rigCpuPercent,
      onlineAccepted: counts.loginsOk,
      refused: counts.loginsFailed,
      gateway: win.gateway,
      cloud: win.cloud,
      ...info,
      log: logs,
    },
    rows: [
      { label: `${label}: all online`, measured: `${fmt(ramp.allOnlineMs / 1000, 1)} s after the spawn (pace floor ${fmt(floorS, 0)} s: ${fmtInt(devices)} online at ${LOGINS_PER_SECOND}/s)` },
      { label: `${label}: CPU`, measured: `${fmt(cpu, 0)} % of one core (event-loop lag p99 ${fmt(lag, 0)} ms)` },
      { label: `${label}: RSS`, measured: `${mb(win.probe.rssPeak)} peak (${mb(win.probe.rssMean)} mean; ${mb(ramp.rssFirst)} at the first sub-device online)` },
      { label: `${label}: RSS per sub-device`, measured: `${fmt(perDevice / 1024, 0)} kB (mean RSS ÷ sub-devices); ${fmt(perDeviceAbove / 1024, 0)} kB above the first` },
      {
        label: `${label}: values accepted`,
        measured: `${fmtInt(win.cloud.pointsPerSec)} values/s in ${fmtInt(win.cloud.messagesPerSec)} msg/s (${fmt(delivered * 100, 1)} % of ${fmtInt(nominal)})`,
        target: "≥ 98 % of nominal",
        met: delivered >= 0.98,
      },
    ],
    notes,
  };
}
