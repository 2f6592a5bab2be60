/**
 * Outbox throughput: append rate with sync "full" and "normal", and the replay rate of a backlog (default
 * 100,000 records) through the drains to an in-process aedes broker over a real MQTT connection (QoS 1, each
 * record a message deleted on its PUBACK, as on platforms without a reply). The store runs in this process: what
 * is measured is the outbox and the drains.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import mqtt from "mqtt";
import { createLogger } from "../../../src/ops/logger.js";
import { Drains } from "../../../src/store/drains.js";
import { openStore, type SyncMode } from "../../../src/store/store.js";
import { GATEWAY_ROUTE, type NewRecord, type RecordResult, type UplinkRecord } from "../../../src/cloud/platform.js";
import { env } from "../lib/env.js";
import type { ScenarioBody } from "../lib/result.js";
import { fmtInt } from "../lib/stats.js";

const logger = createLogger("warn");

/** One device's five values of one window, as the things layer produces them. */
function propertyRecord(id: number, device: number): NewRecord {
  const time = Date.now() - 3_600_000 + id;
  return {
    device: `a1BenchProd/meter-${device}`, kind: "properties", time,
    values: [
      { identifier: "Temperature", value: 21.5 + (id % 10) / 10, time },
      { identifier: "Humidity", value: 40 + (id % 7), time },
      { identifier: "Pressure", value: 1013.25, time },
      { identifier: "Voltage", value: 229.8, time },
      { identifier: "Status", value: id % 3, time },
    ],
  };
}

/** The size of a record's payload as a platform would send it (JSON of its values). */
const recordBytes = (r: NewRecord) => JSON.stringify(r).length;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "fb-bench-outbox-"));
}

/** Messages per second appended one at a time, as producers do, with the store's own commit batching. */
export async function appendRate(sync: SyncMode, count: number): Promise<number> {
  const dir = tempDir();
  const store = openStore(dir, { logger, sync, records: { maxBytes: 1024 * 1024 * 1024 } });
  try {
    const items = Array.from({ length: count }, (_, i) => propertyRecord(i + 1, i % 20));
    const began = performance.now();
    for (let i = 0; i < items.length; i++) {
      store.records.append([items[i]!]);
      // Producers append from many callbacks; give the batch timer its turn as a running daemon would.
      if (i % 100 === 99) await yieldToLoop();
    }
    store.records.flush();
    const secs = (performance.now() - began) / 1000;
    if (store.records.stats().depth !== count) throw new Error(`append lost records: ${store.records.stats().depth} of ${count}`);
    return count / secs;
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Records per second replayed from a backlog of `backlog` records, each a message deleted on its PUBACK. */
export async function replayRate(backlog: number): Promise<number> {
  const dir = tempDir();
  const store = openStore(dir, { logger, sync: "full", records: { maxBytes: 1024 * 1024 * 1024 } });
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  let received = 0;
  broker.on("publish", (_packet, client) => {
    if (client) received++;
  });
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: "bench-gw", reconnectPeriod: 0 });
  (client.stream as net.Socket).setNoDelay(true);
  try {
    for (let i = 0; i < backlog; i += 1000) {
      store.records.append(Array.from({ length: Math.min(1000, backlog - i) }, (_, k) => propertyRecord(i + k + 1, (i + k) % 20)));
    }
    store.records.flush();
    // Each record one message, acknowledged by its PUBACK (the shape of the per-device platforms' uplinks).
    const send = (records: readonly UplinkRecord[]) => ({
      messages: records.length,
      done: Promise.all(records.map(async (r): Promise<RecordResult> => {
        try {
          await client.publishAsync(`bench/${r.device}/properties`, JSON.stringify(r.kind === "properties" ? r.values : r), { qos: 1 });
          return { seq: r.seq, result: "ok" };
        } catch (err) {
          return { seq: r.seq, result: "unsent", reason: (err as Error).message };
        }
      })),
    });
    const drains = new Drains({
      outbox: store.records,
      logger,
      target: { perDeviceRoutes: false, maxRecordsPerSend: 20, routeOf: () => GATEWAY_ROUTE, ready: () => client.connected, send: (_route, records) => send(records) },
      // Unpaced: this measures the pipeline, not the platform-friendly default of 50/s.
      replayRatePerSec: 1_000_000,
      replayBurst: 1_000,
    });
    const began = performance.now();
    drains.start();
    drains.presence(GATEWAY_ROUTE, true);
    const deadline = began + 600_000;
    while (drains.stats().acked < backlog) {
      if (performance.now() > deadline) throw new Error(`replay stalled at ${drains.stats().acked} of ${backlog}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const secs = (performance.now() - began) / 1000;
    await drains.stop();
    store.records.flush();
    const left = store.records.stats().depth;
    if (left !== 0 || received < backlog) throw new Error(`replay incomplete: ${left} left, broker got ${received}`);
    return backlog / secs;
  } finally {
    await client.endAsync();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function outboxScenario(): Promise<ScenarioBody> {
  const count = env.append();
  const backlog = env.backlog();
  const appendFull = await appendRate("full", count);
  const appendNormal = await appendRate("normal", count);
  const replay = await replayRate(backlog);
  return {
    title: "Outbox",
    params: { append: count, backlog, recordBytes: recordBytes(propertyRecord(1, 1)) },
    metrics: { appendFullPerSec: appendFull, appendNormalPerSec: appendNormal, replayPerSec: replay },
    rows: [
      { label: "Outbox append, store.sync full", measured: `${fmtInt(appendFull)} records/s`, target: "≥ 20,000 records/s", met: appendFull >= 20_000 },
      { label: "Outbox append, store.sync normal", measured: `${fmtInt(appendNormal)} records/s` },
      {
        label: `Outbox replay, ${fmtInt(backlog)} backlog → local broker`,
        measured: `${fmtInt(replay)} records/s (QoS 1, one message each, deleted on PUBACK)`,
        target: "≥ 5,000 records/s",
        met: replay >= 5_000,
      },
    ],
    notes: [
      `Outbox: ${fmtInt(count)} records of 5 values (${recordBytes(propertyRecord(1, 1))} bytes as JSON) appended one per call (the outbox commits them in batches); ` +
        `the replay runs the drains unpaced (store.replayRatePerSecond defaults to 50/s to spare the platform), one record per QoS 1 message over plain MQTT to aedes in the same process.`,
    ],
  };
}
