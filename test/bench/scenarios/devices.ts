/**
 * Per-device platforms at scale: BENCH_DEVICES field devices (default 1,000), each with its own MQTT connection
 * to the platform's emulator (Huawei or Lierda, through its cloud world), x 5 points every second from 8 Modbus TCP
 * channels. The daemon connects at the platform's default pace; measured: spawn → every device online on the
 * emulator, then a steady window with all of them reporting.
 */
import type { PlatformName } from "../../../src/cloud/platform.js";
import type { BenchDaemon, LogSummary } from "../lib/daemon.js";
import { env } from "../lib/env.js";
import { measureWindow, startSteady, type WindowResult } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { meterTsl, modbusDocument, startModbusField, type ModbusField, type RunDir } from "../lib/rig.js";
import { fmt, fmtInt, mb, sleep } from "../lib/stats.js";
import { countRecords, startWorld, writeWorldConfig } from "../lib/worlds.js";

export type DevicePlatform = "huawei" | "lierda";

export const POINTS = 5;
export const PERIOD_MS = 1000;
/** 1,000 devices on 8 channels, as `scale` spreads its 1,500. */
const PER_CHANNEL = 125;

/**
 * The daemon's defaults (`<platform>.connectsPerSecond` in src/cloud/<platform>/bootstrap.ts) and CONNECTs per
 * field device on a first start: a Lierda type-0 device opens an auth connection for its secret first (lierda.md
 * §3.3), and both take a token from the same bucket.
 */
const PACE: Record<DevicePlatform, { connectsPerSecond: number; connectsPerDevice: number; why: string }> = {
  huawei: { connectsPerSecond: 10, connectsPerDevice: 1, why: "one CONNECT per device" },
  lierda: { connectsPerSecond: 20, connectsPerDevice: 2, why: "an auth and a device CONNECT per type-0 device" },
};

export interface Ramp {
  /** Spawn → the gateway and every field device online on the emulator, ms. */
  allOnlineMs: number;
  /** The daemon's RSS when the first field device came online (document applied, polling, one connection). */
  rssFirst: number;
}

/**
 * Watches the emulator from the spawn on (every 100 ms, bounded by the daemon's life and `stop`): the daemon's RSS
 * when the first field device is online, and when every one is.
 */
export function watchRamp(daemon: BenchDaemon, online: () => number, allOnline: () => boolean, stop: { done: boolean }): { ramp: Ramp; done: Promise<void> } {
  const ramp: Ramp = { allOnlineMs: Number.NaN, rssFirst: Number.NaN };
  const done = (async () => {
    let asked = false;
    while (!stop.done && daemon.running) {
      if (!asked && online() > 0) {
        asked = true;
        daemon.probe("read").then((r) => (ramp.rssFirst = r.rss), () => undefined);
      }
      if (allOnline()) {
        ramp.allOnlineMs = performance.now() - daemon.spawnedAtPerf;
        return;
      }
      await sleep(100);
    }
  })();
  return { ramp, done };
}

export interface DeviceWorldRun {
  win: WindowResult;
  ramp: Ramp;
  info: { rampMs: number; settledMs: number; stopMs: number; onlineAtEnd: number };
  logs: LogSummary;
  /** Modbus TCP channels the devices were spread over. */
  channels: number;
  /** What the emulator counted over the whole run. */
  counts: ReturnType<ReturnType<typeof countRecords>["snapshot"]>;
}

/**
 * One run of a platform's cloud world at scale: `devices` field devices of one product provisioned in the world, a
 * Modbus field for them, the daemon started with the persisted document, the ramp watched until the emulator sees
 * every device online, then a window of `seconds`. `overrides` go over the world's bootstrap sections.
 */
