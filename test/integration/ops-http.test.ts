/**
 * The local status endpoint of `fieldbridge run` (http.listen): /healthz, /status and /metrics against the cloud
 * emulator, with a pushed gateway config that polls a Modbus TCP simulator and names an OPC UA server with a
 * password.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { encryptOpcuaPassword } from "../../src/config/gateway/crypto.js";
import { DaemonProcess } from "../helpers/cli.js";
import { GATEWAY, makeRig, secretsIn, type TestRig } from "../helpers/daemon.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";

const OPCUA_PASSWORD = "Opc-Pw-9f3K2x";
const UNHEALTHY_AFTER_S = 3;

let emu: CloudEmulator;
let sim: ModbusTcpSimulator;
let rig: TestRig;
let daemon: DaemonProcess;
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

interface Reply {
  status: number;
  type: string;
  body: string;
}

function request(path: string, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

async function statusDoc(): Promise<Record<string, any>> {
  const r = await request("/status");
  assert.equal(r.status, 200);
  assert.match(r.type, /^application\/json/);
  return JSON.parse(r.body) as Record<string, any>;
}

async function until(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A gateway config document: two meters on the Modbus TCP simulator, plus an OPC UA server with a password. */
function document(opcuaPort: number): Record<string, unknown> {
  const doc = modbusDoc({ devices: 2, points: 2, port: sim.port, pollingTime: 200 });
  (doc["serverList"] as unknown[]).push({
    name: "opc-line", serverId: "TESTOPCUA01", url: `opc.tcp://127.0.0.1:${opcuaPort}`, secPolicy: "None", secMode: "None",
    userName: "operator", password: encryptOpcuaPassword(OPCUA_PASSWORD, GATEWAY.deviceSecret), timeout: 2,
  });
  return doc;
}

before(async () => {
  emu = await CloudEmulator.start({ tls: false });
  emu.addDevice({ ...GATEWAY, gateway: true });
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  for (const k of keys) subSecrets.push(emu.addDevice({ productKey: METER, deviceName: k.split("/")[1]! }).deviceSecret);
  sim = await ModbusTcpSimulator.start({ units: [1, 2] });
  sim.setHolding(1, 0, [0, 1234]);
  sim.setHolding(2, 0, [0, 4321]);

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  rig = makeRig(emu, {
    log: { level: "info" },
    http: { listen: `127.0.0.1:${port}`, unhealthyAfterSeconds: UNHEALTHY_AFTER_S },
    uplink: { batchWindowMs: 50 },
    // One sub-device pre-provisioned (its secret is in the config), the other registers dynamically.
    subDevices: [{ productKey: METER, deviceName: deviceName("meter", 0), deviceSecret: subSecrets[0] }],
  });
  daemon = new DaemonProcess(["run", "--config", rig.configFile]);
  await daemon.waitForLog((l) => l["msg"] === "status endpoint listening", 20_000);
  await daemon.waitForLog((l) => l["msg"] === "connected to cloud", 15_000);

  goodDoc = document(await freePort());
  const push = await emu.pushConfig(GATEWAY, goodDoc);
  assert.equal(push.reply.code, 200, push.reply.message);
  await emu.waitFor(() => emu.onlineSessions(GATEWAY).length === 2, 15_000, "two sub-device sessions");
  await emu.waitFor(() => keys.every((k) => emu.accepted.properties.some((p) => p.deviceKey === k && p.identifier === "P0")), 15_000, "data of both meters");
});

after(async () => {
  await daemon?.stop("SIGKILL");
  await emu?.close();
  await sim?.close();
  rig?.cleanup();
});

