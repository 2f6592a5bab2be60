import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { OpsServer, parseListen, type OpsHandlers } from "../../src/ops/http.js";
import { captureLogger } from "../helpers/log-capture.js";

function get(port: number, path: string, agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
  });
}

test("parseListen reads host:port and [v6]:port and refuses what it cannot listen on", () => {
  assert.deepEqual(parseListen("127.0.0.1:9180"), { host: "127.0.0.1", port: 9180 });
  assert.deepEqual(parseListen("localhost:0"), { host: "localhost", port: 0 });
  assert.deepEqual(parseListen("[::1]:9180"), { host: "::1", port: 9180 });
  assert.throws(() => parseListen("9180"), /host:port/);
  assert.throws(() => parseListen("127.0.0.1:70000"), /host:port/);
  assert.throws(() => parseListen(":9180"), /host:port/);
});

test("OpsServer answers the three paths from its handlers, with no caching, and logs a failing handler once", async (t) => {
  let healthy: { ok: boolean; reason?: string } = { ok: true };
  let fail = false;
  const handlers: OpsHandlers = {
    health: () => healthy,
    status: () => {
      if (fail) throw new Error("store closed");
      return { connection: { connected: true } };
    },
    metrics: () => "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n",
  };
  const log = captureLogger("info");
  const lines = log.lines();
  const ops = new OpsServer("127.0.0.1:0", handlers, log.logger);
  await ops.start();
  t.after(() => ops.stop());
  assert.ok(ops.port > 0);
  assert.ok(lines.some((l) => l["msg"] === "status endpoint listening" && l["port"] === ops.port));

  const ok = await get(ops.port, "/healthz");
  assert.deepEqual([ok.status, ok.body, ok.headers["cache-control"]], [200, "ok\n", "no-store"]);
  healthy = { ok: false, reason: "cloud unreachable for 400 s" };
  const bad = await get(ops.port, "/healthz");
  assert.deepEqual([bad.status, bad.body], [503, "unhealthy: cloud unreachable for 400 s\n"]);

  const st = await get(ops.port, "/status");
  assert.equal(st.status, 200);
  assert.match(String(st.headers["content-type"]), /^application\/json/);
  assert.deepEqual(JSON.parse(st.body), { connection: { connected: true } });
  const m = await get(ops.port, "/metrics");
  assert.match(String(m.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  assert.equal(m.body, "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n");

  fail = true;
  for (let i = 0; i < 3; i++) {
    const e = await get(ops.port, "/status");
    assert.equal(e.status, 500);
    assert.doesNotMatch(e.body, /store closed/, "internals stay in the log");
  }
  assert.equal(lines.filter((l) => l["msg"] === "status endpoint error").length, 1, "logged once, not per scrape");
  assert.equal((await get(ops.port, "/metrics")).status, 200, "other paths unaffected");
  fail = false;
  assert.equal((await get(ops.port, "/status")).status, 200);
  fail = true;
  assert.equal((await get(ops.port, "/status")).status, 500);
  assert.equal(lines.filter((l) => l["msg"] === "status endpoint error").length, 2, "a failure after a recovery is logged again");
});

test("OpsServer.stop closes idle keep-alive connections at once, and start fails on a port in use", async () => {
  const ops = new OpsServer("127.0.0.1:0", { health: () => ({ ok: true }), status: () => ({}), metrics: () => "" }, captureLogger("info").logger);
  await ops.start();
  const port = ops.port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal((await get(port, "/healthz", agent)).status, 200);
    const t0 = Date.now();
    await ops.stop();
    assert.ok(Date.now() - t0 < 2000, `stopped in ${Date.now() - t0} ms with a keep-alive client`);
    await assert.rejects(get(port, "/healthz"), /ECONNREFUSED/);
  } finally {
    agent.destroy();
  }

  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  try {
    const busy = new OpsServer(`127.0.0.1:${(blocker.address() as net.AddressInfo).port}`, { health: () => ({ ok: true }), status: () => ({}), metrics: () => "" }, captureLogger("info").logger);
    await assert.rejects(busy.start(), /EADDRINUSE/);
    await busy.stop();
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});
