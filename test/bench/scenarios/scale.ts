/**
 * Scale: 1500 sub-devices x 20 points every second (30,000 points/s) on 8 Modbus TCP channels, measured in the
 * steady state once every sub-device is logged in and the ramp's backlog is replayed.
 */
import type { LogSummary } from "../lib/daemon.js";
import { env } from "../lib/env.js";
import { measureWindow, startSteady, type WindowResult } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { METER, meterTsl, modbusDocument, startCloud, startModbusField, writeDaemonConfig, type Cloud, type ModbusField, type RunDir } from "../lib/rig.js";
import { fmt, fmtInt, mb, sleep } from "../lib/stats.js";

const DEVICES = env.scaleDevices();
export const POINTS = 20;
export const PERIOD_MS = 1000;
const PER_CHANNEL = 188;

export interface ScaleRig {
  field: ModbusField;
  cloud: Cloud;
  run: RunDir;
}

/**
 * The scale world: `devices` Modbus sub-devices x 20 points every second, 188 per channel, on the Alibaba
 * emulator, and the daemon's config (with http.listen) for them. The caller closes cloud and field and cleans up run.
 */
export async function startScaleRig(devices: number, loginRate: number): Promise<ScaleRig> {
  const field = await startModbusField({ devices, points: POINTS, perChannel: PER_CHANNEL });
  const subDevices = field.devices.map((d) => ({ productKey: METER, deviceName: d.name }));
  try {
    // The platform's default cap is exactly 1500 online sub-devices per gateway; raised so the cap is not what is measured.
    const cloud = await startCloud({ tls: env.tls(), devices: subDevices, products: { [METER]: meterTsl(POINTS) }, onlineCap: Math.max(2000, devices + 500) });
    try {
      const run = await writeDaemonConfig({
        emu: cloud.emu,
        subDevices,
        document: modbusDocument(field, { periodMs: PERIOD_MS, trigger: 1 }),
        overrides: {
          // The default online cap (1500): exactly the number of devices at full scale.
          sessions: { loginsPerSecond: loginRate, batchSize: 50 },
          store: { replayRatePerSecond: 5000 },
        },
      });
      return { field, cloud, run };
    } catch (err) {
      await cloud.close();
      throw err;
    }
  } catch (err) {
    await field.close();
    throw err;
  }
}

export async function scaleScenario(): Promise<ScenarioBody> {
  // Three windows' worth: at a 1 s period a 10 s window can count a cycle more or less per device, and memory
  // only settles once the daemon's per-message state has filled up.
  const seconds = 3 * env.seconds();
  const tls = env.tls();
  const loginRate = env.loginRate();
  const nominal = (DEVICES * POINTS * 1000) / PERIOD_MS;
  const { field, cloud, run } = await startScaleRig(DEVICES, loginRate);
  let win: WindowResult;
  let info: { rampMs: number; settledMs: number; stopMs: number };
  let logs: LogSummary;
  try {
    const steady = await startSteady(run, DEVICES, 180_000);
    try {
      await sleep(2000);
      win = await measureWindow(steady.daemon, cloud, seconds);
    } finally {
      const stop = await steady.daemon.stop();
      info = { rampMs: steady.rampMs, settledMs: steady.settledMs, stopMs: stop.ms };
      logs = steady.daemon.logSummary();
    }
  } finally {
    await cloud.close();
    await field.close();
    run.cleanup();
  }

  const cpu = win.cpuPercent;
  const rss = win.probe.rssPeak;
  const lag = win.probe.lagMs.p99 ?? Number.NaN;
  const delivered = win.cloud.pointsPerSec / nominal;
  const label = `Scale ${DEVICES} x ${POINTS} @ 1 s`;
  const notes = [
    `${label}: ${DEVICES} sub-devices on ${field.sims.length} Modbus TCP channels, logins at ${loginRate}/s (sessions.loginsPerSecond; the default is 50/s); ` +
      `all online ${fmt(info.rampMs / 1000, 1)} s after the process started, ramp backlog replayed by ${fmt(info.settledMs / 1000, 1)} s; window ${seconds} s after that. ` +
      `Emulator + simulators ran in the scenario process (${fmt(win.rigCpuPercent, 0)} % of a core), not in the daemon's; sessions.maxOnline at its default, 1500.`,
  ];
  if (win.cloud.rejected > 0) notes.push(`${label}: the emulator rejected ${win.cloud.rejected} value(s): ${win.cloud.rejectReasons.join("; ")}`);
  if (win.gateway.fieldErrors > 0) notes.push(`${label}: ${win.gateway.fieldErrors} failed Modbus request(s) in the window (${win.gateway.fieldTimeouts} timeouts)`);
  if (logs.errors > 0 || logs.warnings > 0) notes.push(`${label}: the daemon logged ${logs.errors} error(s) and ${logs.warnings} warning(s): ${logs.first.join(" | ")}`);
  else if (logs.other > 0) notes.push(`${label}: Node warned on the daemon's stderr: ${logs.first.join(" | ")}`);
  return {
    title: label,
    params: { devices: DEVICES, points: POINTS, periodMs: PERIOD_MS, channels: field.sims.length, seconds, tls, loginRate, nominalPointsPerSec: nominal },
    metrics: {
      nominalPointsPerSec: nominal,
      acceptedPointsPerSec: win.cloud.pointsPerSec,
      acceptedMessagesPerSec: win.cloud.messagesPerSec,
      bytesPerSec: win.cloud.bytesPerSec,
      gatewayCpuPercent: cpu,
      rssPeak: rss,
      rssMean: win.probe.rssMean,
      heapUsed: win.probe.heapUsed,
      lagMs: win.probe.lagMs,
      rigCpuPercent: win.rigCpuPercent,
      gateway: win.gateway,
      cloud: win.cloud,
      ...info,
      log: logs,
    },
    rows: [
      { label: `${label}: CPU`, measured: `${fmt(cpu, 0)} % of one core`, target: "≤ 100 % (one core)", met: cpu <= 100 },
      { label: `${label}: RSS`, measured: `${mb(rss)} peak (${mb(win.probe.rssMean)} mean)`, target: "≤ 150 MB", met: rss <= 150 * 1024 * 1024 },
      { label: `${label}: event-loop lag`, measured: `p99 ${fmt(lag, 0)} ms (max ${fmt(win.probe.lagMs.max ?? Number.NaN, 0)} ms)`, target: "p99 ≤ 50 ms", met: lag <= 50 },
      {
        label: `${label}: publish rate`,
        measured: `${fmtInt(win.cloud.messagesPerSec)} msg/s, ${fmtInt(win.cloud.pointsPerSec)} pts/s accepted (${fmt(delivered * 100, 1)} % of ${fmtInt(nominal)})`,
        target: "≥ 98 % of nominal",
        met: delivered >= 0.98,
      },
    ],
    notes,
  };
}
