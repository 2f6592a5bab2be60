/** Store and forward, end to end: nothing sampled is lost across outages and crashes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { startHarness, until } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY, makeRig } from "../helpers/daemon.js";
import { DaemonProcess } from "../helpers/cli.js";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";

const gw = GATEWAY;
const key = (i: number) => `${METER}/${deviceName("meter", i)}`;

test("an outage of several seconds while values change: every value arrives after the reconnection, in order, with its original time", async (t) => {
  const emitted = new Map<string, number[]>();
  const h = await startHarness({
    driver: {
      periodMs: 100,
      value: (k, id, seq) => {
        if (id === "P0") emitted.set(k, [...(emitted.get(k) ?? []), seq]);
        return id === "Level" ? 1 : id === "Status" ? 2 : seq;
      },
    },
    config: { store: { replayRatePerSecond: 200 } },
  });
  t.after(() => h.stop());
  const { emu } = h;
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  for (let i = 0; i < 3; i++) emu.addDevice({ productKey: METER, deviceName: deviceName("meter", i) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 3, points: 2 }))).reply.code, 200);
  await emu.waitFor(() => emu.onlineSessions(gw).length === 3, 10_000, "online");
  await new Promise((r) => setTimeout(r, 500));

  await emu.outage();
  const outageFrom = new Map([...emitted].map(([k, v]) => [k, v.length]));
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(h.gw.store.records.stats().depth > 0, "values kept while offline");
  const outageTo = new Map([...emitted].map(([k, v]) => [k, v.length]));
  await emu.restore();
  await until(() => h.alink.link.connected, 10_000, "reconnected");
  await new Promise((r) => setTimeout(r, 300));
  // Stop sampling, then wait for everything sampled to arrive.
  for (const c of h.driver.channels.values()) await c.stop();
  const sampled = new Map([...emitted].map(([k, v]) => [k, [...v]]));
  await emu.waitFor(() => [0, 1, 2].every((i) => {
    const got = new Set(emu.accepted.properties.filter((p) => p.deviceKey === key(i) && p.identifier === "P0").map((p) => p.value));
    return (sampled.get(key(i)) ?? []).every((s) => got.has(s));
  }), 20_000, "every sampled value accepted");
  for (let i = 0; i < 3; i++) {
    const seqs = sampled.get(key(i))!;
    assert.ok(seqs.length >= 30, `${key(i)} sampled ${seqs.length}`);
    const accepted = emu.accepted.properties.filter((p) => p.deviceKey === key(i) && p.identifier === "P0");
    // Original times: the value is the sample's sequence number, and times grow with it.
    const bySeq = new Map(accepted.map((p) => [p.value as number, p.time]));
    const times = seqs.map((s) => bySeq.get(s)!);
    assert.ok(times.every((x, j) => j === 0 || x >= times[j - 1]!), "original sample times kept");
    // The backlog (values sampled during the outage) arrives in sample order; live values may interleave with it.
    const during = new Set(seqs.slice(outageFrom.get(key(i))!, outageTo.get(key(i))!));
    assert.ok(during.size >= 20, `sampled during the outage: ${during.size}`);
    const arrival = [...new Set(accepted.map((p) => p.value as number).filter((v) => during.has(v)))];
    assert.deepEqual(arrival, [...arrival].sort((a, b) => a - b), "backlog in order");
  }
  assert.equal(emu.rejected.filter((r) => r.code !== 200).length, 0, JSON.stringify(emu.rejected.slice(0, 2)));
});

test("kill -9 during an outage, then a restart: the values committed before the crash arrive", async (t) => {
  const emu = await CloudEmulator.start({});
  emu.addDevice({ ...gw, gateway: true });
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
  const sim = await ModbusTcpSimulator.start({ units: [1] });
  let counter = 0;
  sim.setHolding(1, 0, [0, counter]);
  const ticker = setInterval(() => sim.setHolding(1, 0, [0, ++counter]), 100);
  const rig = makeRig(emu, { store: { sync: "full" } });
  t.after(async () => {
    clearInterval(ticker);
    await sim.close();
    await emu.close();
    rig.cleanup();
  });
  let d = new DaemonProcess(["run", "--config", rig.configFile]);
  t.after(() => void d.stop("SIGKILL"));
  await d.waitForLog((l) => l.msg === "connected to cloud", 10_000);
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 1, points: 2, port: sim.port, pollingTime: 100, trigger: 2 }))).reply.code, 200);
  await emu.waitFor(() => emu.accepted.properties.some((p) => p.identifier === "P0"), 10_000, "first values");

  await emu.outage();
  await new Promise((r) => setTimeout(r, 2000));
  d.child.kill("SIGKILL");
  await d.exited();
  // What the crashed daemon had committed:
  const db = new Database(join(rig.dataDir, "fieldbridge.db"), { readonly: true, fileMustExist: true });
  const committed = readCommitted(db, "P0");
  db.close();
  assert.ok(committed.length >= 10, `values committed during the outage: ${committed.length}`);

  d = new DaemonProcess(["run", "--config", rig.configFile]);
  await d.waitForLog((l) => l.msg === "gateway config applied", 10_000);
  await emu.restore();
  await emu.waitFor(() => committed.every((c) => emu.accepted.properties.some((p) => p.identifier === "P0" && p.value === c.value && p.time === c.time)), 20_000, "every committed value delivered with its time");
  const stopped = await d.stop("SIGTERM");
  assert.equal(stopped.code, 0);
});

/** The values of one identifier that the outbox holds, read straight from the database file. */
function readCommitted(db: Database.Database, identifier: string): Array<{ value: number; time: number }> {
  const rows = db.prepare("SELECT kind, body FROM records ORDER BY seq").all() as Array<{ kind: string; body: string }>;
  const out: Array<{ value: number; time: number }> = [];
  for (const r of rows) {
    if (r.kind !== "properties") continue;
    for (const [id, value, time] of JSON.parse(r.body) as Array<[string, number, number]>) if (id === identifier) out.push({ value, time });
  }
  return out;
}

