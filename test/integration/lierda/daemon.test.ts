/**
 * The Lierda platform end to end through the shipped daemon (`dist/cli.js run`, built first) with the Modbus TCP
 * simulator and the Lierda emulator: config delivery by down_config, the auth of a type-0 device, the burned-in secret
 * of a type-2 one, values, sets, asks, a device without credentials (not polled), a wrong DeviceSecret, 40+ malformed
 * downlinks and a 15 s broker outage. One daemon serves every step, in order.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DaemonProcess, runCli } from "../../helpers/cli.js";
import { until } from "../../helpers/harness.js";
import { GW, GW_KEY, T0, T2 } from "./fixture.js";
import { BADSECRET, BOILER, document, FIELD, METER, NOCRED, REG, setRegisters, startRig, WRONG_SECRET, words, type Rig } from "./daemon-rig.js";
import { malformedDownlinks } from "./malformed.js";

type Settings = { GatewayConfigState?: string; GatewayConfigSha256?: string; GatewayConfigErrors?: string[]; Devices?: number; FirmwareVersion?: string };
type Ack = { Code: string; Msg: string; Data: Record<string, unknown> };
const settingsOf = (payload: unknown): Settings => (payload as { Settings: Settings }).Settings;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("lierda through the daemon", () => {
  let rig: Rig;
  let daemon: DaemonProcess | undefined;
  let doc: Buffer;
  const expected: Record<string, Record<string, unknown>> = {};
  const valuesOf = (device: string, identifier: string) => rig.emu.records.values.filter((v) => v.device === device && v.identifier === identifier);
  const arrived = (device: string, identifier: string, value: unknown) => valuesOf(device, identifier).some((v) => v.value === value);
  const logsOf = (msg: string, device: string) => daemon!.logs().filter((l) => l["msg"] === msg && l["device"] === device);
  const set = async (values: Record<string, unknown>) => (await rig.emu.setProperty(METER.key, values, { timeoutMs: 8000 })).payload as Ack;
  const ask = async (ids: unknown[]) => (await rig.emu.askProperty(METER.key, ids, { timeoutMs: 8000 })).payload as Record<string, unknown>;

  before(async () => {
    rig = await startRig();
    expected[METER.key] = setRegisters(rig.sim, METER.unit, { temp: -21.5, count: 70_000, flow: 12.5, sp: 7, on: true, status: 1 });
    expected[BOILER.key] = setRegisters(rig.sim, BOILER.unit, { temp: 65.5, count: 123_456, flow: 0.25, sp: 900, on: false, status: 2 });
    for (const d of [NOCRED, BADSECRET]) setRegisters(rig.sim, d.unit, { temp: 1.5, count: 1, flow: 1.5, sp: 1, on: false, status: 0 });
    doc = document(rig.sim.port);
    daemon = new DaemonProcess(["run", "--config", rig.configFile]);
    // Subscribed once its firmware report (sent after the SUBACK, §3.8) is in.
    await rig.emu.waitFor(() => rig.emu.records.uplinks.some((u) => u.device === GW_KEY && u.topic.endsWith("/firmware_report")), 15_000, "the gateway device online");
  });
  after(async () => {
    await daemon?.stop("SIGKILL");
    await rig?.emu.close();
    await rig?.sim.close();
    if (rig) rmSync(rig.dir, { recursive: true, force: true });
  });

  test("down_config: a wrong digest and a document against the platform's rules are rejected; the good one is downloaded, checked, applied, persisted and reported", async () => {
    const wrongDigest = settingsOf((await rig.emu.pushConfig(GW_KEY, doc, { sha256: "0".repeat(64), timeoutMs: 15_000 })).payload);
    assert.equal(wrongDigest.GatewayConfigState, "rejected");
    assert.equal(wrongDigest.GatewayConfigSha256, "", "nothing runs yet");

    const extra = [{ productId: T2.pid, nodeEui: "BOILER-03", unit: 5 }, { productId: GW.pid, nodeEui: GW.eui, unit: 6 }];
    const against = settingsOf((await rig.emu.pushConfig(GW_KEY, document(rig.sim.port, [...FIELD, ...extra]), { timeoutMs: 15_000 })).payload);
    assert.equal(against.GatewayConfigState, "rejected");
    assert.ok(against.GatewayConfigErrors?.includes("deviceList[4].deviceName: must be a NodeEui of 4-32 letters/digits on platform lierda"), JSON.stringify(against));
    assert.ok(against.GatewayConfigErrors?.includes("deviceList[5]: is the gateway's own device"), JSON.stringify(against));
    assert.equal(rig.sim.requests, 0, "no document applied: nothing polled");

    const pushed = await rig.emu.pushConfig(GW_KEY, doc, { timeoutMs: 15_000 });
    const report = settingsOf(pushed.payload);
    assert.equal(report.GatewayConfigState, "applied", JSON.stringify(report));
    assert.equal(report.GatewayConfigSha256, sha(doc));
    assert.equal(report.Devices, 4);
    assert.equal(report.FirmwareVersion, "1.4.0");
    assert.deepEqual(report.GatewayConfigErrors?.filter((e) => e.includes(NOCRED.key)).length, 1, JSON.stringify(report));
    const text = JSON.stringify(pushed.payload);
    for (const secret of [pushed.url, "https://", GW.secret, GW.pk, T2.secret, WRONG_SECRET]) assert.ok(!text.includes(secret), "the report holds no URL or secret");
    assert.deepEqual(readFileSync(join(rig.dataDir, "gateway-config.json")), doc, "persisted as served");
  });

  test("fieldbridge check --gateway-config with this bootstrap file applies the same platform rules", async () => {
    const file = join(rig.dir, "against.json");
    writeFileSync(file, document(rig.sim.port, [...FIELD, { productId: "a1Meter", nodeEui: "METER02", unit: 5 }]));
    const bad = await runCli(["check", "--config", rig.configFile, "--gateway-config", file]);
    assert.notEqual(bad.code, 0);
    assert.ok(bad.stdout.includes("deviceList[4].productKey: must be an 8-hex ProductID on platform lierda"), bad.stdout);
    writeFileSync(file, doc);
    const good = await runCli(["check", "--config", rig.configFile, "--gateway-config", file]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
  });

  test("a type-0 device runs the auth and connects with the returned secret; a type-2 device connects with its bootstrap secret", async () => {
    await rig.emu.waitFor(() => rig.emu.online(METER.key) && rig.emu.online(BOILER.key), 15_000, "both devices online");
    const auths = rig.emu.records.auths.filter((a) => a.device === METER.key);
    assert.deepEqual(auths.map((a) => [a.type, a.code]), [[0, 0]]);
    // The emulator accepts a device password only when it decrypts with the device's secret: the one the auth returned.
    const connects = rig.emu.records.connects.filter((c) => c.device === METER.key && c.kind === "device");
    assert.ok(connects.length >= 1 && connects.every((c) => c.accepted) && connects[0]!.time >= auths[0]!.time, JSON.stringify(connects));
    assert.equal(rig.emu.records.auths.filter((a) => a.device === BOILER.key).length, 0, "type 2: no auth");
    assert.ok(rig.emu.records.connects.some((c) => c.device === BOILER.key && c.accepted));
    const returned = rig.emu.device(METER.key)!.secret!;
    for (const secret of [returned, GW.secret, GW.pk, T0.pk, T2.pk, T2.secret, WRONG_SECRET]) {
      assert.ok(!daemon!.stdout.includes(secret) && !daemon!.stderr.includes(secret), "no secret in the daemon's output");
    }
  });

  test("a device without credentials is held: never polled, never connected, in the config report", async () => {
    await daemon!.waitForLog((l) => l["msg"] === "device held: not polled" && l["device"] === NOCRED.key && l["cause"] === "no-credentials", 5000);
    assert.equal(rig.sim.requestsByUnit.get(NOCRED.unit) ?? 0, 0);
    assert.equal(rig.emu.records.connects.filter((c) => c.device === NOCRED.key).length, 0);
  });

  test("every property arrives with its decoded value; a change sampled online goes live (16)", async () => {
    for (const d of [METER, BOILER]) {
      for (const [id, value] of Object.entries(expected[d.key]!)) await until(() => arrived(d.key, id, value), 10_000, `${d.key} ${id} = ${String(value)}`);
    }
    const t0 = Date.now();
    rig.sim.setHolding(METER.unit, REG.temp, [-55 & 0xffff]);
    await until(() => arrived(METER.key, "temp", -5.5), 10_000, "temp -5.5");
    const live = valuesOf(METER.key, "temp").find((v) => v.value === -5.5)!;
    assert.equal(live.via, 16);
    assert.ok(live.arrival >= t0 && live.arrival - t0 < 5000);
  });

  test("a set writes the register; invalid sets write nothing and get 4001; an ask answers with the current value", async () => {
    assert.deepEqual(await set({ sp: 42 }), { Code: "200", Msg: "SUCCESS", Data: { sp: 42 } });
    assert.deepEqual(rig.sim.getHolding(METER.unit, REG.sp, 1), [42]);
    assert.equal((await set({ on: "0" })).Code, "200");
    assert.deepEqual(rig.sim.getCoils(METER.unit, REG.onCoil, 1), [false]);

    const writes = rig.writes.length;
    const invalid: Array<[Record<string, unknown>, RegExp]> = [
      [{ sp: 5000 }, /sp/],
      [{ temp: 3.5 }, /temp/],
      [{ nope: 1 }, /nope/],
      [{ sp: 50, temp: 3.5 }, /temp/],
      [{ sp: 50, nope: 1 }, /nope/],
      [{ sp: 50, on: "maybe" }, /on/],
    ];
    for (const [values, names] of invalid) {
      const r = await set(values);
      assert.equal(r.Code, "4001", JSON.stringify(values));
      assert.match(r.Msg, /^Failed: /);
      assert.match(r.Msg, names);
      assert.deepEqual(r.Data, {});
    }
    await sleep(300);
    assert.equal(rig.writes.length, writes, "a refused set writes nothing, not even its valid items");
    assert.deepEqual(rig.sim.getHolding(METER.unit, REG.sp, 1), [42]);

    await until(() => arrived(METER.key, "sp", 42), 5000, "sp 42 sampled");
    assert.deepEqual(await ask(["sp"]), { sp: 42 });
    assert.deepEqual(await ask(["count", "nope"]), { count: 70_000 });
    assert.deepEqual(await ask([]), { temp: -5.5, count: 70_000, flow: 12.5, sp: 42, on: 0, status: 1 });
  });

  test("a wrong DeviceSecret: refused every time, retried at the max backoff, logged once, still polled; the daemon and the others carry on", async () => {
    const refusals = () => rig.emu.records.connects.filter((c) => c.device === BADSECRET.key);
    await until(() => refusals().length >= 3, 15_000, "three refusals");
    assert.ok(refusals().every((c) => !c.accepted && c.returnCode === 4), JSON.stringify(refusals()));
    const times = refusals().map((c) => c.time);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(gaps.every((g) => g >= 2900), `retried at mqtt.reconnectMaxSeconds (3 s): gaps ${gaps.join(", ")}`);
    assert.equal(logsOf("device connection refused", BADSECRET.key).length, 1, "one log line, not one per attempt");
    assert.ok((rig.sim.requestsByUnit.get(BADSECRET.unit) ?? 0) > 0, "a refused device keeps being polled (lierda.md §6.2, §9.2)");
    assert.equal(daemon!.child.exitCode, null);
    rig.sim.setHolding(METER.unit, REG.count, words((b) => b.writeUInt32BE(70_001)));
    await until(() => arrived(METER.key, "count", 70_001), 10_000, "the meter still reporting");
  });

  test("40+ malformed downlinks: no crash, no write, a reply where one is due, the config unchanged", async () => {
    const writes = rig.writes.length;
    const uplinksBefore = rig.emu.records.uplinks.length;
    const cases = malformedDownlinks({ meter: METER.key, gateway: GW_KEY, runningSha: sha(doc) });
    assert.ok(cases.length >= 40);
    for (const c of cases) rig.emu.sendRaw(c.device, c.suffix, c.body);
    const replyOf = (c: (typeof cases)[number]) =>
      rig.emu.records.uplinks.find((u) => u.device === c.device && String(u.messageId) === String(c.id) && u.topic.endsWith(`/${c.reply?.suffix ?? ""}`));
    const due = cases.filter((c) => c.reply);
    await until(() => due.every((c) => replyOf(c)), 15_000, `replies to ${due.map((c) => c.name).filter((_, i) => !replyOf(due[i]!)).join(", ")}`);
    for (const c of due) assert.ok(c.reply!.check(replyOf(c)!.payload), `${c.name}: ${JSON.stringify(replyOf(c)!.payload)}`);
    await sleep(500);
    for (const c of cases.filter((x) => !x.reply && x.id !== undefined)) {
      assert.equal(rig.emu.records.uplinks.filter((u) => String(u.messageId) === String(c.id)).length, 0, `${c.name}: no reply`);
    }
    // Those without a usable MessageId: no reply of any kind beyond the due ones.
    const replies = rig.emu.records.uplinks.slice(uplinksBefore).filter((u) => /\/(set_ack|ack|downlink_ack|config_report)$/.test(u.topic));
    assert.equal(replies.length, due.length, replies.map((u) => `${u.topic} ${String(u.messageId)}`).join("\n"));
    assert.equal(rig.writes.length, writes, "nothing written");
    assert.equal(daemon!.child.exitCode, null, "the daemon is alive");
    assert.deepEqual(await set({ sp: 43 }), { Code: "200", Msg: "SUCCESS", Data: { sp: 43 } });
    assert.deepEqual(rig.sim.getHolding(METER.unit, REG.sp, 1), [43]);
    const running = settingsOf((await rig.emu.askConfig(GW_KEY, { timeoutMs: 8000 })).payload);
    assert.deepEqual([running.GatewayConfigState, running.GatewayConfigSha256], ["applied", sha(doc)]);
  });

  test("a 15 s outage: every value sampled during it arrives afterwards, in order, as history (27) with its sample time", async () => {
    const authsBefore = rig.emu.records.auths.length;
    await rig.emu.outage();
    const changes: Array<{ i: number; at: number }> = [];
    for (let i = 1; i <= 15; i++) {
      await sleep(1000);
      rig.sim.setHolding(METER.unit, REG.count, words((b) => b.writeUInt32BE(80_000 + i)));
      rig.sim.setHolding(METER.unit, REG.temp, [i * 10 + 5]);
      rig.sim.setHolding(BOILER.unit, REG.count, words((b) => b.writeUInt32BE(90_000 + i)));
      changes.push({ i, at: Date.now() });
    }
    await sleep(300);
    const restoredAt = Date.now();
    await rig.emu.restore();
    const series: Array<[string, string, (i: number) => number]> = [
      [METER.key, "count", (i) => 80_000 + i],
      [METER.key, "temp", (i) => i + 0.5],
      [BOILER.key, "count", (i) => 90_000 + i],
    ];
    await until(() => series.every(([d, id, v]) => changes.every((c) => arrived(d, id, v(c.i)))), 30_000, "the backlog of both devices");
    for (const [device, id, v] of series) {
      const firsts = changes.map((c) => ({ c, got: valuesOf(device, id).find((x) => x.value === v(c.i))! }));
      for (const { c, got } of firsts) {
        assert.equal(got.via, 27, `${device} ${id} ${v(c.i)} as history`);
        assert.ok(Math.abs(got.time - c.at) <= 1500, `${device} ${id} ${v(c.i)}: sample time ${got.time}, changed at ${c.at}`);
        assert.ok(got.arrival >= restoredAt);
      }
      const order = valuesOf(device, id).map((x) => x.value).filter((x) => changes.some((c) => v(c.i) === x));
      assert.deepEqual(order.filter((x, i) => order.indexOf(x) === i), changes.map((c) => v(c.i)), `${device} ${id} in sample order`);
    }
    assert.equal(rig.emu.records.auths.length, authsBefore, "the stored secret is reused: no new auth");
    await rig.emu.waitFor(() => rig.emu.online(GW_KEY) && rig.emu.online(METER.key) && rig.emu.online(BOILER.key), 15_000, "online again");
  });

  test("the refused device's values, sampled while it was refused, arrive as history once the platform accepts its secret", async () => {
    const sampledAt = Date.now();
    rig.sim.setHolding(BADSECRET.unit, REG.count, words((b) => b.writeUInt32BE(4242)));
    await sleep(500);
    assert.equal(rig.emu.online(BADSECRET.key), false);
    rig.emu.rotateSecret(BADSECRET.key, WRONG_SECRET);
    await until(() => arrived(BADSECRET.key, "count", 1) && arrived(BADSECRET.key, "count", 4242), 15_000, "the refused device's backlog");
    const first = valuesOf(BADSECRET.key, "count").find((v) => v.value === 1)!;
    const later = valuesOf(BADSECRET.key, "count").find((v) => v.value === 4242)!;
    assert.deepEqual([first.via, later.via], [27, 27]);
    assert.ok(first.time < sampledAt - 20_000, "the first value kept its sample time from before the refusals");
    assert.ok(Math.abs(later.time - sampledAt) <= 1500, `sample time ${later.time}, changed at ${sampledAt}`);
  });

  test("the device without credentials stays held through the outage and a new apply; SIGTERM exits 0", async () => {
    const again = settingsOf((await rig.emu.pushConfig(GW_KEY, doc, { timeoutMs: 15_000 })).payload);
    assert.equal(again.GatewayConfigState, "applied");
    await sleep(500);
    assert.equal(rig.sim.requestsByUnit.get(NOCRED.unit) ?? 0, 0);
    const stopped = await daemon!.stop("SIGTERM");
    assert.equal(stopped.code, 0, daemon!.stderr);
  });
});
