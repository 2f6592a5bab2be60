/**
 * Remote configuration and device tags on Alibaba, end to end: the shipped CLI (`dist/cli.js run`) against the cloud
 * emulator (its HTTPS file server holds the configuration files) and the Modbus TCP simulator. A pushed file changes
 * the log level and the batch window without a restart, is shown in /status, and survives a restart (without being
 * downloaded again); files with an unknown key, a forbidden key or a wrong sign are refused with their problems and
 * change nothing. The gateway and its sub-device carry their tags in the platform; a tag key that breaks the rules
 * is not sent; tags are not sent again when nothing changed, and a changed unit id is.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { DaemonProcess } from "../helpers/cli.js";
import { GATEWAY, makeRig, secretsIn, type TestRig } from "../helpers/daemon.js";
import { METER, deviceName, meterTsl, modbusDoc } from "../helpers/gwdoc.js";

const gw = GATEWAY;
const gwKey = `${gw.productKey}/${gw.deviceName}`;
const sub = { productKey: METER, deviceName: deviceName("meter", 0) };
const subKey = `${sub.productKey}/${sub.deviceName}`;

let emu: CloudEmulator;
let sim: ModbusTcpSimulator;
let rig: TestRig;
let port: number;
let daemon: DaemonProcess | undefined;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function status(): Promise<Record<string, any>> {
  const body = await new Promise<string>((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/status`, { agent: false, timeout: 5000 }, (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (b += d));
      res.on("end", () => resolve(b));
    }).on("error", reject);
  });
  return JSON.parse(body) as Record<string, any>;
}

async function start(): Promise<DaemonProcess> {
  const d = new DaemonProcess(["run", "--config", rig.configFile]);
  daemon = d;
  await d.waitForLog((l) => l["msg"] === "status endpoint listening", 20_000);
  return d;
}

/**
 * How long each P0 sample of the sub-device sampled after `since` waited before its message arrived: the batch
 * window holds a sample back for up to its length.
 */
