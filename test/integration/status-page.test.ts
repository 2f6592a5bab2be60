/// <reference lib="dom" />
/**
 * The technician's view against a running `fieldbridge run` with http.token set: the status page in headless
 * Chromium (cloud connected, every channel and device, a simulator change live within 3 s, a rejected config push
 * with its problems, sign-in), requests without the token refused, no secret of the test world anywhere on the
 * page or in its event stream, and `fieldbridge status` (healthy, unhealthy, wrong token, no http.listen, no
 * answer, not running).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { encryptOpcuaPassword } from "../../src/config/gateway/crypto.js";
import { DaemonProcess, runCli } from "../helpers/cli.js";
import { GATEWAY, makeRig, secretsIn, type TestRig } from "../helpers/daemon.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { launchChromium } from "../helpers/browser.js";
import type { TslDocument } from "../../src/things/tsl-types.js";

const TOKEN = "Status-Page-Token-7c1e9a55d2";
const OPCUA_PASSWORD = "Opc-Pw-Sp-4d8Q1z";

let emu: CloudEmulator;
let sim: ModbusTcpSimulator;
let rig: TestRig;
let daemon: DaemonProcess;
let browser: Browser;
let page: Page;
let base: string;
let goodDoc: Record<string, unknown>;
const subSecrets: string[] = [];
const keys = [0, 1].map((i) => `${METER}/${deviceName("meter", i)}`);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function request(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { headers, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };

/** The raw text of the first `n` events of /events (bounded). */
function eventStream(n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const req = http.get(`${base}/events`, { headers: auth, agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (text.split("\ndata: ").length - 1 + (text.startsWith("data: ") ? 1 : 0) >= n) {
          req.destroy();
          resolve(text);
        }
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`fewer than ${n} events within 10 s`)), 10_000);
    req.on("close", () => clearTimeout(timer));
    req.on("error", (e) => (text ? resolve(text) : reject(e)));
  });
}

/** The test world's TSL with units on two properties. */
function tslWithUnits(): TslDocument {
  const tsl = meterTsl(2);
  for (const p of tsl.properties!) {
    if (p.identifier === "P0") (p.dataType.specs as Record<string, string>)["unit"] = "kWh";
    if (p.identifier === "Level") (p.dataType.specs as Record<string, string>)["unit"] = "m";
  }
  return tsl;
}

function gatewayDoc(opcuaPort: number): Record<string, unknown> {
  const doc = modbusDoc({ devices: 2, points: 2, port: sim.port, pollingTime: 200 });
  doc["tslList"] = [tslWithUnits()];
  (doc["serverList"] as unknown[]).push({
    name: "opc-line", serverId: "TESTOPCUA01", url: `opc.tcp://127.0.0.1:${opcuaPort}`, secPolicy: "None", secMode: "None",
    userName: "operator", password: encryptOpcuaPassword(OPCUA_PASSWORD, GATEWAY.deviceSecret), timeout: 2,
  });
  return doc;
}

const allSecrets = () => [GATEWAY.deviceSecret, ...subSecrets, OPCUA_PASSWORD, encryptOpcuaPassword(OPCUA_PASSWORD, GATEWAY.deviceSecret), TOKEN];

