/**
 * The forwarder against a real broker: an in-process aedes and real mqtt.js clients over loopback. The gateway's
 * connection is cut in the middle of a replay; every stored message still arrives (at least once, same ids) and the
 * outbox ends empty.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { createLogger } from "../../src/ops/logger.js";
import { Forwarder, type Publisher } from "../../src/store/forwarder.js";
import { openStore } from "../../src/store/store.js";

/** What the cloud link does for the forwarder: QoS 1 publish, resolved on PUBACK, rejected when the connection drops. */
function linkPublisher(client: MqttClient): Publisher {
  const pending = new Set<(err: Error) => void>();
  client.on("close", () => {
    for (const reject of pending) reject(new Error("connection closed before PUBACK"));
    pending.clear();
  });
  return {
    publish(topic, payload) {
      if (!client.connected) return Promise.reject(new Error("not connected"));
      return new Promise<void>((resolve, reject) => {
        pending.add(reject);
        client.publish(topic, payload, { qos: 1 }, (err) => {
          pending.delete(reject);
          if (err) reject(err);
          else resolve();
        });
      });
    },
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a replay cut by a dropped connection completes after the reconnect, every message delivered", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-fwd-mqtt-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir, { logger: createLogger("silent"), sync: "full" });
  t.after(() => store.close());

  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  t.after(() => new Promise<void>((resolve) => broker.close(() => resolve())));
  let gwConn: { destroy(): void } | undefined;
  broker.on("client", (client) => {
    if (client.id === "fb-gw") gwConn = client.conn;
  });
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  const cloud = await mqtt.connectAsync(url, { clientId: "cloud", reconnectPeriod: 0 });
  t.after(() => cloud.endAsync(true));
  const received: string[] = [];
  cloud.on("message", (_topic, payload) => received.push((JSON.parse(payload.toString()) as { id: string }).id));
  await cloud.subscribeAsync("/sys/#", { qos: 1 });

  const total = 400;
  const stored: string[] = [];
  for (let i = 1; i <= total; i++) {
    const id = store.messageIds.next();
    stored.push(id);
    store.outbox.append([{ topic: `/sys/a1/gw/thing/event/property/post`, payload: JSON.stringify({ id, n: i }), msgId: id, devices: [], sampleTime: Date.now() }]);
  }
  store.outbox.flush();

  const gw = mqtt.connect(url, { clientId: "fb-gw", reconnectPeriod: 200, connectTimeout: 2_000 });
  t.after(() => gw.endAsync(true));
  gw.on("error", () => undefined);
  const fwd = new Forwarder({
    outbox: store.outbox,
    logger: createLogger("silent"),
    publisher: linkPublisher(gw),
    canSend: () => gw.connected,
    replayRatePerSec: 400,
    replayBurst: 20,
    retryDelayMs: 50,
  });
  t.after(() => fwd.stop(500));
  gw.on("connect", () => {
    (gw.stream as net.Socket).setNoDelay(true);
    fwd.wake();
  });
  gw.on("close", () => fwd.wake());
  fwd.start();
  await waitFor("a first part of the backlog", () => received.length >= 100);

  let reconnects = 0;
  gw.on("connect", () => reconnects++);
  assert.ok(gwConn, "the broker saw the gateway connect");
  gwConn.destroy(); // the link drops mid-replay
  await waitFor("the reconnect", () => reconnects >= 1);
  const live = store.messageIds.next();
  store.outbox.append([{ topic: `/sys/a1/gw/thing/event/property/post`, payload: JSON.stringify({ id: live, live: true }), msgId: live, devices: [], sampleTime: Date.now() }]);

  await waitFor("the outbox to drain", () => {
    store.outbox.flush();
    return store.outbox.stats().depth === 0 && fwd.stats().inFlight === 0;
  });
  await waitFor("the subscriber to receive everything", () => new Set(received).size === total + 1);
  const unique = new Set(received);
  for (const id of stored) assert.ok(unique.has(id), `message ${id} delivered`);
  assert.ok(unique.has(live));
  assert.ok(received.indexOf(live) < received.lastIndexOf(stored.at(-1)!), "the live message did not wait for the rest of the backlog");
  const s = fwd.stats();
  assert.equal(s.acked, total + 1);
  assert.ok(s.published >= total + 1);
});
