/**
 * The parts of the status page that need no daemon: the one-hour ring and its rates, the warning ring tapped from
 * the real logger (secrets redacted), the view (old and new status documents, 1,500 devices one page at a time),
 * the access token (bearer, sign-in form, cookie, rate of wrong tokens), the event stream, and the terminal table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Writable } from "node:stream";
import { Ring, StatusHistory, type ChannelCounters } from "../../src/ops/history.js";
import { LogRing } from "../../src/ops/log-ring.js";
import { createLogger } from "../../src/ops/logger.js";
import { buildView, parseViewQuery, isoOf, type ViewExtras } from "../../src/ops/status-view.js";
import { accessWarning, isLoopbackListen, sameSecret, sessionValue, SESSION_COOKIE } from "../../src/ops/access.js";
import { OpsServer, type OpsHandlers } from "../../src/ops/http.js";
import { render, table } from "../../src/ops/status-command.js";
import { captureLogger } from "../helpers/log-capture.js";

const TOKEN = "t0ken-For-The-Status-Page-42";
const noExtras: ViewExtras = { history: [], rates: () => ({ requestsPerSecond: 0, errorsPerSecond: 0, timeoutsPerSecond: 0 }), logs: [] };

test("Ring keeps the last `capacity` items, oldest first", () => {
  const r = new Ring<number>(3);
  assert.deepEqual(r.toArray(), []);
  for (let i = 1; i <= 7; i++) r.push(i);
  assert.deepEqual(r.toArray(), [5, 6, 7]);
  assert.equal(r.size, 3);
  assert.throws(() => new Ring(0), /positive integer/);
});

test("StatusHistory: one point per interval for an hour (360 at 10 s), rates over the last interval", () => {
  let now = 1_000_000;
  let values = 0;
  let depth = 0;
  const ch: ChannelCounters = { serverId: "S1", requests: 0, errors: 0, timeouts: 0 };
  const h = new StatusHistory({ outboxDepth: () => depth, valuesReported: () => values, channels: () => [ch] }, 10_000, 3_600_000, () => now);
  assert.equal(h.points.capacity, 360);
  assert.deepEqual(h.channelRates("S1"), { requestsPerSecond: 0, errorsPerSecond: 0, timeoutsPerSecond: 0 });
  // Five samples per interval (every 2 s): 10 requests/s, 1 error/s, 20 values/s.
  for (let i = 0; i < 5; i++) {
    now += 2000;
    ch.requests += 20;
    ch.errors += 2;
    values += 40;
    depth = 7;
    h.step();
  }
  assert.deepEqual(h.channelRates("S1"), { requestsPerSecond: 10, errorsPerSecond: 1, timeoutsPerSecond: 0 });
  assert.deepEqual(h.history(), [{ t: now, outboxDepth: 7, valuesPerSecond: 20 }]);
  assert.equal(h.channelRates("nope").requestsPerSecond, 0);
  // A counter that restarts (channel re-created) reads 0, not a negative rate.
  now += 2000;
  ch.requests = 0;
  h.step();
  assert.ok(h.channelRates("S1").requestsPerSecond >= 0);
  // Two hours later the ring holds exactly the last hour.
  for (let i = 0; i < 3600; i++) {
    now += 2000;
    values += 10;
    h.step();
  }
  const pts = h.history();
  assert.equal(pts.length, 360);
  assert.ok(pts[pts.length - 1]!.t - pts[0]!.t <= 3_600_000);
  assert.equal(pts[pts.length - 1]!.valuesPerSecond, 5);
  // A source that throws (a part stopping) skips the sample.
  const broken = new StatusHistory({ outboxDepth: () => { throw new Error("closed"); }, valuesReported: () => 0, channels: () => [] });
  assert.doesNotThrow(() => broken.step());
});

test("LogRing taps the real logger: warn and above only, newest first, at most 50, every secret field redacted at any depth", () => {
  const ring = new LogRing(50);
  let written = "";
  const sink = new Writable({ write(c: Buffer, _e, cb) { written += c.toString(); cb(); } });
  const logger = createLogger("debug", sink, ring);
  logger.info("an info line");
  logger.warn({ deviceSecret: "S3cret-Dev-1", device: "pk/dev" }, "login refused");
  logger.error({ outer: { mid: { inner: { deep: { password: "Deep-Pw-77", token: "Tok-abcdef" } } } }, sign: "sig-xyz" }, "deeply nested");
  logger.child({ component: "config" }).warn({ err: "bad doc" }, "gateway config rejected");
  const recs = ring.records();
  assert.deepEqual(recs.map((r) => r.msg), ["gateway config rejected", "deeply nested", "login refused"]);
  assert.equal(recs[0]!.fields["component"], "config");
  assert.equal(recs[2]!.fields["deviceSecret"], "[redacted]");
  assert.equal(recs[2]!.fields["device"], "pk/dev");
  assert.equal(recs[1]!.level, "error");
  const text = JSON.stringify(recs);
  for (const s of ["S3cret-Dev-1", "Deep-Pw-77", "Tok-abcdef", "sig-xyz"]) assert.ok(!text.includes(s), `${s} not on the page`);
  for (const s of ["S3cret-Dev-1", "Deep-Pw-77", "Tok-abcdef", "sig-xyz"]) assert.ok(!written.includes(s), `${s} not in the log either (deeper than pino's redaction paths too)`);
  assert.match(written, /"deep":\{"password":"\[redacted\]","token":"\[redacted\]"\}/);
  assert.ok(written.includes("an info line"), "the log still gets every line");
  for (let i = 0; i < 60; i++) logger.warn({ i }, "flood");
  assert.equal(ring.records().length, 50);
  assert.equal(ring.records()[0]!.fields["i"], 59);
});

function legacyDoc(devices: number) {
  return {
    gateway: { productKey: "pkGw", deviceName: "gw-1", version: "1.2.3", uptimeSeconds: 90 },
    health: { ok: true, reason: null },
    connection: { connected: true, host: "h", port: 8883, tls: true, platform: "aliyun", downSince: null, connectedSince: "2026-01-01T00:00:00.000Z", connects: 1, disconnects: 0 },
    config: { version: "abc", appliedAt: "2026-01-01T00:00:00.000Z", source: "push", channels: 1, devices, warnings: [], lastError: null, failing: false },
    channels: [{ serverId: "S1", name: "line-1", protocol: "modbus-rtu", up: true, reason: null, requests: 5, errors: 0, timeouts: 0, lastPollMs: 120, busUtilisation: 0.42 }],
    subDevices: Array.from({ length: devices }, (_, i) => ({
      productKey: "pkM", deviceName: `meter-${String(i).padStart(4, "0")}`, serverId: "S1",
      state: i % 100 === 7 ? "offline" : "online", reason: i % 100 === 7 ? "field unreachable" : null,
      lastLoginAt: "2026-01-01T00:00:01.000Z", lastSampleAt: "2026-01-01T00:00:02.000Z", values: { V: 230.5, E: 10 },
    })),
    units: { pkM: { V: "V" } },
    outbox: { depth: 3, bytes: 2048, oldestAgeSeconds: 4, inFlight: 1, writable: true },
  };
}

test("buildView over today's document: 1,500 devices become one page of 50, a name search, a problem filter, units from the TSL", () => {
  const doc = legacyDoc(1500);
  const v = buildView(doc, parseViewQuery(new URLSearchParams("")), noExtras);
  assert.equal(v.devices.total, 1500);
  assert.equal(v.devices.items.length, 50);
  assert.equal(v.devices.pages, 30);
  assert.deepEqual(v.devices.byState, { online: 1485, offline: 15 });
  assert.equal(v.devices.notOnline.length, 15);
  assert.equal(v.devices.notOnline[0]!.reason, "field unreachable");
  assert.deepEqual(v.devices.items[0]!.values, [{ id: "V", value: 230.5, unit: "V" }, { id: "E", value: 10, unit: null }]);
  assert.equal(v.cloud.platform, "aliyun");
  assert.equal(v.cloud.since, "2026-01-01T00:00:00.000Z");
  assert.equal(v.cloud.endpoint, "h:8883 (TLS)");
  assert.equal(v.channels[0]!.busUtilisation, 0.42);
  assert.ok(JSON.stringify(v).length < 40_000, "one picture stays small with 1,500 devices");

  const found = buildView(doc, parseViewQuery(new URLSearchParams("q=METER-1234")), noExtras);
  assert.deepEqual(found.devices.items.map((d) => d.deviceName), ["meter-1234"]);
  assert.equal(found.devices.matches, 1);
  const problems = buildView(doc, parseViewQuery(new URLSearchParams("state=problem&size=10&page=1")), noExtras);
  assert.equal(problems.devices.matches, 15);
  assert.deepEqual(problems.devices.items.map((d) => d.deviceName), ["meter-1007", "meter-1107", "meter-1207", "meter-1307", "meter-1407"]);
  const beyond = buildView(doc, parseViewQuery(new URLSearchParams("page=999&size=1000")), noExtras);
  assert.equal(beyond.devices.query.size, 200, "the page size is capped");
  assert.equal(beyond.devices.query.page, 7, "a page past the end shows the last one");
  assert.equal(isoOf(0), null);
  assert.equal(isoOf(86_400_000), "1970-01-02T00:00:00.000Z");
});

test("buildView prefers `cloud` (PlatformStatus): per-device platform routes and device states counted, the ones not online listed", () => {
  const doc: Record<string, unknown> = legacyDoc(3);
  doc["cloud"] = {
    platform: "huawei", connected: false, downSince: 1_767_225_600_000,
    routes: [
      { route: "gateway", state: "backoff", since: 1_767_225_600_000, reason: "connection refused", reconnects: 4 },
      { route: "pkM/meter-0000", state: "online", since: 1_767_225_000_000, reconnects: 0 },
      { route: "pkM/meter-0001", state: "refused", since: 1_767_225_100_000, reason: "bad credentials", reconnects: 2 },
    ],
    devices: [
      { device: "pkM/meter-0000", state: "online", online: true, since: 1_767_225_000_000 },
      { device: "pkM/meter-0001", state: "refused", online: false, since: 1_767_225_100_000, reason: "bad credentials" },
      { device: "pkM/only-cloud", state: "noCredentials", online: false, since: 0 },
    ],
    counters: { publishes: 12 },
  };
  const v = buildView(doc, parseViewQuery(new URLSearchParams("")), noExtras);
  assert.equal(v.cloud.platform, "huawei");
  assert.equal(v.cloud.connected, false);
  assert.equal(v.cloud.downSince, new Date(1_767_225_600_000).toISOString());
  assert.deepEqual(v.cloud.routes!.byState, { backoff: 1, online: 1, refused: 1 });
  assert.deepEqual(v.cloud.routes!.notOnline.map((r) => r.route), ["gateway", "pkM/meter-0001"]);
  assert.equal(v.devices.total, 4);
  assert.deepEqual(v.devices.byState, { online: 2, refused: 1, noCredentials: 1 });
  const m1 = v.devices.items.find((d) => d.deviceName === "meter-0001")!;
  assert.deepEqual([m1.state, m1.online, m1.reason], ["refused", false, "bad credentials"]);
  assert.ok(v.devices.items.some((d) => d.deviceName === "only-cloud" && d.state === "noCredentials"));
});

test("access: constant-time comparison, loopback detection, the warning for an open listener without a token", () => {
  assert.equal(sameSecret(TOKEN, TOKEN), true);
  assert.equal(sameSecret(TOKEN.slice(0, -1), TOKEN), false);
  assert.equal(sameSecret("", TOKEN), false);
  assert.notEqual(sessionValue(TOKEN), TOKEN);
  assert.ok(!sessionValue(TOKEN).includes(TOKEN));
  for (const l of ["127.0.0.1:9180", "127.1.2.3:1", "localhost:9180", "[::1]:9180"]) assert.equal(isLoopbackListen(l), true, l);
  for (const l of ["0.0.0.0:9180", "[::]:9180", "192.168.1.10:9180", "gateway.local:9180"]) assert.equal(isLoopbackListen(l), false, l);
  assert.equal(accessWarning({ listen: "127.0.0.1:9180" }), undefined);
  assert.equal(accessWarning({}), undefined);
  assert.equal(accessWarning({ listen: "0.0.0.0:9180", token: TOKEN }), undefined);
  assert.match(accessWarning({ listen: "0.0.0.0:9180" })!, /http\.token is not set/);
});

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }
function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: opts.headers, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** The first `n` events of /events, then the connection is closed. */
function events(port: number, path: string, n: number, headers: Record<string, string> = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const req = http.get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) got.push(data);
          if (got.length >= n) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error("no events")));
    req.on("error", (e) => (got.length >= n ? undefined : reject(e)));
  });
}