/** A copy of the rig's config with `http` replaced. */
function configWith(name: string, httpSection: Record<string, unknown> | undefined): string {
  const cfg = JSON.parse(readFileSync(rig.configFile, "utf8")) as Record<string, unknown>;
  if (httpSection) cfg["http"] = httpSection;
  else delete cfg["http"];
  const file = join(rig.dir, name);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

before(async () => {
  emu = await CloudEmulator.start({ tls: false });
  emu.addDevice({ ...GATEWAY, gateway: true });
  emu.addProduct(METER, { tsl: tslWithUnits(), dynamicRegistration: true });
  for (const k of keys) subSecrets.push(emu.addDevice({ productKey: METER, deviceName: k.split("/")[1]! }).deviceSecret);
  sim = await ModbusTcpSimulator.start({ units: [1, 2] });
  sim.setHolding(1, 0, [0, 1234]);
  sim.setHolding(2, 0, [0, 4321]);

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  rig = makeRig(emu, {
    log: { level: "info" },
    http: { listen: `127.0.0.1:${port}`, token: TOKEN, unhealthyAfterSeconds: 300 },
    uplink: { batchWindowMs: 50 },
    subDevices: [{ productKey: METER, deviceName: deviceName("meter", 0), deviceSecret: subSecrets[0] }],
  });
  daemon = new DaemonProcess(["run", "--config", rig.configFile]);
  await daemon.waitForLog((l) => l["msg"] === "status endpoint listening", 20_000);
  await daemon.waitForLog((l) => l["msg"] === "connected to cloud", 15_000);
  goodDoc = gatewayDoc(await freePort());
  const push = await emu.pushConfig(GATEWAY, goodDoc);
  assert.equal(push.reply.code, 200, push.reply.message);
  await emu.waitFor(() => emu.onlineSessions(GATEWAY).length === 2, 15_000, "two sub-device sessions");
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await daemon?.stop("SIGKILL");
  await emu?.close();
  await sim?.close();
  rig?.cleanup();
});

test("without the token every endpoint is refused and the page sends the browser to the sign-in form", async () => {
  for (const p of ["/status", "/metrics", "/healthz", "/api/view", "/events", "/page.js"]) {
    const r = await request(p);
    assert.equal(r.status, 401, p);
    assert.deepEqual(secretsIn(r.body, allSecrets()), []);
    assert.doesNotMatch(r.body, /meter-000/);
  }
  assert.equal((await request("/status", { authorization: "Bearer Status-Page-Token-wrong0000" })).status, 401);
  const root = await request("/");
  assert.equal(root.status, 303);
  assert.equal(root.headers.location, "/login");
  assert.equal((await request("/status", auth)).status, 200);
});

test("in Chromium: sign in, then the cloud connected, every channel and every device with values and units", async () => {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login$/);
  await page.fill("#token", "not-the-token-0000000");
  await page.click("button[type=submit]");
  await page.getByText("Wrong token.").waitFor({ timeout: 5000 });
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/`, { timeout: 5000 });

  const cloud = page.getByTestId("cloud");
  await cloud.getByText("connected", { exact: true }).waitFor({ timeout: 10_000 });
  assert.match(await cloud.innerText(), /aliyun/);
  assert.match(await cloud.innerText(), /since/);
  assert.match(await page.getByTestId("health").innerText(), /^healthy$/);

  const tcp = page.locator('#channels tr[data-server-id="TESTMODBUSTCP01"]');
  const opc = page.locator('#channels tr[data-server-id="TESTOPCUA01"]');
  await tcp.waitFor({ timeout: 5000 });
  assert.match(await tcp.innerText(), /test-tcp[\s\S]*modbus-tcp[\s\S]*\bup\b/);
  assert.match(await opc.innerText(), /opc-line[\s\S]*opcua[\s\S]*\bdown\b/, "the OPC UA server of the document is not running");
  await page.waitForFunction(() => Number(document.querySelector('#channels tr[data-server-id="TESTMODBUSTCP01"] td:nth-child(4)')?.textContent) > 0, undefined, { timeout: 5000 });

  for (const k of keys) {
    const row = page.locator(`#devices tr[data-device="${k}"]`);
    await row.waitFor({ timeout: 5000 });
    assert.match(await row.innerText(), /online/);
  }
  await page.waitForFunction(() => /P0\s*1234 kWh/.test(document.querySelector('#devices tr[data-device$="meter-000"]')?.textContent ?? ""), undefined, { timeout: 5000 });
  assert.match(await page.locator(`#devices tr[data-device="${keys[1]}"]`).innerText(), /4321 kWh/);
  assert.match(await page.getByTestId("device-counts").innerText(), /online 2/);
  assert.match(await page.getByTestId("outbox").innerText(), /Depth\s+\d+ messages/);
  assert.equal(await page.locator("#chart svg").count(), 2, "values/s and outbox depth");
  assert.match(await page.getByTestId("chart").innerText(), /values\/s: now [\d.]+[\s\S]*outbox depth: now \d+/);
  assert.match(await page.getByTestId("config").innerText(), /2 channels, 2 devices[\s\S]*applied/);
  assert.equal(await page.locator("#logout").isVisible(), true, "a session to end");
});

