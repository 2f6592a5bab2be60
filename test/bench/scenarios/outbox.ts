/**
 * Outbox throughput: append rate with sync "full" and "normal", and the replay rate of a backlog (default
 * 100,000 messages) through the forwarder to an in-process aedes broker over a real MQTT connection
 * (QoS 1, delete on PUBACK). The store runs in this process: what is measured is the store and the forwarder.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import mqtt from "mqtt";
import { createLogger } from "../../../src/ops/logger.js";
import { Forwarder } from "../../../src/store/forwarder.js";
import type { OutboxItem } from "../../../src/store/outbox-types.js";
import { openStore, type SyncMode } from "../../../src/store/store.js";
import { env } from "../lib/env.js";
import type { ScenarioBody } from "../lib/result.js";
import { fmtInt } from "../lib/stats.js";

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
  return fs.mkdtempSync(path.join(os.tmpdir(), "fb-bench-outbox-"));
}

/** Messages per second appended one at a time, as producers do, with the store's own commit batching. */
export async function appendRate(sync: SyncMode, count: number): Promise<number> {
  const dir = tempDir();
  const store = openStore(dir, { logger, sync, outbox: { maxBytes: 1024 * 1024 * 1024 } });
  try {
    const items = Array.from({ length: count }, (_, i) => propertyPost(i + 1, i % 20));
    const began = performance.now();
    for (let i = 0; i < items.length; i++) {
      store.outbox.append([items[i]!]);
      // Producers append from many callbacks; give the batch timer its turn as a running daemon would.
      if (i % 100 === 99) await yieldToLoop();
    }
    store.outbox.flush();
    const secs = (performance.now() - began) / 1000;
    if (store.outbox.stats().depth !== count) throw new Error(`append lost entries: ${store.outbox.stats().depth} of ${count}`);
    return count / secs;
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Messages per second replayed from a backlog of `backlog` entries, each deleted on its PUBACK. */
export async function replayRate(backlog: number): Promise<number> {
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
    for (let i = 0; i < backlog; i += 1000) {
      store.outbox.append(Array.from({ length: Math.min(1000, backlog - i) }, (_, k) => propertyPost(i + k + 1, (i + k) % 20)));
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
    while (fwd.stats().acked < backlog) {
      if (performance.now() > deadline) throw new Error(`replay stalled at ${fwd.stats().acked} of ${backlog}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const secs = (performance.now() - began) / 1000;
    await fwd.stop();
    store.outbox.flush();
    const left = store.outbox.stats().depth;
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
    params: { append: count, backlog, payloadBytes: propertyPost(1, 1).payload.length },
    metrics: { appendFullPerSec: appendFull, appendNormalPerSec: appendNormal, replayPerSec: replay },
    rows: [
      { label: "Outbox append, store.sync full", measured: `${fmtInt(appendFull)} msg/s`, target: "≥ 20,000 msg/s", met: appendFull >= 20_000 },
      { label: "Outbox append, store.sync normal", measured: `${fmtInt(appendNormal)} msg/s` },
      {
        label: `Outbox replay, ${fmtInt(backlog)} backlog → local broker`,
        measured: `${fmtInt(replay)} msg/s (QoS 1, deleted on PUBACK)`,
        target: "≥ 5,000 msg/s",
        met: replay >= 5_000,
      },
    ],
    notes: [
      `Outbox: ${fmtInt(count)} property posts of ${propertyPost(1, 1).payload.length} bytes appended one per call (the outbox commits them in batches); ` +
        `the replay runs the forwarder unpaced (store.replayRatePerSecond defaults to 50/s to spare the platform) over plain MQTT to aedes in the same process.`,
    ],
  };
}
