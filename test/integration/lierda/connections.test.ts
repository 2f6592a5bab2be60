/** Device connection lifecycle: refusals, re-auth, disabled, outage, restart, pacing, connect type 1, stop. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PropertiesRecord } from "../../../src/cloud/platform.js";
import { devices, GW, GW_KEY, rig } from "./fixture.js";
import { T0, T2 } from "./fixture.js";

const M0 = `${T0.pid}/METER0001`;
const M2 = `${T2.pid}/METER0002`;
const rec = (device: string, seq: number): PropertiesRecord => ({ kind: "properties", seq, device, time: Date.now(), attempts: 0, values: [{ identifier: "count", value: seq, time: Date.now() }] });

test("a wrong DeviceSecret is refused every time, retried at the max backoff, and harms no other device", async (t) => {
  const r = await rig({ fieldSecret: "00000000000000000000000000000000", reconnectMaxSeconds: 2 });
  t.after(() => r.close());
  r.adapter.setDevices(devices([T2.pid, "METER0002"], [T0.pid, "METER0001"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.emu.online(GW_KEY) && r.emu.online(M0), 10_000, "others online");
  const refusals = await r.emu.waitFor(() => {
    const list = r.emu.records.connects.filter((c) => c.device === M2 && !c.accepted);
    return list.length >= 3 ? list : undefined;
  }, 10_000, "three refusals");
  for (let i = 1; i < refusals.length; i++) assert.ok(refusals[i]!.time - refusals[i - 1]!.time >= 1900, `retry after ${refusals[i]!.time - refusals[i - 1]!.time} ms`);
  assert.ok(refusals.every((c) => c.returnCode === 4));
  const st = await r.emu.waitFor(() => r.adapter.status().devices.find((d) => d.device === M2 && d.state === "refused"), 3000, "refused state");
  assert.match(st.reason ?? "", /CONNACK 4/);
  assert.ok(r.adapter.ready(M0, M0) && r.adapter.ready(GW_KEY, GW_KEY));
  assert.equal((await r.adapter.send(M2, [rec(M2, 1)]).done)[0]!.result, "unsent");
  assert.ok(!r.logs.text().includes("00000000000000000000000000000000"));
});

test("types 0/1: a refused stored secret is dropped and the device authenticates again; auth Code 4 → disabled; a non-32-hex secret is a failure", async (t) => {
  const r = await rig({ reconnectMaxSeconds: 1 });
  t.after(() => r.close());
  r.adapter.setDevices(devices([T0.pid, "METER0001"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(M0, M0), 10_000, "online");
  const first = r.store.secrets.get(T0.pid, "METER0001");
  r.emu.rotateSecret(M0, "A".repeat(32));
  r.emu.kick(M0);
  await r.emu.waitFor(() => r.emu.records.auths.filter((a) => a.device === M0 && a.code === 0).length === 2, 10_000, "second auth");
  await r.emu.waitFor(() => r.adapter.ready(M0, M0), 10_000, "online again");
  assert.notEqual(r.store.secrets.get(T0.pid, "METER0001"), first);
  assert.equal(r.store.secrets.get(T0.pid, "METER0001"), "A".repeat(32));
  // Disabled on the platform: the connection is closed, the auth answers Code 4.
  r.emu.rotateSecret(M0, "B".repeat(32));
  r.emu.disable(M0);
  await r.emu.waitFor(() => r.adapter.status().devices.find((d) => d.device === M0)?.state === "disabled", 10_000, "disabled");
  r.emu.enable(M0);
  r.emu.failNext("auth", 0, { device: M0 });
  await r.emu.waitFor(() => r.emu.records.auths.some((a) => a.device === M0 && a.code === 0 && r.adapter.status().devices.find((d) => d.device === M0)?.reason?.includes("not 32 hex")), 10_000, "short secret refused");
  assert.equal(r.store.secrets.get(T0.pid, "METER0001"), undefined);
  await r.emu.waitFor(() => r.adapter.ready(M0, M0), 10_000, "online after enable");
  assert.equal(r.store.secrets.get(T0.pid, "METER0001"), "B".repeat(32));
});

test("outage: sends are unsent, every device reconnects after restore; restart reuses secrets and keeps ids increasing", async (t) => {
  const r = await rig();
  t.after(() => r.close());
  r.adapter.setDevices(devices([T0.pid, "METER0001"], [T2.pid, "METER0002"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(M0, M0) && r.adapter.ready(M2, M2), 10_000, "online");
  assert.equal((await r.adapter.send(M2, [rec(M2, 1)]).done)[0]!.result, "ok");
  await r.emu.outage();
  await r.emu.waitFor(() => !r.adapter.ready(M2, M2) && !r.adapter.status().connected, 5000, "down");
  assert.equal((await r.adapter.send(M2, [rec(M2, 2)]).done)[0]!.result, "unsent");
  assert.ok(r.core.presenceLog.some((p) => p.route === M2 && !p.up));
  await r.emu.restore();
  await r.emu.waitFor(() => r.adapter.ready(M0, M0) && r.adapter.ready(M2, M2) && r.adapter.ready(GW_KEY, GW_KEY), 15_000, "back");
  assert.equal((await r.adapter.send(M2, [rec(M2, 3)]).done)[0]!.result, "ok");
  const lastId = Math.max(...r.emu.records.uplinks.filter((u) => u.device === M2 && typeof u.messageId === "number").map((u) => u.messageId as number));
  const auths = r.emu.records.auths.length;
  const a2 = await r.restart();
  a2.setDevices(devices([T0.pid, "METER0001"], [T2.pid, "METER0002"]));
  a2.start();
  await r.emu.waitFor(() => a2.ready(M0, M0) && a2.ready(M2, M2), 10_000, "online after restart");
  assert.equal(r.emu.records.auths.length, auths, "the stored secret was not reused");
  assert.equal((await a2.send(M2, [rec(M2, 4)]).done)[0]!.result, "ok");
  const after = r.emu.records.uplinks.filter((u) => u.device === M2).at(-1)!.messageId as number;
  assert.ok(after > lastId, `id ${after} after ${lastId}`);
});

test("every CONNECT (auth and device) is paced by connectsPerSecond; the gateway connects first", async (t) => {
  const r = await rig({ connectsPerSecond: 4 });
  t.after(() => r.close());
  const names = ["MTR00001", "MTR00002", "MTR00003", "MTR00004", "MTR00005"];
  r.adapter.setDevices(devices(...names.map((n) => [T0.pid, n] as [string, string])));
  r.adapter.start();
  await r.emu.waitFor(() => names.every((n) => r.emu.online(`${T0.pid}/${n}`)), 15_000, "all online");
  const times = r.emu.records.connects.map((c) => c.time).sort((a, b) => a - b);
  assert.equal(times.length, 11);
  // A bucket of 4/s holding 1 s worth: n connects take at least (n - 4) / 4 s.
  for (let i = 8; i < times.length; i++) assert.ok(times[i]! - times[i - 8]! >= 900, `9 connects within ${times[i]! - times[i - 8]!} ms`);
  assert.ok(times.at(-1)! - times[0]! >= 1650, `11 connects within ${times.at(-1)! - times[0]!} ms`);
  assert.equal(r.emu.records.connects[0]!.device, GW_KEY);
});

test("connect type 1: reconnects use a timestamp after the last offline second; TLS; stop disconnects everything in time", async (t) => {
  const r = await rig({ connectType: 1, tls: true });
  t.after(() => r.close());
  r.adapter.setDevices(devices([T2.pid, "METER0002"], [T0.pid, "METER0001"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(M2, M2) && r.adapter.ready(M0, M0), 10_000, "online");
  assert.match(r.emu.records.connects.find((c) => c.device === M2 && c.accepted)!.clientId, /^V2_C5D6E7F8\.METER0002_1_\d{10}$/);
  for (let i = 0; i < 3; i++) {
    const n = r.emu.records.connects.filter((c) => c.device === M2 && c.accepted).length;
    r.emu.kick(M2);
    await r.emu.waitFor(() => r.emu.records.connects.filter((c) => c.device === M2 && c.accepted).length > n && r.adapter.ready(M2, M2), 10_000, `reconnect ${i}`);
  }
  assert.deepEqual(r.emu.records.connects.filter((c) => c.device === M2 && !c.accepted), []);
  const t0 = Date.now();
  await r.adapter.stop(5000);
  assert.ok(Date.now() - t0 < 5000);
  await r.emu.waitFor(() => ![GW_KEY, M0, M2].some((k) => r.emu.online(k)), 3000, "all offline");
  const offline = r.emu.records.presence.filter((p) => !p.online).map((p) => p.device);
  assert.equal(offline.at(-1), GW_KEY, "the gateway goes last");
});

test("gateway auth type 0: the gateway authenticates and documentSecret() is the secret obtained", async (t) => {
  const r = await rig({ gatewayAuthType: 0 });
  t.after(() => r.close());
  assert.equal(r.adapter.documentSecret(), undefined);
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(GW_KEY, GW_KEY), 10_000, "gateway online");
  const s = r.store.secrets.get(GW.pid, GW.eui);
  assert.match(s ?? "", /^[0-9A-F]{32}$/);
  assert.equal(r.adapter.documentSecret(), s);
});

test("a SUBACK failure disconnects and retries; an unacknowledged firmware report is resent at most 3 times", async (t) => {
  const r = await rig({ requestTimeoutSeconds: 1 });
  t.after(() => r.close());
  r.emu.failNext("subscribe", 0x80, { device: M2 });
  r.emu.failNext("firmwareAck", null, { device: GW_KEY, count: 10 });
  r.adapter.setDevices(devices([T2.pid, "METER0002"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(M2, M2), 10_000, "online after the SUBACK failure");
  assert.ok(r.emu.records.refusals.some((x) => x.device === M2 && x.kind === "subscribe"));
  assert.ok(r.emu.records.connects.filter((c) => c.device === M2 && c.accepted).length >= 2);
  const reports = () => r.emu.records.uplinks.filter((u) => u.device === GW_KEY && u.headerCtrl === 8).length;
  await r.emu.waitFor(() => reports() === 4, 8000, "4 firmware reports");
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(reports(), 4);
});

test("auth type 1: a pre-registered device gets its secret by auth; an unregistered one is refused (Code 4, disabled); the gateway's own TSL encodes its telemetry", async (t) => {
  const r = await rig();
  t.after(() => r.close());
  const T1 = { pid: "E1E2E3E4", pk: "0123456789ABCDEF0123456789ABCDEF" };
  r.emu.addProduct(T1.pid, { productKey: T1.pk, authType: 1 });
  r.emu.addDevice(T1.pid, "T1DEV001");
  r.cfg.lierda.products[T1.pid] = { productKey: T1.pk, authType: 1, encrypted: false };
  r.adapter.setDevices([...devices([T1.pid, "T1DEV001"], [T1.pid, "T1DEV002"]), ...devices([GW.pid, GW.eui])]);
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(`${T1.pid}/T1DEV001`, `${T1.pid}/T1DEV001`), 10_000, "type-1 device online");
  assert.equal(r.store.secrets.get(T1.pid, "T1DEV001"), r.emu.device(`${T1.pid}/T1DEV001`)!.secret);
  assert.ok(r.emu.records.auths.some((a) => a.device === `${T1.pid}/T1DEV001` && a.type === 1 && a.code === 0));
  await r.emu.waitFor(() => r.adapter.status().devices.find((d) => d.device === `${T1.pid}/T1DEV002` && d.state === "disabled"), 10_000, "unregistered → disabled");
  assert.equal(r.store.secrets.get(T1.pid, "T1DEV002"), undefined);
  await r.emu.waitFor(() => r.adapter.ready(GW_KEY, GW_KEY), 5000, "gateway");
  const res = await r.adapter.send(GW_KEY, [{ kind: "properties", seq: 1, device: GW_KEY, time: Date.now(), attempts: 0, values: [{ identifier: "temp", value: 30, time: Date.now() }] }]).done;
  assert.equal(res[0]!.result, "ok");
  assert.ok(r.emu.records.uplinks.some((u) => u.device === GW_KEY && u.headerCtrl === 16 && u.json.includes('"temp":30.0')));
  assert.deepEqual(r.adapter.status().devices.map((d) => d.device).sort(), [GW_KEY, `${T1.pid}/T1DEV001`, `${T1.pid}/T1DEV002`].sort());
});

test("connect type 1: a restart right after the shutdown waits for the next second instead of being refused", async (t) => {
  const r = await rig({ connectType: 1 });
  t.after(() => r.close());
  r.adapter.setDevices(devices([T2.pid, "METER0002"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(M2, M2) && r.adapter.ready(GW_KEY, GW_KEY), 10_000, "online");
  for (let i = 0; i < 2; i++) {
    const a = await r.restart();
    a.setDevices(devices([T2.pid, "METER0002"]));
    a.start();
    await r.emu.waitFor(() => a.ready(M2, M2) && a.ready(GW_KEY, GW_KEY), 10_000, `online after restart ${i}`);
  }
  assert.deepEqual(r.emu.records.connects.filter((c) => !c.accepted).map((c) => c.reason), []);
});
