/**
 * MqttLink against a server that accepts TCP connections and never answers CONNECT: the attempt times out after
 * the connect timeout (the platforms' specs: 10 s by default) and the link tries again with its backoff, instead of
 * hanging on one silent attempt.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
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
