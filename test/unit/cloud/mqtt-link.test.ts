/**
 * MqttLink against a server that accepts TCP connections and never answers CONNECT: the attempt times out after
 * the connect timeout (the platforms' specs: 10 s by default) and the link tries again with its backoff, instead of
 * hanging on one silent attempt.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import net from "node:net";
import { test } from "node:test";
import { Aedes } from "aedes";
import { pino } from "pino";
import { MqttLink } from "../../../src/cloud/mqtt/link.js";

test("no CONNACK within the connect timeout: the attempt fails and the link tries again", async (t) => {
  const attempts: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    attempts.push(Date.now());
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const link = new MqttLink({
    host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, tls: false, keepaliveSeconds: 60,
    credentials: () => ({ clientId: "silent-test" }),
    reconnectMinMs: 100, reconnectMaxMs: 200, connectTimeoutMs: 600,
    logger: pino({ level: "silent" }),
  });
  const started = Date.now();
  link.start();
  t.after(() => link.stop());
  const deadline = Date.now() + 5_000;
  while (attempts.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  assert.ok(attempts.length >= 2, `a second attempt within 5 s (attempts: ${attempts.length})`);
  const gap = attempts[1]! - attempts[0]!;
  assert.ok(gap >= 500, `the first attempt waited for its timeout (${gap} ms)`);
  assert.ok(attempts[1]! - started < 3_000, "and did not wait for mqtt.js's 30 s default");
  assert.equal(link.connected, false);
});

test("the link publishes without mqtt-packet's 65,536-buffer number table (about 6 MB of heap kept for good)", async (t) => {
  const require = createRequire(import.meta.url);
  const numbers = require("mqtt-packet/numbers.js") as { cache: Record<number, Buffer> };
  const broker = await Aedes.createBroker();
  const got: string[] = [];
  broker.on("publish", (packet, client) => {
    if (client) got.push(`${packet.topic} ${packet.payload.toString()}`);
  });
  const server = net.createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  const link = new MqttLink({
    host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, tls: false, keepaliveSeconds: 60,
    credentials: () => ({ clientId: "table-test" }),
    reconnectMinMs: 100, reconnectMaxMs: 200,
    logger: pino({ level: "silent" }),
  });
  link.start();
  t.after(() => link.stop());
  const deadline = Date.now() + 5_000;
  while (!link.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(link.connected, "connected within 5 s");
  await link.publish("t/one", "1", 1);
  await link.publish("t/two", "2", 1);
  assert.deepEqual(got, ["t/one 1", "t/two 2"], "QoS 1 publishes (with packet ids) arrive");
  assert.equal(Object.keys(numbers.cache).length, 0, "the number table was never built");
});