test("a corrupted database file is moved aside with a clear error and the daemon runs", async (t) => {
  const emu = await CloudEmulator.start({});
  emu.addDevice({ ...gw, gateway: true });
  const rig = makeRig(emu);
  t.after(async () => {
    await emu.close();
    rig.cleanup();
  });
  const { mkdirSync } = await import("node:fs");
  mkdirSync(rig.dataDir, { recursive: true });
  writeFileSync(join(rig.dataDir, "fieldbridge.db"), Buffer.alloc(64 * 1024, 0x5a));
  const d = new DaemonProcess(["run", "--config", rig.configFile]);
  t.after(() => void d.stop("SIGKILL"));
  await d.waitForLog((l) => l.msg === "connected to cloud", 10_000);
  const aside = readdirSync(rig.dataDir).filter((f) => f.startsWith("fieldbridge.db.corrupt-"));
  assert.equal(aside.length, 1, readdirSync(rig.dataDir).join(","));
  assert.equal(readFileSync(join(rig.dataDir, aside[0]!)).length, 64 * 1024, "the damaged file is kept for inspection");
  assert.ok(d.logs().some((l) => l.level === "error" && /unreadable|moved it aside/i.test(String(l.msg))), "logged clearly");
  assert.ok(existsSync(join(rig.dataDir, "fieldbridge.db")));
  assert.equal((await d.stop("SIGTERM")).code, 0);
});

test("an uplink the platform refuses after the PUBACK (a failed pack post) is queued again and arrives", async (t) => {
  const h = await startHarness({ driver: { periodMs: 0 } });
  t.after(() => h.stop());
  const { emu } = h;
  emu.addProduct(METER, { tsl: meterTsl(1), dynamicRegistration: true });
  emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 1, points: 1 }))).reply.code, 200);
  const ch = () => [...h.driver.channels.values()][0]!;
  ch().emitDevice(key(0), 1, Date.now());
  await emu.waitFor(() => emu.onlineSessions(gw).length === 1 && emu.accepted.properties.some((p) => p.value === 1), 10_000, "online");
  await until(() => h.alink.subs.onlineCount() === 1, 5000, "online here");

  emu.failNext("packPost", 500);
  const t1 = Date.now();
  ch().emitDevice(key(0), 7, t1);
  await emu.waitFor(() => emu.accepted.properties.some((p) => p.identifier === "P0" && p.value === 7 && p.time === t1), 10_000, "refused pack delivered again");
  assert.ok(emu.rejected.some((r) => r.code === 500), "the first attempt was refused");
  assert.equal(h.gw.drains.stats().failed, 1, "one refusal, sent again");
});