function latencies(since: number): number[] {
  const arrival = new Map<string, number>();
  for (const m of emu.received()) {
    const id = (m.json as { id?: unknown } | undefined)?.id;
    if (id !== undefined && !arrival.has(String(id))) arrival.set(String(id), m.time);
  }
  return emu.accepted.properties
    .filter((p) => p.deviceKey === subKey && p.identifier === "P0" && p.time > since && arrival.has(p.msgId))
    .map((p) => arrival.get(p.msgId)! - p.time);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tagUpdates = () => emu.received("/sys/+/+/thing/deviceinfo/update").length;
const persisted = () => JSON.parse(readFileSync(join(rig.dataDir, "remote-settings.json"), "utf8")) as Record<string, unknown>;

before(async () => {
  emu = await CloudEmulator.start({});
  emu.addDevice({ ...gw, gateway: true });
  emu.addProduct(METER, { tsl: meterTsl(1), dynamicRegistration: true });
  emu.addDevice(sub);
  sim = await ModbusTcpSimulator.start({ units: [1, 2] });
  port = await freePort();
  rig = makeRig(emu, {
    http: { listen: `127.0.0.1:${port}` },
    log: { level: "info" },
    uplink: { batchWindowMs: 150 },
    aliyun: { tags: { line: "3", "line-no": "4" } },
  });
});

after(async () => {
  await daemon?.stop("SIGKILL");
  await sim?.close();
  await emu?.close();
  rig?.cleanup();
});

test("remote settings apply live, show in /status and survive a restart; tags reach the platform once", async () => {
  let d = await start();
  await d.waitForLog((l) => l["msg"] === "no remote configuration for this product");
  const doc = modbusDoc({ devices: 1, points: 1, port: sim.port, pollingTime: 100, trigger: 1 });
  assert.equal((await emu.pushConfig(gw, doc)).reply.code, 200);

  // Tags: the gateway's own (with the operator's valid one), the sub-device's field position.
  await emu.waitFor(() => emu.tags(subKey)["fbUnitId"], 10_000, "sub-device tags");
  const gwTags = emu.tags(gwKey);
  assert.deepEqual(Object.keys(gwTags).sort(), ["fbHostname", "fbNodeVersion", "fbOsPlatform", "fbVersion", "line"]);
  assert.equal(gwTags["fbNodeVersion"], process.version);
  assert.deepEqual(emu.tags(subKey), { fbChannel: "TESTMODBUSTCP01", fbProtocol: "modbus", fbUnitId: "1" });
  const invalid = d.logs().filter((l) => l["msg"] === "tag not sent: it breaks the platform's tag rules");
  assert.equal(invalid.length, 1);
  assert.equal(invalid[0]!["tag"], "line-no");
  assert.equal(emu.rejected.filter((r) => r.topic.includes("deviceinfo")).length, 0, "nothing the platform had to refuse was sent");

  // Before: a 150 ms window holds a sample back for at most about that long.
  const t0 = Date.now();
  await emu.waitFor(() => latencies(t0).length >= 10, 10_000, "samples at 150 ms");
  assert.ok(median(latencies(t0)) < 400, `latencies at 150 ms: ${latencies(t0).join(",")}`);
  assert.equal(d.logs().filter((l) => l["level"] === "debug").length, 0, "log level info from the bootstrap file");

  // A remote file: debug logging and a 1.5 s window at once; store.inFlight at the next start.
  const file = emu.setRemoteConfig(gw.productKey, { log: { level: "debug" }, uplink: { batchWindowMs: 1500 }, store: { inFlight: 8 } }, { configId: "cfg-live" })!;
  const reply = await emu.pushRemoteConfig(gw);
  assert.equal(reply.code, 200, reply.message);
  const applied = Date.now();
  await d.waitForLog((l) => l["msg"] === "remote setting store.inFlight takes effect at the next start");
  await emu.waitFor(() => latencies(applied + 1600).length >= 20, 15_000, "samples at 1500 ms");
  const late = latencies(applied + 1600);
  assert.ok(Math.max(...late) >= 1200 && median(late) >= 400, `latencies at 1500 ms: ${late.join(",")}`);

  let s = (await status())["remoteSettings"];
  assert.equal(s.id, "cfg-live");
  assert.equal(s.source, "push");
  assert.deepEqual([...s.keys].sort(), ["log.level=debug", "store.inFlight=8", "uplink.batchWindowMs=1500"]);
  assert.deepEqual(s.pendingRestart, ["store.inFlight"]);
  assert.equal(s.lastError, null);
  assert.equal(persisted()["id"], "cfg-live");

  // Debug logging now: a changed unit id re-tags the sub-device (only what changed) and says so at debug level.
  const updatesBefore = tagUpdates();
  const moved = modbusDoc({ devices: 1, points: 1, port: sim.port, pollingTime: 100, trigger: 1, slaveOffset: { [sub.deviceName]: 1 } });
  assert.equal((await emu.pushConfig(gw, moved)).reply.code, 200);
  await emu.waitFor(() => emu.tags(subKey)["fbUnitId"] === "2", 10_000, "unit id tag updated");
  await d.waitForLog((l) => l["level"] === "debug" && l["msg"] === "tags sent" && l["device"] === subKey);
  const sentUpdate = emu.received("/sys/+/+/thing/deviceinfo/update").slice(updatesBefore);
  assert.equal(sentUpdate.length, 1);
  assert.deepEqual((sentUpdate[0]!.json as { params: unknown }).params, [{ attrKey: "fbUnitId", attrValue: "2" }]);

  // Restart: the persisted file applies at start (store.inFlight too); the same file offered again is not downloaded.
  assert.equal((await d.stop("SIGTERM")).code, 0);
  const downloads = emu.files.requests.filter((r) => r.includes("cfg-live")).length;
  const updatesBeforeRestart = tagUpdates();
  d = await start();
  await d.waitForLog((l) => l["msg"] === "remote settings applied over the bootstrap file");
  await emu.waitFor(() => emu.onlineSessions(gw).length === 1, 10_000, "sub-device online again");
  s = (await status())["remoteSettings"];
  assert.equal(s.id, "cfg-live");
  assert.equal(s.source, "persisted");
  assert.deepEqual(s.pendingRestart, []);
  await emu.waitFor(() => emu.received("/sys/+/+/thing/config/get").length >= 2, 5000, "config asked for at start");
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(emu.files.requests.filter((r) => r.includes("cfg-live")).length, downloads, "not downloaded again");
  assert.equal(tagUpdates(), updatesBeforeRestart, "tags unchanged: not sent again");
  assert.ok(d.logs().some((l) => l["level"] === "debug"), "debug level from the persisted file");
  assert.equal(file.configId, "cfg-live");
});

test("files with an unknown key, a forbidden key or a wrong sign are refused with their problems and change nothing", async () => {
  const d = daemon!;
  const cases: Array<{ body: object; sign?: string; problem: RegExp }> = [
    { body: { log: { level: "warn" }, colour: "blue", uplink: { batchWindowMs: 10, flushEvery: 3 } }, problem: /colour: unknown key/ },
    { body: { log: { level: "warn" }, mqtt: { host: "198.51.100.7" } }, problem: /mqtt: cannot be set remotely/ },
    { body: { log: { level: "warn" } }, sign: "0".repeat(64), problem: /digest/ },
  ];
  for (const [i, c] of cases.entries()) {
    emu.setRemoteConfig(gw.productKey, c.body, { configId: `cfg-bad-${i}`, ...(c.sign ? { sign: c.sign } : {}) });
    const reply = await emu.pushRemoteConfig(gw);
    assert.equal(reply.code, 460, JSON.stringify(reply.raw));
    assert.match(String(reply.message), c.problem);
    const s = (await status())["remoteSettings"];
    assert.equal(s.id, "cfg-live", "the applied file stays");
    assert.equal(s.lastError.id, `cfg-bad-${i}`);
    if (!c.sign) assert.ok(s.lastError.problems.some((p: string) => c.problem.test(p)), JSON.stringify(s.lastError));
  }
  const s = (await status())["remoteSettings"];
  assert.equal(persisted()["id"], "cfg-live", "the persisted file is the applied one");
  assert.ok(s.keys.includes("log.level=debug"));
  assert.ok(!d.logs().some((l) => l["msg"] === "remote settings applied" && String(l["id"]).startsWith("cfg-bad")), "no refused file was applied");
  assert.deepEqual(secretsIn(d.stdout + d.stderr, [gw.deviceSecret]), []);
  assert.ok(!/Signature=|OSSAccessKeyId/.test(d.stdout), "no signed URL in the logs");
});