export async function runDeviceWorld(o: {
  platform: PlatformName;
  devices: number;
  seconds: number;
  tls: boolean;
  /** The connect or online pace's floor for the ramp, s (the start waits three times it, plus 180 s). */
  floorS: number;
  overrides: Record<string, unknown>;
}): Promise<DeviceWorldRun> {
  const counter = countRecords();
  const world = await startWorld(o.platform, o.tls);
  let field: ModbusField | undefined;
  let run: RunDir | undefined;
  try {
    const naming = world.naming(o.devices);
    const keys = naming.devices.map((d) => `${naming.product}/${d}`);
    const countOnline = () => keys.reduce((n, k) => n + (world.online(k) ? 1 : 0), 0);
    await world.provision(naming, meterTsl(POINTS, naming.product));
    field = await startModbusField({ devices: o.devices, points: POINTS, perChannel: PER_CHANNEL, names: naming.devices, productKey: naming.product });
    run = await writeWorldConfig(world, {
      document: modbusDocument(field, { periodMs: PERIOD_MS, trigger: 1, productKey: naming.product }),
      overrides: o.overrides,
    });
    const stop = { done: false };
    let watch: ReturnType<typeof watchRamp> | undefined;
    try {
      // Three times the pace's floor, and time to replay what was sampled during the ramp.
      const steady = await startSteady(run, o.devices, Math.round(3 * o.floorS * 1000) + 180_000, (d) => {
        watch = watchRamp(d, countOnline, () => world.allOnline(), stop);
      });
      let win: WindowResult;
      let ramp: Ramp;
      try {
        // The daemon counts a device online on CONNACK; the emulator may see the last one a moment later.
        const seen = await Promise.race([watch!.done.then(() => true), sleep(10_000).then(() => false)]);
        if (!seen) throw new Error(`${countOnline()} of ${o.devices} devices online on the emulator 10 s after the daemon counted all`);
        await sleep(2000);
        win = await measureWindow(steady.daemon, { counter }, o.seconds);
        ramp = watch!.ramp;
      } catch (err) {
        await steady.daemon.stop();
        throw err;
      }
      const onlineAtEnd = countOnline();
      // The log up to the end of the window: what the shutdown logs is not the steady state.
      const logs = steady.daemon.logSummary();
      const stopped = await steady.daemon.stop();
      return { win, ramp, logs, channels: field.sims.length, counts: counter.snapshot(), info: { rampMs: steady.rampMs, settledMs: steady.settledMs, stopMs: stopped.ms, onlineAtEnd } };
    } finally {
      stop.done = true;
      await watch?.done;
    }
  } finally {
    await world.close();
    await field?.close();
    run?.cleanup();
  }
}

