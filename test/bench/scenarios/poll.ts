/**
 * Poll throughput: N devices x M points every P ms from fast Modbus TCP simulators, through the whole daemon
 * (decode, TSL, report policy, batching, SQLite outbox, MQTT QoS 1), counted where the platform accepts them.
 * In the same run, the ceiling: a bare modbus-serial client doing the same block reads for the same time.
 */
import type { LogSummary } from "../lib/daemon.js";
import { env } from "../lib/env.js";
import { measureWindow, runBareClient, startSteady, type BareResult, type WindowResult } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { METER, meterTsl, modbusDocument, startCloud, startModbusField, writeDaemonConfig } from "../lib/rig.js";
import { fmt, fmtInt, mb, pct, sleep } from "../lib/stats.js";

export interface PollCase {
  devices: number;
  points: number;
  periodMs: number;
  /** Devices per channel (one TCP connection and one simulator each). */
  perChannel: number;
}

export async function pollScenario(c: PollCase): Promise<ScenarioBody> {
  const seconds = env.seconds();
  const tls = env.tls();
  const nominal = (c.devices * c.points * 1000) / c.periodMs;
  const field = await startModbusField({ devices: c.devices, points: c.points, perChannel: c.perChannel });
  const cloud = await startCloud({
    tls,
    devices: field.devices.map((d) => ({ productKey: METER, deviceName: d.name })),
    products: { [METER]: meterTsl(c.points) },
    onlineCap: Math.max(1500, c.devices + 10),
  });
  const run = await writeDaemonConfig({
    emu: cloud.emu,
    subDevices: field.devices.map((d) => ({ productKey: METER, deviceName: d.name })),
    document: modbusDocument(field, { periodMs: c.periodMs, trigger: 1 }),
    overrides: {
      sessions: { loginsPerSecond: 500, maxOnline: Math.max(1500, c.devices) },
      // What piles up before the logins is replayed quickly, so the window sees live traffic only.
      store: { replayRatePerSecond: 5000 },
    },
  });
  let win: WindowResult;
  let paced: BareResult;
  let flat: BareResult;
  let steadyInfo: { rampMs: number; settledMs: number; stopMs: number };
  let logs: LogSummary;
  try {
    const steady = await startSteady(run, c.devices, 120_000);
    try {
      await sleep(2000);
      win = await measureWindow(steady.daemon, cloud, seconds);
    } finally {
      const stop = await steady.daemon.stop();
      steadyInfo = { rampMs: steady.rampMs, settledMs: steady.settledMs, stopMs: stop.ms };
      logs = steady.daemon.logSummary();
    }
    const plan = {
      host: "127.0.0.1",
      channels: field.sims.map((s, i) => ({ port: s.port, units: field.devices.filter((d) => d.sim === i).map((d) => d.unit) })),
      points: c.points,
      periodMs: c.periodMs,
      paced: true,
      warmupMs: 1000,
      seconds,
    };
    paced = await runBareClient(plan);
    flat = await runBareClient({ ...plan, paced: false, seconds: Math.max(3, Math.round(seconds / 2)) });
  } finally {
    await cloud.close();
    await field.close();
    run.cleanup();
  }

  const ceiling = paced.points / paced.seconds;
  const capacity = flat.points / flat.seconds;
  const accepted = win.cloud.pointsPerSec;
  const ratio = accepted / ceiling;
  const label = `Poll ${c.devices} x ${c.points} @ ${c.periodMs} ms`;
  const notes: string[] = [];
  if (win.cloud.rejected > 0) notes.push(`${label}: the emulator rejected ${win.cloud.rejected} value(s): ${win.cloud.rejectReasons.join("; ")}`);
  if (win.gateway.fieldErrors > 0) notes.push(`${label}: ${win.gateway.fieldErrors} failed Modbus request(s) in the window (${win.gateway.fieldTimeouts} timeouts)`);
  if (logs.errors > 0 || logs.warnings > 0) notes.push(`${label}: the daemon logged ${logs.errors} error(s) and ${logs.warnings} warning(s): ${logs.first.join(" | ")}`);
  else if (logs.other > 0) notes.push(`${label}: Node warned on the daemon's stderr: ${logs.first.join(" | ")}`);
  return {
    title: label,
    params: { ...c, seconds, tls, nominalPointsPerSec: nominal, trigger: 1 },
    metrics: {
      nominalPointsPerSec: nominal,
      acceptedPointsPerSec: accepted,
      acceptedMessagesPerSec: win.cloud.messagesPerSec,
      ceilingPointsPerSec: ceiling,
      ratio,
      bareClientCapacityPointsPerSec: capacity,
      ceilingClientCpuPercent: paced.cpuPercent,
      ceilingSkippedSlots: paced.skippedSlots,
      gatewayCpuPercent: win.cpuPercent,
      rssPeak: win.probe.rssPeak,
      rssMean: win.probe.rssMean,
      heapUsed: win.probe.heapUsed,
      lagMs: win.probe.lagMs,
      rigCpuPercent: win.rigCpuPercent,
      gateway: win.gateway,
      cloud: win.cloud,
      ...steadyInfo,
      log: logs,
    },
    rows: [
      {
        label: `${label} (nominal ${fmtInt(nominal)} pts/s)`,
        measured:
          `${fmtInt(accepted)} pts/s accepted in ${fmtInt(win.cloud.messagesPerSec)} msg/s; bare client ${fmtInt(ceiling)} pts/s → **${pct(ratio)}**; ` +
          `gateway ${fmt(win.cpuPercent, 0)} % of a core, RSS ${mb(win.probe.rssPeak)} peak, loop lag p99 ${fmt(win.probe.lagMs.p99 ?? Number.NaN, 0)} ms`,
        target: "≥ 80 % of the bare client",
        met: ratio >= 0.8,
      },
    ],
    notes: [
      ...notes,
      "Poll: the bare client is the ceiling of reading only: it decodes, converts, stores and publishes nothing, and its points count when read, " +
        "the gateway's when the emulator accepts them. While it runs, the emulator is idle and the simulators have more CPU. " +
        "Both are paced by the same period slots; a window of whole periods can count one cycle more or less than nominal (±1 % here), so a ratio slightly above 100 % is noise.",
      `${label}: the bare client could do ${fmtInt(capacity)} pts/s flat out (cycles back to back, ${fmt(flat.cpuPercent, 0)} % of a core); emulator + simulators used ${fmt(win.rigCpuPercent, 0)} % of a core during the gateway window.`,
    ],
  };
}
