/**
 * Light on a small board: the daemon against a bare script doing the same work without its guarantees. D Modbus
 * TCP devices x 10 holding registers every 100 ms, plain MQTT, `store.sync` full, trigger 1 (every value reported).
 * First the daemon (through the Alibaba emulator, values counted where it accepts them), then in the same run the
 * bare script (`lib/bare-client.mjs` with `publishUrl`: modbus-serial reads and one mqtt.js QoS 1 JSON message per read
 * to a plain aedes broker in this process; no validation, no durability), paced by the same period slots.
 * Reported: the daemon's CPU and RSS divided by, and above, the script's.
 */
import net from "node:net";
import type { LogSummary } from "../lib/daemon.js";
import { env } from "../lib/env.js";
import { measureWindow, runBareClient, startSteady, type BareResult, type WindowResult } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { METER, meterTsl, modbusDocument, startCloud, startModbusField, writeDaemonConfig } from "../lib/rig.js";
import { fmt, fmtInt, mb, sleep } from "../lib/stats.js";

const POINTS = 10;
const PERIOD_MS = 100;

/** A plain MQTT broker on loopback for the bare script (the emulator would refuse its topics). */
async function plainBroker(): Promise<{ url: string; close(): Promise<void> }> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = net.createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function lightScenario(devices: number): Promise<ScenarioBody> {
  const seconds = env.seconds() * 2;
  const nominal = (devices * POINTS * 1000) / PERIOD_MS;
  const field = await startModbusField({ devices, points: POINTS, perChannel: 100 });
  const cloud = await startCloud({
    tls: false,
    devices: field.devices.map((d) => ({ productKey: METER, deviceName: d.name })),
    products: { [METER]: meterTsl(POINTS) },
    onlineCap: Math.max(1500, devices + 10),
  });
  const run = await writeDaemonConfig({
    emu: cloud.emu,
    subDevices: field.devices.map((d) => ({ productKey: METER, deviceName: d.name })),
    document: modbusDocument(field, { periodMs: PERIOD_MS, trigger: 1 }),
    overrides: {
      sessions: { loginsPerSecond: 500, maxOnline: Math.max(1500, devices) },
      store: { replayRatePerSecond: 5000, sync: "full" },
    },
  });
  const plain = await plainBroker();
  let win: WindowResult;
  let bare: BareResult;
  let logs: LogSummary;
  try {
    const steady = await startSteady(run, devices, 120_000);
    try {
      await sleep(2000);
      win = await measureWindow(steady.daemon, cloud, seconds);
    } finally {
      await steady.daemon.stop();
      logs = steady.daemon.logSummary();
    }
    bare = await runBareClient({
      host: "127.0.0.1",
      channels: field.sims.map((s, i) => ({ port: s.port, units: field.devices.filter((d) => d.sim === i).map((d) => d.unit) })),
      points: POINTS,
      periodMs: PERIOD_MS,
      paced: true,
      warmupMs: 2000,
      seconds,
      publishUrl: plain.url,
    });
  } finally {
    await plain.close();
    await cloud.close();
    await field.close();
    run.cleanup();
  }

  const label = `Light ${fmtInt(nominal)} values/s (${devices} x ${POINTS} @ ${PERIOD_MS} ms)`;
  const cpuRatio = win.cpuPercent / bare.cpuPercent;
  const rssAbove = win.probe.rssPeak - bare.rssPeak;
  const delivered = win.cloud.pointsPerSec / nominal;
  const notes: string[] = [];
  if (logs.errors > 0 || logs.warnings > 0) notes.push(`${label}: the daemon logged ${logs.errors} error(s) and ${logs.warnings} warning(s): ${logs.first.join(" | ")}`);
  if (bare.errors > 0) notes.push(`${label}: the bare script had ${bare.errors} failed read(s)`);
  return {
    title: label,
    params: { devices, points: POINTS, periodMs: PERIOD_MS, seconds, nominalValuesPerSec: nominal, sync: "full", tls: false },
    metrics: {
      gatewayCpuPercent: win.cpuPercent,
      gatewayRssPeak: win.probe.rssPeak,
      gatewayRssMean: win.probe.rssMean,
      acceptedValuesPerSec: win.cloud.pointsPerSec,
      acceptedMessagesPerSec: win.cloud.messagesPerSec,
      lagMs: win.probe.lagMs,
      bareCpuPercent: bare.cpuPercent,
      bareRssPeak: bare.rssPeak,
      bareRssMean: bare.rssMean,
      bareValuesPerSec: bare.points / bare.seconds,
      barePublishedPerSec: bare.published / bare.seconds,
      cpuRatio,
      rssAbove,
      log: logs,
    },
    rows: [
      {
        label: `${label}: CPU`,
        measured:
          `fieldbridge ${fmt(win.cpuPercent, 1)} % of a core, bare script ${fmt(bare.cpuPercent, 1)} % → **${fmt(cpuRatio, 1)}×** ` +
          `(fieldbridge ${fmtInt(win.cloud.pointsPerSec)} values/s accepted in ${fmtInt(win.cloud.messagesPerSec)} msg/s, ${fmt(delivered * 100, 1)} % of nominal; ` +
          `script ${fmtInt(bare.published / bare.seconds)} msg/s)`,
        target: "≤ 1.5× the bare script",
        met: cpuRatio <= 1.5 && delivered >= 0.98,
      },
      {
        label: `${label}: RSS`,
        measured: `fieldbridge ${mb(win.probe.rssPeak)} peak, bare script ${mb(bare.rssPeak)} peak → ${rssAbove >= 0 ? "+" : "−"}${mb(Math.abs(rssAbove))}`,
        target: "≤ the bare script's + 30 MB",
        met: rssAbove <= 30 * 1024 * 1024,
      },
    ],
    notes: [
      ...notes,
      `${label}: the daemon (store.sync full, plain MQTT to the Alibaba emulator, trigger 1, pack posts) and then, for the same ${seconds} s, ` +
        `a bare script: modbus-serial reads of the same blocks and one mqtt.js QoS 1 JSON message per read to a plain aedes broker, no validation, no durability. ` +
        `Both processes are measured alone (CPU from process.cpuUsage(), RSS sampled every 200 ms); brokers and simulators run in the scenario process.`,
    ],
  };
}