export async function devicesScenario(platform: DevicePlatform): Promise<ScenarioBody> {
  const devices = env.devices();
  const seconds = 3 * env.seconds();
  const tls = env.tls();
  const pace = PACE[platform];
  // The gateway's own device is a member of the same pool; the bucket starts full (burst = the rate).
  const connects = devices * pace.connectsPerDevice + 1;
  const floorS = Math.max(0, connects - pace.connectsPerSecond) / pace.connectsPerSecond;
  const nominal = (devices * POINTS * 1000) / PERIOD_MS;
  // Values sampled before a device's connection wait in the store; replayed at the default 50/s they would still be
  // draining during the window.
  const { win, ramp, info, logs, channels, counts } = await runDeviceWorld({ platform, devices, seconds, tls, floorS, overrides: { store: { replayRatePerSecond: 5000 } } });

  const cpu = win.cpuPercent;
  const lag = win.probe.lagMs.p99 ?? Number.NaN;
  const perDevice = win.probe.rssMean / devices;
  const perConnection = (win.probe.rssMean - ramp.rssFirst) / Math.max(1, devices - 1);
  const delivered = win.cloud.pointsPerSec / nominal;
  const label = `${platform === "huawei" ? "Huawei" : "Lierda"} ${fmtInt(devices)} devices x ${POINTS} @ 1 s`;
  const notes = [
    `${label}: ${fmtInt(devices)} field devices, one MQTT${tls ? "S" : ""} connection each, on ${channels} Modbus TCP channel(s), ` +
      `connected at the default ${platform}.connectsPerSecond (${pace.connectsPerSecond}/s; ${pace.why}, so at least ${fmt(floorS, 0)} s for ${fmtInt(connects)} CONNECTs with the gateway's on a first start). ` +
      `The gateway config document persisted in dataDir (as after its delivery); store.replayRatePerSecond 5000 (default 50). ` +
      `The daemon counted all online ${fmt(info.rampMs / 1000, 1)} s after the spawn, the ramp's backlog replayed by ${fmt(info.settledMs / 1000, 1)} s; window ${seconds} s after that. ` +
      `Emulator + simulators ran in the scenario process (${fmt(win.rigCpuPercent, 0)} % of a core), not in the daemon's.`,
    `${label}: RSS per connection is the mean RSS ÷ devices (${fmt(perDevice / 1024, 0)} kB); "above the first" is (mean RSS − RSS when the first field device came online, document applied and polling) ÷ (devices − 1).`,
  ];
  if (info.onlineAtEnd < devices) notes.push(`${label}: only ${info.onlineAtEnd} of ${devices} devices were online on the emulator at the end of the window`);
  if (win.cloud.rejected > 0) notes.push(`${label}: the emulator rejected ${win.cloud.rejected} uplink(s) or value(s): ${win.cloud.rejectReasons.join("; ")}`);
  if (win.gateway.fieldErrors > 0) notes.push(`${label}: ${win.gateway.fieldErrors} failed Modbus request(s) in the window (${win.gateway.fieldTimeouts} timeouts)`);
  if (logs.errors > 0 || logs.warnings > 0) notes.push(`${label}: the daemon logged ${logs.errors} error(s) and ${logs.warnings} warning(s): ${logs.first.join(" | ")}`);
  else if (logs.other > 0) notes.push(`${label}: Node warned on the daemon's stderr: ${logs.first.join(" | ")}`);
  if (counts.loginsFailed > 0) notes.push(`${label}: the emulator refused ${counts.loginsFailed} CONNECT(s) during the run`);
  return {
    title: label,
    params: { platform, devices, points: POINTS, periodMs: PERIOD_MS, channels, seconds, tls, connectsPerSecond: pace.connectsPerSecond, nominalPointsPerSec: nominal },
    metrics: {
      allOnlineMs: ramp.allOnlineMs,
      connectFloorMs: floorS * 1000,
      nominalPointsPerSec: nominal,
      acceptedPointsPerSec: win.cloud.pointsPerSec,
      acceptedMessagesPerSec: win.cloud.messagesPerSec,
      bytesPerSec: win.cloud.bytesPerSec,
      gatewayCpuPercent: cpu,
      rssPeak: win.probe.rssPeak,
      rssMean: win.probe.rssMean,
      rssFirstDevice: ramp.rssFirst,
      rssPerDevice: perDevice,
      rssPerConnectionAboveFirst: perConnection,
      heapUsed: win.probe.heapUsed,
      lagMs: win.probe.lagMs,
      rigCpuPercent: win.rigCpuPercent,
      connectsAccepted: counts.loginsOk,
      connectsRefused: counts.loginsFailed,
      gateway: win.gateway,
      cloud: win.cloud,
      ...info,
      log: logs,
    },
    rows: [
      { label: `${label}: all online`, measured: `${fmt(ramp.allOnlineMs / 1000, 1)} s after the spawn (pace floor ${fmt(floorS, 0)} s: ${fmtInt(connects)} CONNECTs at ${pace.connectsPerSecond}/s)` },
      { label: `${label}: CPU`, measured: `${fmt(cpu, 0)} % of one core (event-loop lag p99 ${fmt(lag, 0)} ms)` },
      { label: `${label}: RSS`, measured: `${mb(win.probe.rssPeak)} peak (${mb(win.probe.rssMean)} mean; ${mb(ramp.rssFirst)} at the first device online)` },
      { label: `${label}: RSS per connection`, measured: `${fmt(perDevice / 1024, 0)} kB (mean RSS ÷ devices); ${fmt(perConnection / 1024, 0)} kB above the first` },
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