test("/healthz is 200 and /status shows connection, config version, channels, sub-devices, outbox, and no secret", async () => {
  const h = await request("/healthz");
  assert.equal(h.status, 200, h.body);
  assert.equal(h.body, "ok\n");

  await until(async () => (await statusDoc())["subDevices"].every((d: any) => d.state === "online" && d.lastSampleAt), 10_000, "both meters online with samples");
  const st = await statusDoc();
  assert.equal(st["gateway"].productKey, GATEWAY.productKey);
  assert.equal(st["gateway"].deviceName, GATEWAY.deviceName);
  assert.equal(typeof st["gateway"].uptimeSeconds, "number");
  assert.match(st["gateway"].version, /^\d+\.\d+\.\d+/);
  assert.deepEqual(st["health"], { ok: true, reason: null });
  assert.equal(st["connection"].connected, true);
  assert.equal(st["connection"].host, "127.0.0.1");
  assert.equal(st["connection"].port, emu.port);
  assert.equal(st["connection"].downSince, null);

  // The version is the digest of the applied document, as the platform computed it for the push.
  const { createHash } = await import("node:crypto");
  assert.equal(st["config"].version, createHash("sha256").update(JSON.stringify(goodDoc)).digest("hex"));
  assert.equal(st["config"].source, "push");
  assert.ok(Date.now() - Date.parse(st["config"].appliedAt) < 120_000);
  assert.equal(st["config"].lastError, null);
  assert.deepEqual(st["config"].warnings, [], "the OPC UA password decrypted (so the daemon holds it in memory)");

  const channels = new Map((st["channels"] as any[]).map((c) => [c.serverId, c]));
  assert.deepEqual([...channels.keys()].sort(), ["TESTMODBUSTCP01", "TESTOPCUA01"]);
  const tcp = channels.get("TESTMODBUSTCP01");
  assert.equal(tcp.up, true);
  assert.equal(tcp.protocol, "modbus-tcp");
  assert.ok(tcp.requests > 0);

  for (const k of keys) {
    const d = (st["subDevices"] as any[]).find((x) => `${x.productKey}/${x.deviceName}` === k);
    assert.ok(d, k);
    assert.equal(d.state, "online");
    assert.ok(Date.now() - Date.parse(d.lastSampleAt) < 30_000, `${k} sampled recently: ${d.lastSampleAt}`);
  }
  assert.equal((st["subDevices"] as any[]).find((x) => x.deviceName === deviceName("meter", 0)).values.P0, 1234);

  assert.equal(typeof st["outbox"].depth, "number");
  assert.ok(st["outbox"].depth >= 0);
  assert.equal(typeof st["outbox"].oldestAgeSeconds, "number");
  assert.equal(st["outbox"].writable, true);

  // No secret in any form, in any endpoint: gateway and sub-device secrets, the OPC UA password and its cipher.
  const secrets = [GATEWAY.deviceSecret, ...subSecrets, OPCUA_PASSWORD, encryptOpcuaPassword(OPCUA_PASSWORD, GATEWAY.deviceSecret)];
  assert.equal(subSecrets.length, 2);
  const all = [JSON.stringify(st), (await request("/metrics")).body, (await request("/healthz")).body].join("\n");
  assert.deepEqual(secretsIn(all, secrets), []);
});

// ---------------------------------------------------------------------------------------------------------
// Prometheus text format (exposition format 0.0.4), parsed strictly.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type: string;
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s: string, line: string): number {
  if (s === "NaN") return NaN;
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  assert.match(s, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `bad value in: ${line}`);
  return Number(s);
}

function parseLabels(s: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf("=", i);
    assert.ok(eq > i, `bad labels in: ${line}`);
    const name = s.slice(i, eq);
    assert.match(name, LABEL, `bad label name in: ${line}`);
    assert.equal(s[eq + 1], '"', `label value must be quoted in: ${line}`);
    let j = eq + 2;
    let value = "";
    for (;;) {
      assert.ok(j < s.length, `unterminated label value in: ${line}`);
      const c = s[j]!;
      if (c === "\\") {
        const n = s[j + 1];
        assert.ok(n === "\\" || n === '"' || n === "n", `bad escape in: ${line}`);
        value += n === "n" ? "\n" : n;
        j += 2;
      } else if (c === '"') {
        j++;
        break;
      } else {
        assert.notEqual(c, "\n");
        value += c;
        j++;
      }
    }
    assert.ok(!(name in labels), `duplicate label ${name} in: ${line}`);
    labels[name] = value;
    if (j < s.length) assert.equal(s[j], ",", `labels must be separated by commas in: ${line}`);
    i = j + 1;
  }
  return labels;
}

function parsePrometheus(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    assert.notEqual(line, "", "no empty lines");
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      assert.match(name, NAME, `bad metric name: ${line}`);
      let f = families.get(name);
      if (!f) {
        f = { name, type: "untyped", samples: [] };
        families.set(name, f);
      } else {
        assert.equal(f.samples.length, 0, `${kind} for ${name} after its samples`);
      }
      if (kind === "TYPE") {
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(rest), `bad type: ${line}`);
        assert.equal(f.type, "untyped", `second TYPE for ${name}`);
        f.type = rest;
      } else {
        assert.equal(f.help, undefined, `second HELP for ${name}`);
        assert.ok(rest.length > 0, `empty HELP for ${name}`);
        f.help = rest;
      }
      current = f;
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    assert.ok(current && current.name === name, `sample ${name} outside its family's block (TYPE first, samples together)`);
    const labels = labelText ? parseLabels(labelText, line) : {};
    const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",")}}`;
    assert.ok(!series.has(key), `duplicate series ${key}`);
    series.add(key);
    current.samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  for (const f of families.values()) {
    assert.notEqual(f.type, "untyped", `${f.name} has a TYPE`);
    assert.ok(f.help, `${f.name} has a HELP`);
    if (f.type === "counter") {
      assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`);
      for (const s of f.samples) assert.ok(s.value >= 0 && Number.isFinite(s.value), `${f.name} is a finite non-negative count`);
    }
  }
  return families;
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  assert.ok(f, `metric ${name} present`);
  const s = f.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s, `${name}${JSON.stringify(labels)} present`);
  return s.value;
}

