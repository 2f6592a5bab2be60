import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startHarness, until } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY } from "../helpers/daemon.js";
import { runCli, ROOT } from "../helpers/cli.js";

const gw = GATEWAY;
const key = (i: number) => `${METER}/${deviceName("meter", i)}`;

async function rig(devices = 3) {
  const h = await startHarness({ tls: true, driver: { periodMs: 100, value: (_k, id, s) => (id === "Level" ? 1 : id === "Status" ? 2 : s % 1000) } });
  h.emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  for (let i = 0; i < devices; i++) h.emu.addDevice({ productKey: METER, deviceName: deviceName("meter", i) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  return h;
}

test("a push is downloaded over HTTPS, verified, applied and persisted; bad documents are rejected and the running config is untouched", async (t) => {
  const h = await rig();
  t.after(() => h.stop());
  const { emu } = h;
  const doc = modbusDoc({ devices: 3, points: 2 });
  const ok = await emu.pushConfig(gw, doc);
  assert.equal(ok.reply.code, 200, ok.reply.message);
  assert.deepEqual(ok.reply.data, { digest: ok.digest, digestMethod: "sha256", url: ok.url });
  const persisted = join(h.rig.dataDir, "gateway-config.json");
  assert.equal(readFileSync(persisted, "utf8"), JSON.stringify(doc), "persisted exactly as downloaded");
  assert.deepEqual([...h.driver.channels.keys()], ["TESTMODBUSTCP01"]);
  await emu.waitFor(() => [0, 1, 2].every((i) => emu.accepted.properties.some((p) => p.deviceKey === key(i))), 10_000, "data from all three");
  const version = h.gw.configs.status().version;
  const events = h.driver.events.length;

  const bad: Array<[string, Parameters<typeof emu.pushConfig>[1], Parameters<typeof emu.pushConfig>[2]]> = [
    ["digest mismatch", modbusDoc({ devices: 1, points: 2 }), { digest: "0".repeat(64) }],
    ["invalid JSON", Buffer.from('{"modelList": [ '), {}],
    ["schema violation", { ...modbusDoc({ devices: 1, points: 2 }), serverList: [{ protocol: "TCP", ip: "127.0.0.1", port: "not-a-port", name: "x", serverId: "TESTMODBUSTCP01" }] }, {}],
    ["dangling serverId", (() => {
      const d = modbusDoc({ devices: 2, points: 2 }) as { deviceList: Array<{ deviceConfig: { serverId: string } }> };
      d.deviceList[1]!.deviceConfig.serverId = "NO-SUCH-SERVER";
      return d;
    })(), {}],
  ];
  for (const [what, body, opts] of bad) {
    const r = await emu.pushConfig(gw, body, opts);
    assert.equal(r.reply.code, 460, `${what}: ${r.reply.message}`);
    assert.ok(r.reply.message, what);
    assert.equal(h.gw.configs.status().version, version, `${what}: running config kept`);
    assert.equal(h.driver.events.length, events, `${what}: no channel or device touched`);
    assert.equal(readFileSync(persisted, "utf8"), JSON.stringify(doc), `${what}: persisted config kept`);
    const err = h.gw.configs.status().lastError;
    assert.ok(err, `${what}: failure kept for the status output`);
    if (what === "dangling serverId") assert.ok(err.problems.some((p) => p.startsWith("deviceList[1].deviceConfig.serverId: ")), err.problems.join("\n"));
    if (what === "schema violation") assert.ok(err.problems.some((p) => p.startsWith("serverList[0].port")), err.problems.join("\n"));
  }
  assert.ok(h.gw.configs.failing, "health reports the failed apply");
  // The payload may also arrive under params; and a good push clears the failure.
  const again = await emu.pushConfig(gw, modbusDoc({ devices: 3, points: 2, pollingTime: 900 }), { viaParams: true });
  assert.equal(again.reply.code, 200, again.reply.message);
  assert.equal(h.gw.configs.failing, false);
});

test("a second push that changes one device restarts only that device; the others keep an unbroken stream", async (t) => {
  const h = await rig(4);
  t.after(() => h.stop());
  const { emu } = h;
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 4, points: 2 }))).reply.code, 200);
  await emu.waitFor(() => [0, 1, 2, 3].every((i) => emu.accepted.properties.some((p) => p.deviceKey === key(i))), 10_000, "data");
  const mark = h.driver.events.length;
  const loginsBefore = emu.logins.length;
  const pushedAt = Date.now();
  const r = await emu.pushConfig(gw, modbusDoc({ devices: 4, points: 2, slaveOffset: { [deviceName("meter", 2)]: 100 } }));
  assert.equal(r.reply.code, 200, r.reply.message);
  await new Promise((res) => setTimeout(res, 1500));
  const changes = h.driver.events.slice(mark);
  assert.deepEqual(changes.map((e) => `${e.type} ${e.key ?? ""}`), [`remove ${key(2)}`, `add ${key(2)}`]);
  assert.equal(emu.logins.length, loginsBefore, "no re-login for anyone");
  for (const i of [0, 1, 3]) {
    const times = [...new Set(emu.accepted.properties.filter((p) => p.deviceKey === key(i) && p.identifier === "P0" && p.time >= pushedAt - 1000).map((p) => p.time))].sort((a, b) => a - b);
    const gaps = times.slice(1).map((x, j) => x - times[j]!);
    assert.ok(times.length >= 15, `${key(i)}: ${times.length} samples`);
    assert.ok(Math.max(...gaps) < 400, `${key(i)}: largest gap ${Math.max(...gaps)} ms`);
  }
});