test("kill -9 after the PUBACK and before the platform's reply, and a 520 after the PUBACK: the value arrives, never zero times", async (t) => {
  const emu = await CloudEmulator.start({});
  emu.addDevice({ ...gw, gateway: true });
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
  const sim = await ModbusTcpSimulator.start({ units: [1] });
  sim.setHolding(1, 0, [0, 1]);
  const rig = makeRig(emu, { store: { sync: "full" } });
  t.after(async () => {
    await sim.close();
    await emu.close();
    rig.cleanup();
  });
  let d = new DaemonProcess(["run", "--config", rig.configFile]);
  t.after(() => void d.stop("SIGKILL"));
  await d.waitForLog((l) => l.msg === "connected to cloud", 10_000);
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 1, points: 2, port: sim.port, pollingTime: 100, trigger: 2 }))).reply.code, 200);
  const p0 = (v: number) => emu.accepted.properties.filter((p) => p.identifier === "P0" && p.value === v);
  await emu.waitFor(() => p0(1).length > 0, 10_000, "first value");

  // The platform takes the next pack post (PUBACK) and loses it: no reply. The daemon dies before its reply timeout.
  emu.failNext("packPost", 0, { count: 1000 });
  sim.setHolding(1, 0, [0, 2]);
  await emu.waitFor(() => emu.rejected.some((r) => r.code === 0), 10_000, "the pack post taken and lost");
  d.child.kill("SIGKILL");
  await d.exited();
  emu.clearFaults();
  assert.equal(p0(2).length, 0, "not accepted before the restart");
  d = new DaemonProcess(["run", "--config", rig.configFile]);
  await emu.waitFor(() => p0(2).length > 0, 20_000, "the lost value delivered after the restart");

  // A 520 after the PUBACK: the sub-device logs in again and the value is sent again.
  const logins = emu.logins.filter((l) => l.code === 200).length;
  emu.failNext("packPost", 520);
  sim.setHolding(1, 0, [0, 3]);
  await emu.waitFor(() => p0(3).length > 0, 20_000, "the refused value delivered after the re-login");
  assert.ok(emu.rejected.some((r) => r.code === 520), "the first attempt was refused with 520");
  await emu.waitFor(() => emu.logins.filter((l) => l.code === 200).length > logins, 5000, "the sub-device logged in again");
  assert.equal((await d.stop("SIGTERM")).code, 0);
});

test("a device removed by a push right after an outage takes its backlog with it: dropped and counted, nothing left waiting", async (t) => {
  const h = await startHarness({ driver: { periodMs: 100 } });
  t.after(() => h.stop());
  const { emu } = h;
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  for (let i = 0; i < 2; i++) emu.addDevice({ productKey: METER, deviceName: deviceName("meter", i) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 2, points: 2 }))).reply.code, 200);
  await emu.waitFor(() => emu.onlineSessions(gw).length === 2, 10_000, "online");

  await emu.outage();
  await new Promise((r) => setTimeout(r, 2000));
  // Device 1 cannot log in again after the outage: its backlog waits.
  emu.failNext("login", 500, { device: key(1), count: 1000 });
  await emu.restore();
  await until(() => h.alink.link.connected, 10_000, "reconnected");
  await emu.waitFor(() => emu.onlineSessions(gw).some((s) => s.deviceKey === key(0)), 10_000, "device 0 back");
  const waiting = () => h.gw.store.records.backlogByDevice(Number.MAX_SAFE_INTEGER).get(key(1)) ?? 0;
  assert.ok(waiting() > 0, "the device has a backlog");
  // Keep only device 0: device 1 leaves the document while its backlog waits.
  const doc = modbusDoc({ devices: 2, points: 2 }) as { deviceList: unknown[] };
  doc.deviceList = doc.deviceList.slice(0, 1);
  assert.equal((await emu.pushConfig(gw, doc)).reply.code, 200);
  assert.equal(waiting(), 0, "nothing of the removed device waits");
  const stats = h.gw.store.records.stats();
  assert.ok(stats.droppedRemoved > 0, `dropped and counted: ${JSON.stringify(stats)}`);
  assert.ok(h.logs().some((l) => l.msg === "device removed from the gateway config: its waiting records are dropped" && l["device"] === key(1)));
});
