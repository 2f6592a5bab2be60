/**
 * Outbox throughput: append rate with sync "full" and "normal", and the replay rate of a 100,000-message backlog
 * through the forwarder to an in-process aedes broker over a real MQTT connection (QoS 1, delete on PUBACK).
 *
 *   node --import tsx test/bench/outbox.bench.ts            prints {"appendFull":…,"appendNormal":…,"replay":…}
 *
 * Environment: BENCH_APPEND (messages per append run, default 100000), BENCH_BACKLOG (default 100000).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import mqtt from "mqtt";
import { createLogger } from "../../src/ops/logger.js";
import { Forwarder } from "../../src/store/forwarder.js";
import type { OutboxItem } from "../../src/store/outbox-types.js";
import { openStore, type SyncMode } from "../../src/store/store.js";

const APPEND_COUNT = Number(process.env.BENCH_APPEND ?? 100_000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const logger = createLogger("warn");

/** A property post of about 300 bytes, as the things layer produces them. */
function propertyPost(id: number, device: number): OutboxItem {
  const time = 1_714_521_600_000 + id * 1000;
  const payload = JSON.stringify({
    id: String(id),
    version: "1.0",
    sys: { ack: 0 },
    method: "thing.event.property.post",
    params: {
      Temperature: { value: 21.5 + (id % 10) / 10, time },
      Humidity: { value: 40 + (id % 7), time },
      Pressure: { value: 1013.25, time },
      Voltage: { value: 229.8, time },
      Status: { value: id % 3, time },
    },
  });
  return { topic: `/sys/a1BenchProd/meter-${device}/thing/event/property/post`, payload, msgId: String(id), devices: [`a1BenchProd/meter-${device}`], sampleTime: time };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "fb-bench-"));
}

async function appendRate(sync: SyncMode): Promise<number> {
  const dir = tempDir();
  const store = openStore(dir, { logger, sync, outbox: { maxBytes: 1024 * 1024 * 1024 } });
  try {
    const items = Array.from({ length: APPEND_COUNT }, (_, i) => propertyPost(i + 1, i % 20));
    const began = performance.now();
    for (let i = 0; i < items.length; i++) {
      store.outbox.append([items[i]!]);
      // Producers append from many callbacks; give the batch timer its turn as a running daemon would.
      if (i % 100 === 99) await yieldToLoop();
    }
    store.outbox.flush();
    const secs = (performance.now() - began) / 1000;
    if (store.outbox.stats().depth !== APPEND_COUNT) throw new Error(`append lost entries: ${store.outbox.stats().depth}`);
    return APPEND_COUNT / secs;
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function replayRate(): Promise<number> {
  const dir = tempDir();
  const store = openStore(dir, { logger, sync: "full", outbox: { maxBytes: 1024 * 1024 * 1024 } });
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
    for (let i = 0; i < BACKLOG; i += 1000) {
      store.outbox.append(Array.from({ length: Math.min(1000, BACKLOG - i) }, (_, k) => propertyPost(i + k + 1, (i + k) % 20)));
    }
    store.outbox.flush();
    const fwd = new Forwarder({
      outbox: store.outbox,
      logger,
      publisher: { publish: async (topic, payload) => void (await client.publishAsync(topic, payload, { qos: 1 })) },
      canSend: () => client.connected,
      // Unpaced: this measures the pipeline, not the platform-friendly default of 50/s.
      replayRatePerSec: 1_000_000,
      replayBurst: 1_000,
    });
    const began = performance.now();
    fwd.start();
    const deadline = began + 600_000;
    while (fwd.stats().acked < BACKLOG) {
      if (performance.now() > deadline) throw new Error(`replay stalled at ${fwd.stats().acked}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const secs = (performance.now() - began) / 1000;
    await fwd.stop();
    store.outbox.flush();
    const left = store.outbox.stats().depth;
    if (left !== 0 || received < BACKLOG) throw new Error(`replay incomplete: ${left} left, broker got ${received}`);
    process.stderr.write(`replay: ${BACKLOG} messages in ${secs.toFixed(2)} s, broker received ${received}\n`);
    return BACKLOG / secs;
  } finally {
    await client.endAsync();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const appendFull = await appendRate("full");
const appendNormal = await appendRate("normal");
const replay = await replayRate();
console.log(JSON.stringify({ appendFull: Math.round(appendFull), appendNormal: Math.round(appendNormal), replay: Math.round(replay) }));