test("a daemon restarted with the broker unreachable runs from dataDir/gateway-config.json", async (t) => {
  const h = await rig(2);
  t.after(() => h.stop());
  assert.equal((await h.emu.pushConfig(gw, modbusDoc({ devices: 2, points: 2 }))).reply.code, 200);
  await h.emu.outage();
  const mark = h.driver.events.length;
  await h.restart();
  assert.equal(h.alink.link.connected, false);
  const after = h.driver.events.slice(mark).filter((e) => e.type === "start" || e.type === "add");
  assert.deepEqual(after.map((e) => `${e.type} ${e.key ?? e.serverId}`), ["start TESTMODBUSTCP01", `add ${key(0)}`, `add ${key(1)}`]);
  assert.equal(h.gw.configs.status().source, "persisted");
  // Samples are taken and kept while the cloud is away.
  await until(() => h.gw.store.records.stats().depth > 0, 5000, "samples stored while offline");
  await h.emu.restore();
  await h.emu.waitFor(() => h.emu.accepted.properties.some((p) => p.deviceKey === key(1)), 15_000, "data after the broker is back");
});

test("fieldbridge check --gateway-config passes the example and reports the vendor example's serverId mismatches one line each", async () => {
  const example = await runCli(["check", "--config", join(ROOT, "config/config.example.json"), "--gateway-config", join(ROOT, "config/gateway-config.example.json")]);
  assert.equal(example.code, 0, example.stdout);
  assert.match(example.stdout, /valid gateway config/);
  assert.match(example.stdout, /device a1EnvMeter\/env-meter-01/);
  const vendor = await runCli(["check", "--config", join(ROOT, "config/config.example.json"), "--gateway-config", join(ROOT, "test/fixtures/gateway/vendor-example.json")]);
  assert.equal(vendor.code, 1);
  const lines = vendor.stdout.split("\n").filter((l) => /deviceConfig\.serverId: /.test(l));
  assert.deepEqual(lines, [
    'deviceList[0].deviceConfig.serverId: no serverList entry "44895C63E3FF4013924CEF31519ABE7B"',
    'deviceList[1].deviceConfig.serverId: no serverList entry "55A9D276A7ED47"',
    'deviceList[2].deviceConfig.serverId: no serverList entry "D73251B4277742D"',
    'deviceList[3].deviceConfig.serverId: no serverList entry "586CB066D6A34E"',
  ]);
});
