/**
 * Latency: a register changes in the simulator → the property post carrying the new value reaches the broker
 * (the emulator's publish handler, same process and clock as the simulator). Trigger 2 (report on change),
 * 100 ms polling, measured with the default uplink batch window and with the window at 0.
 */
import { env } from "../lib/env.js";
import { startSteady } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { METER, meterTsl, modbusDocument, startCloud, startModbusField, writeDaemonConfig, type Cloud, type ModbusField } from "../lib/rig.js";
import { fmt, percentile, sleep } from "../lib/stats.js";
import type { EmulatorEvent } from "../../../src/sim/cloud/aliyun/index.js";

const DEVICES = 10;
const POINTS = 10;
const PERIOD_MS = 100;
/** The daemon's default uplink.batchWindowMs (bootstrap schema). */
const DEFAULT_WINDOW_MS = 150;
/** A change not seen by then counts as lost. */
const LOST_AFTER_MS = 3000;
/** Changes in flight at once (on different points). */
const CONCURRENT = 4;

interface LatencyRun {
  windowMs: number;
  samples: number[];
  lost: number;
  p50: number;
  p99: number;
  max: number;
}

/** Changes random points at random moments and times each change until the broker sees its value. */
async function measureChanges(field: ModbusField, cloud: Cloud, count: number, budgetMs: number): Promise<{ samples: number[]; lost: number }> {
  const pending = new Map<string, { value: number; t0: number }>();
  const samples: number[] = [];
  let lost = 0;
  const onRecord = (e: EmulatorEvent) => {
    if (e.kind !== "properties") return;
    const key = `${e.record.deviceKey}\u0000${e.record.identifier}`;
    const p = pending.get(key);
    if (p && e.record.value === p.value) {
      samples.push(performance.now() - p.t0);
      pending.delete(key);
    }
  };
  cloud.emu.on("record", onRecord);
  let seq = 0;
  const deadline = performance.now() + budgetMs;
  try {
    while (samples.length + lost + pending.size < count && performance.now() < deadline) {
      const now = performance.now();
      for (const [k, p] of pending) {
        if (now - p.t0 > LOST_AFTER_MS) {
          lost++;
          pending.delete(k);
        }
      }
      if (pending.size < CONCURRENT) {
        const d = field.devices[Math.floor(Math.random() * field.devices.length)]!;
        const point = Math.floor(Math.random() * POINTS);
        const key = `${d.key}\u0000P${point}`;
        if (!pending.has(key)) {
          const sim = field.sims[d.sim]!;
          let value = 1 + (++seq % 60_000);
          if (sim.getHolding(d.unit, point)[0] === value) value++;
          sim.setHolding(d.unit, point, [value]);
          pending.set(key, { value, t0: performance.now() });
        }
      }
      // Random gaps put the changes at random phases of the polling period.
      await sleep(10 + Math.random() * 40);
    }
    const drainBy = performance.now() + LOST_AFTER_MS;
    while (pending.size > 0 && performance.now() < drainBy) await sleep(20);
    lost += pending.size;
  } finally {
    cloud.emu.off("record", onRecord);
  }
  return { samples, lost };
}

async function oneRun(windowMs: number | undefined, count: number, budgetMs: number): Promise<LatencyRun> {
  const field = await startModbusField({ devices: DEVICES, points: POINTS, perChannel: DEVICES, namePrefix: "lat" });
  const subDevices = field.devices.map((d) => ({ productKey: METER, deviceName: d.name }));
  const cloud = await startCloud({ tls: env.tls(), devices: subDevices, products: { [METER]: meterTsl(POINTS) } });
  const run = await writeDaemonConfig({
    emu: cloud.emu,
    subDevices,
    document: modbusDocument(field, { periodMs: PERIOD_MS, trigger: 2 }),
    overrides: windowMs === undefined ? {} : { uplink: { batchWindowMs: windowMs } },
  });
  try {
    const steady = await startSteady(run, DEVICES, 60_000);
    try {
      await sleep(1000);
      const r = await measureChanges(field, cloud, count, budgetMs);
      return {
        windowMs: windowMs ?? DEFAULT_WINDOW_MS,
        samples: r.samples,
        lost: r.lost,
        p50: percentile(r.samples, 50),
        p99: percentile(r.samples, 99),
        max: percentile(r.samples, 100),
      };
    } finally {
      await steady.daemon.stop();
    }
  } finally {
    await cloud.close();
    await field.close();
    run.cleanup();
  }
}

export async function latencyScenario(): Promise<ScenarioBody> {
  const seconds = env.seconds();
  const count = seconds * 15;
  const budgetMs = seconds * 2000;
  const withDefault = await oneRun(undefined, count, budgetMs);
  const withZero = await oneRun(0, count, budgetMs);
  const row = (r: LatencyRun, target: number, what: string) => ({
    label: `Latency, trigger 2 @ ${PERIOD_MS} ms, ${what}`,
    measured: `p50 ${fmt(r.p50, 0)} ms, p99 ${fmt(r.p99, 0)} ms, max ${fmt(r.max, 0)} ms (n = ${r.samples.length}${r.lost ? `, ${r.lost} lost` : ""})`,
    target: `p99 ≤ ${target} ms`,
    met: r.p99 <= target && r.lost === 0 && r.samples.length > 0,
  });
  return {
    title: "Latency",
    params: { devices: DEVICES, points: POINTS, periodMs: PERIOD_MS, trigger: 2, changes: count, concurrent: CONCURRENT },
    metrics: {
      defaultWindow: { ...withDefault, samples: undefined, n: withDefault.samples.length },
      zeroWindow: { ...withZero, samples: undefined, n: withZero.samples.length },
      samplesMs: { defaultWindow: withDefault.samples.map((v) => Math.round(v * 10) / 10), zeroWindow: withZero.samples.map((v) => Math.round(v * 10) / 10) },
    },
    rows: [
      row(withZero, PERIOD_MS + 20, "batch window 0"),
      row(withDefault, PERIOD_MS + 20 + DEFAULT_WINDOW_MS, `batch window ${DEFAULT_WINDOW_MS} ms (default)`),
    ],
    notes: [
      `Latency: a register is changed at a random moment (up to ${CONCURRENT} changes in flight on different points of ${DEVICES} devices x ${POINTS} points); ` +
        `the clock stops when the emulator's broker handles the PUBLISH with the new value. It includes up to one polling period of waiting for the next poll, ` +
        `the batch window, the outbox commit (sync full) and the MQTT round over TLS. Target with the default window: polling + 20 ms + the window.`,
    ],
  };
}