test("a value changed in the simulator appears on the page within 3 s, without a reload", async () => {
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  const t0 = Date.now();
  sim.setHolding(1, 0, [0, 5678]);
  await page.waitForFunction(() => /P0\s*5678 kWh/.test(document.querySelector('#devices tr[data-device$="meter-000"]')?.textContent ?? ""), undefined, { timeout: 3000 });
  const ms = Date.now() - t0;
  assert.ok(ms < 3000, `${ms} ms`);
  assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, "same document");
});

test("the device search box filters by name", async () => {
  await page.fill("#search", "meter-001");
  await page.waitForFunction(() => document.querySelectorAll("#devices tr[data-device]").length === 1, undefined, { timeout: 3000 });
  assert.equal(await page.locator("#devices tr[data-device]").getAttribute("data-device"), keys[1]);
  assert.match(await page.getByTestId("page-info").innerText(), /1–1 of 1 \(of 2\)/);
  await page.fill("#search", "");
  await page.waitForFunction(() => document.querySelectorAll("#devices tr[data-device]").length === 2, undefined, { timeout: 3000 });
});

test("nothing on the page, in its event stream or its endpoints holds a secret of the test world (nor the token)", async () => {
  const texts = [
    await page.content(),
    await page.evaluate(() => document.documentElement.outerHTML),
    await eventStream(3),
    (await request("/api/view?size=200", auth)).body,
    (await request("/status", auth)).body,
    (await request("/metrics", auth)).body,
    (await request("/page.js", auth)).body,
  ];
  assert.equal(subSecrets.length, 2);
  for (const t of texts) assert.deepEqual(secretsIn(t, allSecrets()), []);
  const cookies = await page.context().cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0]!.httpOnly, true);
  assert.equal(cookies[0]!.sameSite, "Strict");
  assert.deepEqual(secretsIn(cookies[0]!.value, allSecrets()), []);
});

test("fieldbridge status: exit 0 and the picture while healthy", async () => {
  const r = await runCli(["status", "--config", rig.configFile], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^fieldbridge \S+ {2}a1TestGw\/gw-test-01 {2}up /);
  assert.match(r.stdout, /\nHEALTHY\n/);
  assert.match(r.stdout, /Cloud {4}aliyun: connected since /);
  assert.match(r.stdout, /test-tcp +TESTMODBUSTCP01 +modbus-tcp +up/);
  assert.match(r.stdout, /opc-line +TESTOPCUA01 +opcua +DOWN/);
  assert.match(r.stdout, /Devices {2}2 of 2 online/);
  assert.match(r.stdout, /meter-000 +a1TestMeter|meter-000 +\S+ +TESTMODBUSTCP01 +online/);
  assert.match(r.stdout, /P0=5678 kWh/);
  assert.deepEqual(secretsIn(r.stdout + r.stderr, allSecrets()), []);
});