function pageServer(token?: string) {
  let n = 0;
  const handlers: OpsHandlers = {
    health: () => ({ ok: true }),
    status: () => legacyDoc(120),
    metrics: () => "# HELP x x\n# TYPE x gauge\nx 1\n",
    view: (q) => ({ ...buildView(legacyDoc(120), q, noExtras), n: n++ }),
  };
  return new OpsServer("127.0.0.1:0", handlers, captureLogger("info").logger, { token, eventIntervalMs: 100, maxEventStreams: 2 });
}

test("with http.token every path needs it: Bearer, or the cookie the sign-in form sets (HttpOnly, SameSite=Strict)", async (t) => {
  const ops = pageServer(TOKEN);
  await ops.start();
  t.after(() => ops.stop());
  for (const p of ["/status", "/metrics", "/healthz", "/api/view", "/events", "/page.js"]) {
    const r = await request(ops.port, p);
    assert.equal(r.status, 401, p);
    assert.equal(r.headers["www-authenticate"], 'Bearer realm="fieldbridge"');
    assert.ok(!r.body.includes("meter-"), `${p} shows nothing without the token`);
  }
  const root = await request(ops.port, "/");
  assert.deepEqual([root.status, root.headers.location], [303, "/login"]);
  assert.equal((await request(ops.port, "/status", { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
  assert.equal((await request(ops.port, "/status", { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  assert.equal((await request(ops.port, "/status", { headers: { cookie: `${SESSION_COOKIE}=${TOKEN}` } })).status, 401, "the token itself is not a session");

  const form = await request(ops.port, "/login");
  assert.equal(form.status, 200);
  assert.match(form.body, /<form method="post" action="\/login">/);
  assert.match(String(form.headers["content-security-policy"]), /default-src 'none'/);
  assert.equal((await request(ops.port, "/page.css")).status, 200, "the sign-in form's stylesheet");

  const post = (token: string) => request(ops.port, "/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token }).toString() });
  const good = await post(TOKEN);
  assert.equal(good.status, 303);
  const cookie = String(good.headers["set-cookie"]);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.ok(!cookie.includes(TOKEN), "the cookie does not carry the token");
  const session = cookie.split(";")[0]!;
  const withCookie = await request(ops.port, "/", { headers: { cookie: session } });
  assert.equal(withCookie.status, 200);
  assert.match(withCookie.body, /<script src="\/page.js" defer><\/script>/);

  // Wrong tokens: refused, then slowed down.
  const codes: number[] = [];
  for (let i = 0; i < 8; i++) codes.push((await post(`wrong-token-${i}-xxxxxxxx`)).status);
  assert.equal(codes[0], 401);
  assert.ok(codes.includes(429), `codes: ${codes}`);
});

test("/events streams the picture every interval for one filter and page; /api/view answers one; the number of streams is bounded", async (t) => {
  const ops = pageServer();
  await ops.start();
  t.after(() => ops.stop());
  const got = (await events(ops.port, "/events?q=meter-01&size=5", 3)).map((e) => JSON.parse(e));
  assert.equal(got.length, 3);
  assert.ok(got[2].n > got[0].n, "each event is a new picture");
  assert.deepEqual(got[0].devices.items.map((d: { deviceName: string }) => d.deviceName), ["meter-0100", "meter-0101", "meter-0102", "meter-0103", "meter-0104"]);
  assert.equal(got[0].devices.matches, 20);
  const one = await request(ops.port, "/api/view?state=problem");
  assert.equal(one.status, 200);
  assert.equal(JSON.parse(one.body).devices.matches, 2);
  // Two streams open: the third is refused.
  const held: http.ClientRequest[] = [];
  for (let i = 0; i < 2; i++) {
    await new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port: ops.port, path: "/events", agent: false }, () => resolve());
      req.on("error", () => undefined);
      held.push(req);
    });
  }
  assert.equal((await request(ops.port, "/events")).status, 503);
  for (const r of held) r.destroy();
  assert.equal((await request(ops.port, "/nope")).status, 404);
  assert.equal((await request(ops.port, "/login")).headers.location, "/", "no sign-in without a token");
});

test("the terminal table: aligned columns, health first, the devices not online with their reason", () => {
  assert.equal(table(["A", "NUM"], [["xyz", "1"], ["q", "100"]], new Set([1])), "A    NUM\n---  ---\nxyz    1\nq    100\n");
  const doc = { ...legacyDoc(120), health: { ok: false, reason: "gateway config not applied: bad" } };
  const text = render(buildView(doc, parseViewQuery(new URLSearchParams("size=50")), noExtras));
  assert.match(text, /^fieldbridge 1\.2\.3 {2}pkGw\/gw-1 {2}up 90 s\nUNHEALTHY: gateway config not applied: bad\n/);
  assert.match(text, /Cloud {4}aliyun: connected since 2026-01-01T00:00:00\.000Z/);
  assert.match(text, /line-1 +S1 +modbus-rtu +up +0 +0 +0 +120 ms +42 %/);
  assert.match(text, /Devices {2}118 of 120 online/);
  assert.match(text, /meter-0007 +pkM +S1 +offline \(field unreachable\)/);
  assert.match(text, /V=230\.5 V E=10/);
  assert.match(text, /118 more devices, all online, not listed/);
});