async function scrape(): Promise<Map<string, Family>> {
  const r = await request("/metrics");
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(r.body);
}

test("the strict parser refuses malformed exposition text", () => {
  assert.throws(() => parsePrometheus("# TYPE a_total counter\n# HELP a_total x\na_total 1"), /newline/);
  assert.throws(() => parsePrometheus("# TYPE a_total counter\n# HELP a_total x\na_total{x=1} 1\n"), /quoted/);
  assert.throws(() => parsePrometheus("# TYPE a_total counter\n# HELP a_total x\na_total 1\na_total 2\n"), /duplicate series/);
  assert.throws(() => parsePrometheus("# HELP b x\nb 1\n"), /has a TYPE/);
  assert.throws(() => parsePrometheus("# TYPE a counter\n# HELP a x\na 1\n"), /_total/);
  assert.throws(() => parsePrometheus("# TYPE a gauge\n# HELP a x\n# TYPE b gauge\n# HELP b x\nb 1\na 2\n"), /outside/);
  assert.throws(() => parsePrometheus("# TYPE a gauge\n# HELP a x\na one\n"), /bad value/);
  const ok = parsePrometheus('# HELP a_total x\n# TYPE a_total counter\na_total{l="q\\"\\n"} 3\n# TYPE g gauge\n# HELP g y\ng +Inf\n');
  assert.equal(value(ok, "a_total", { l: 'q"\n' }), 3);
  assert.equal(value(ok, "g"), Infinity);
});

test("/metrics parses as Prometheus text and its counters move between two scrapes", async () => {
  const first = await scrape();
  for (const name of [
    "fieldbridge_up", "fieldbridge_cloud_connected", "fieldbridge_samples_total", "fieldbridge_uplinks_acked_total",
    "fieldbridge_channel_requests_total", "fieldbridge_outbox_depth", "fieldbridge_outbox_oldest_age_seconds",
    "fieldbridge_subdevices_online", "fieldbridge_downlinks_total", "fieldbridge_config_applied_total", "process_resident_memory_bytes",
  ]) {
    assert.ok(first.has(name), `${name} exported`);
  }
  assert.equal(value(first, "fieldbridge_up"), 1);
  assert.equal(value(first, "fieldbridge_cloud_connected"), 1);
  assert.equal(value(first, "fieldbridge_subdevices_online"), 2);
  assert.equal(value(first, "fieldbridge_channel_up", { channel: "test-tcp", server_id: "TESTMODBUSTCP01", protocol: "modbus-tcp" }), 1);
  assert.equal(value(first, "fieldbridge_subdevices", { state: "online" }), 2);
  assert.equal(value(first, "fieldbridge_subdevices", { state: "error" }), 0);
  assert.equal(value(first, "fieldbridge_healthy"), 1);
  assert.equal(value(first, "fieldbridge_cloud_down_seconds"), 0);
  assert.equal(value(first, "fieldbridge_config_failing"), 0);
  assert.equal(value(first, "fieldbridge_build_info", { node: process.versions.node }), 1);
  assert.ok(value(first, "fieldbridge_config_applied_total") >= 1);

  // A downlink between the scrapes: a property set on one meter.
  const set = await emu.setProperty(keys[0]!, { Setpoint: 42 });
  assert.equal(set.code, 200, JSON.stringify(set));
  const samples = value(first, "fieldbridge_samples_total");
  const acked = value(first, "fieldbridge_uplinks_acked_total");
  const requests = value(first, "fieldbridge_channel_requests_total", { channel: "test-tcp" });
  let second = first;
  await until(async () => {
    second = await scrape();
    return value(second, "fieldbridge_samples_total") > samples && value(second, "fieldbridge_uplinks_acked_total") > acked;
  }, 10_000, "samples and acknowledged uplinks to grow");
  assert.ok(value(second, "fieldbridge_channel_requests_total", { channel: "test-tcp" }) > requests, "field requests grow");
  assert.ok(value(second, "fieldbridge_downlinks_total") > value(first, "fieldbridge_downlinks_total"), "downlink requests counted");
  // Counters never go down.
  for (const [name, f] of second) {
    if (f.type !== "counter") continue;
    for (const s of f.samples) {
      const before = first.get(name)?.samples.find((x) => JSON.stringify(x.labels) === JSON.stringify(s.labels));
      if (before) assert.ok(s.value >= before.value, `${name}${JSON.stringify(s.labels)} went down`);
    }
  }
});