test("a rejected config push appears on the page with its problems and in the warnings; fieldbridge status exits 1; a good push heals it", async () => {
  const bad = structuredClone(goodDoc) as { deviceList: Array<{ deviceConfig: Record<string, unknown> }> };
  bad.deviceList[0]!.deviceConfig["serverId"] = "NO-SUCH-CHANNEL";
  const push = await emu.pushConfig(GATEWAY, bad);
  assert.notEqual(push.reply.code, 200);

  const err = page.getByTestId("config-error");
  await err.waitFor({ timeout: 5000 });
  const text = await err.innerText();
  assert.match(text, /rejected — previous config still runs/);
  assert.match(text, /validation/);
  assert.match(text, /NO-SUCH-CHANNEL/);
  await page.waitForFunction(() => /unhealthy: gateway config not applied/.test(document.getElementById("health")?.textContent ?? ""), undefined, { timeout: 3000 });
  await page.waitForFunction(() => (document.getElementById("logs")?.textContent ?? "").includes("warn"), undefined, { timeout: 3000 });
  assert.deepEqual(secretsIn(await page.content(), allSecrets()), [], "the problems and warnings shown hold no secret");

  const r = await runCli(["status", "--config", rig.configFile], { timeoutMs: 10_000 });
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.match(r.stdout, /\nUNHEALTHY: gateway config not applied/);
  assert.match(r.stdout, /REJECTED \(the previous config still runs\)/);
  assert.match(r.stdout, /- .*NO-SUCH-CHANNEL/);
  assert.match(r.stdout, /Recent warnings and errors/);

  const good = await emu.pushConfig(GATEWAY, goodDoc);
  assert.equal(good.reply.code, 200, good.reply.message);
  assert.equal((await runCli(["status", "--config", rig.configFile], { timeoutMs: 10_000 })).code, 0);
  await page.waitForFunction(() => /rejected earlier/.test(document.querySelector('[data-testid="config-error"]')?.textContent ?? ""), undefined, { timeout: 3000 });
});

test("fieldbridge status: exit 2 with the reason for a wrong token, no http.listen, and a daemon that does not answer", async () => {
  const wrong = await runCli(["status", "--config", configWith("wrong-token.json", { listen: new URL(base).host, token: "Another-Token-000000" })], { timeoutMs: 10_000 });
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /refused the request: http\.token of this config is not the daemon's/);
  assert.doesNotMatch(wrong.stderr, /Another-Token/);
  const noToken = await runCli(["status", "--config", configWith("no-token.json", { listen: new URL(base).host })], { timeoutMs: 10_000 });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /needs http\.token/);
  const none = await runCli(["status", "--config", configWith("no-listen.json", undefined)], { timeoutMs: 10_000 });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /sets no http\.listen/);

  // A listener that accepts and never answers: given up after 3 s.
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const r = await runCli(["status", "--config", configWith("silent.json", { listen: `127.0.0.1:${port}` })], { timeoutMs: 10_000 });
    const ms = Date.now() - t0;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not reachable at 127\.0\.0\.1:\d+: no answer within 3 s/);
    assert.ok(ms >= 2900 && ms < 8000, `${ms} ms`);
  } finally {
    silent.close();
  }
});

test("fieldbridge check warns (exit 0) about a listener reachable from the network without http.token", async () => {
  const open = await runCli(["check", "--config", configWith("open.json", { listen: "0.0.0.0:9180" })]);
  assert.equal(open.code, 0, open.stdout + open.stderr);
  assert.match(open.stdout, /warning: http\.listen is 0\.0\.0\.0:9180 .* http\.token is not set/);
  const closed = await runCli(["check", "--config", configWith("closed.json", { listen: "0.0.0.0:9180", token: TOKEN })]);
  assert.equal(closed.code, 0);
  assert.doesNotMatch(closed.stdout, /warning/);
  assert.deepEqual(secretsIn(closed.stdout + closed.stderr, [TOKEN]), []);
  const short = await runCli(["check", "--config", configWith("short.json", { listen: "127.0.0.1:9180", token: "short" })]);
  assert.equal(short.code, 1);
  assert.match(short.stdout, /http\.token: must NOT have fewer than 16 characters/);
});

test("with the daemon stopped, fieldbridge status exits 2: connection refused; the daemon's own output held no secret", async () => {
  const stopped = await daemon.stop("SIGTERM");
  assert.equal(stopped.code, 0, daemon.stderr);
  const r = await runCli(["status", "--config", rig.configFile], { timeoutMs: 10_000 });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /daemon not reachable at 127\.0\.0\.1:\d+: connection refused \(is fieldbridge running\?\)/);
  assert.equal(r.stdout, "");
  assert.deepEqual(secretsIn(daemon.stdout + daemon.stderr, allSecrets()), []);
});