test("/healthz turns 503 with a reason when a pushed config fails to apply; the running config stays; a good push heals it", async () => {
  const before = await statusDoc();
  const bad = structuredClone(goodDoc) as { deviceList: Array<{ deviceConfig: Record<string, unknown> }> };
  bad.deviceList[0]!.deviceConfig["serverId"] = "NO-SUCH-CHANNEL";
  const push = await emu.pushConfig(GATEWAY, bad);
  assert.notEqual(push.reply.code, 200);

  const h = await request("/healthz");
  assert.equal(h.status, 503);
  assert.match(h.type, /^text\/plain/);
  assert.match(h.body, /^unhealthy: gateway config not applied: .+/);
  const st = await statusDoc();
  assert.equal(st["config"].lastError.stage, "validation");
  assert.ok(st["config"].lastError.problems.some((p: string) => p.includes("NO-SUCH-CHANNEL") || p.includes("serverId")), JSON.stringify(st["config"].lastError));
  assert.equal(st["config"].version, before["config"].version, "the previous config still runs");
  assert.equal(st["channels"].find((c: any) => c.serverId === "TESTMODBUSTCP01").up, true);
  assert.equal(st["health"].ok, false);
  assert.match(st["health"].reason, /^gateway config not applied/);
  const m = await scrape();
  assert.ok(value(m, "fieldbridge_config_rejected_total") >= 1);
  assert.equal(value(m, "fieldbridge_config_failing"), 1);
  assert.equal(value(m, "fieldbridge_healthy"), 0);

  const good = await emu.pushConfig(GATEWAY, goodDoc);
  assert.equal(good.reply.code, 200, good.reply.message);
  const healed = await request("/healthz");
  assert.equal(healed.status, 200, healed.body);
  assert.equal((await statusDoc())["config"].lastError.stage, "validation", "the last error stays visible for the record");
});

test("/healthz turns 503 once the cloud has been unreachable longer than http.unhealthyAfterSeconds, and 200 when it is back", async () => {
  await emu.outage();
  try {
    await until(async () => (await statusDoc())["connection"].connected === false, 10_000, "the daemon to notice the outage");
    const down = await statusDoc();
    const downSince = Date.parse(down["connection"].downSince);
    assert.ok(Number.isFinite(downSince), "downSince is set while disconnected");
    // Inside the grace period: still healthy (checked only if this request is surely inside it).
    const asked = Date.now();
    const early = await request("/healthz");
    if (Date.now() < downSince + UNHEALTHY_AFTER_S * 1000 - 200) assert.equal(early.status, 200, `${asked - downSince} ms after the loss: ${early.body}`);

    await until(async () => (await request("/healthz")).status === 503, (UNHEALTHY_AFTER_S + 5) * 1000, "unhealthy after the grace period");
    assert.ok(Date.now() - downSince >= UNHEALTHY_AFTER_S * 1000, "not before the grace period");
    const h = await request("/healthz");
    assert.match(h.body, /^unhealthy: cloud unreachable for \d+ s \(ECONNREFUSED: [^)]+\)\n$/, "with the reason of the last attempt");
    const m = await scrape();
    assert.equal(value(m, "fieldbridge_cloud_connected"), 0);
    assert.ok(value(m, "fieldbridge_cloud_down_seconds") >= UNHEALTHY_AFTER_S);
    assert.equal(value(m, "fieldbridge_healthy"), 0);
  } finally {
    await emu.restore();
  }
  await until(async () => (await request("/healthz")).status === 200, 15_000, "healthy again after reconnecting");
  assert.equal((await statusDoc())["connection"].connected, true);
});

test("unknown paths are 404, other methods 405, HEAD answers without a body", async () => {
  assert.equal((await request("/nope")).status, 404);
  const post = await request("/status", "POST");
  assert.equal(post.status, 405);
  const head = await request("/metrics", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
  assert.equal((await request("/healthz?verbose=1")).status, 200, "a query string does not change the path");
});

test("the daemon stops with exit 0 and closes the endpoint; nothing it printed holds a secret", async () => {
  const stopped = await daemon.stop("SIGTERM");
  assert.equal(stopped.code, 0, daemon.stderr);
  await assert.rejects(request("/healthz"), /ECONNREFUSED/);
  const secrets = [GATEWAY.deviceSecret, ...subSecrets, OPCUA_PASSWORD, encryptOpcuaPassword(OPCUA_PASSWORD, GATEWAY.deviceSecret)];
  assert.deepEqual(secretsIn(daemon.stdout + daemon.stderr, secrets), []);
});
