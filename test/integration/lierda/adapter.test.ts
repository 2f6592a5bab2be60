/** The Lierda adapter against the strict emulator: connections, auth, uplinks, downlinks, config, shutdown. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { PropertiesRecord, EventRecord, Outcome, UplinkRecord } from "../../../src/cloud/platform.js";
import { decryptOpcuaPassword, encryptOpcuaPassword } from "../../../src/config/gateway/crypto.js";
import { devices, GW, GW_KEY, rig, T0, T2, type Rig } from "./fixture.js";

const M0 = `${T0.pid}/METER0001`;
const M2 = `${T2.pid}/METER0002`;
let r: Rig;
let seq = 0;

before(async () => {
  r = await rig();
  r.emu.clockSkewMs = 10_000;
  r.adapter.setDevices(devices([T0.pid, "METER0001"], [T2.pid, "METER0002"], ["DDDDDDDD", "NOCREDS1"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.emu.online(GW_KEY) && r.emu.online(M0) && r.emu.online(M2), 10_000, "all online");
  await r.emu.waitFor(() => r.adapter.ready(M0, M0) && r.adapter.ready(M2, M2) && r.adapter.ready(GW_KEY, GW_KEY), 5000, "ready");
});
after(async () => {
  if (process.env.DBG) console.log(r.logs.rawLines().filter((l) => !l.includes("\"connected\"")).join("\n"), JSON.stringify(r.emu.records.rejected), JSON.stringify(r.emu.records.refusals), r.emu.records.uplinks.filter((u) => u.headerCtrl === 20).map((u) => u.json).join("\n"));
  await r.close();
});

const props = (device: string, values: [string, unknown, number][]): PropertiesRecord => ({
  kind: "properties",
  seq: ++seq,
  device,
  time: Math.min(...values.map((v) => v[2])),
  attempts: 0,
  values: values.map(([identifier, value, time]) => ({ identifier, value: value as number, time })),
});

test("connect: gateway first, type-0 device authenticated (secret stored, never logged), unknown product → no-credentials", async () => {
  const first = r.emu.records.connects.find((c) => c.accepted && c.kind === "device");
  assert.equal(first?.device, GW_KEY);
  assert.equal(r.emu.records.auths.filter((a) => a.device === M0 && a.code === 0).length, 1);
  const stored = r.store.secrets.get(T0.pid, "METER0001");
  assert.match(stored ?? "", /^[0-9A-F]{32}$/);
  assert.equal(stored, r.emu.device(M0)!.secret);
  assert.ok(!r.logs.text().includes(stored!));
  for (const s of [GW.secret, GW.pk, T0.pk, T2.secret]) assert.ok(!r.logs.text().includes(s), "a secret reached the log");
  const st = r.adapter.status();
  assert.equal(st.platform, "lierda");
  assert.equal(st.connected, true);
  const byKey = Object.fromEntries(st.devices.map((d) => [d.device, d.state]));
  assert.deepEqual(byKey, { [GW_KEY]: "online", [M0]: "online", [M2]: "online", "DDDDDDDD/NOCREDS1": "no-credentials" });
  assert.ok(!JSON.stringify(st).match(/[0-9A-F]{32}/i), "status holds a secret");
  assert.equal(r.adapter.documentSecret(), GW.secret);
  assert.ok(r.core.presenceLog.some((p) => p.route === M0 && p.up));
  assert.ok(r.core.rejoined.includes(M2));
});

test("firmware report and time sync on the gateway's connection; offset above 2 s shown", async () => {
  const fw = await r.emu.waitFor(() => r.emu.records.uplinks.find((u) => u.device === GW_KEY && u.headerCtrl === 8), 5000, "firmware report");
  assert.deepEqual(fw.payload, { HardVer: "fieldbridge", SoftVer: "1.4.0", Type: 2 });
  assert.ok(r.emu.records.uplinks.some((u) => u.device === GW_KEY && u.headerCtrl === 29));
  assert.ok(!r.emu.records.uplinks.some((u) => u.device !== GW_KEY && (u.headerCtrl === 29 || u.headerCtrl === 8)));
  await r.emu.waitFor(() => Math.abs((r.adapter.status().counters["clockOffsetMs"] ?? 0) - 10_000) < 1500, 5000, "offset");
});

test("live samples go as 16, old ones as 27 with their sample times; events as 17 or in 27; floats keep their point", async () => {
  r.emu.clockSkewMs = 0;
  const now = Date.now();
  const old = props(M2, [["temp", 21, now - 3_600_000], ["count", 5, now - 3_600_000]]);
  const live = props(M2, [["temp", 22, now], ["count", 6, now]]);
  const ev: EventRecord = { kind: "event", seq: ++seq, device: M2, time: now, attempts: 0, identifier: "Alarm", outputs: { value: 3 } };
  const sending = r.adapter.send(M2, [old, live, ev]);
  assert.equal(sending.messages, 3);
  const res = await sending.done;
  assert.deepEqual(res.map((x) => x.result), ["ok", "ok", "ok"]);
  const got = r.emu.records.values.filter((v) => v.device === M2);
  assert.deepEqual(got.map((v) => [v.identifier, v.value, v.via]), [["temp", 21, 27], ["count", 5, 27], ["temp", 22, 16], ["count", 6, 16]]);
  // The 27 carries the original time, corrected by the 10 s offset measured at connect.
  assert.ok(Math.abs(got[0]!.time - (now - 3_600_000) - 10_000) < 1500);
  assert.equal(r.emu.records.events.at(-1)!.via, 17);
  assert.equal(r.emu.records.rejected.length, 0, JSON.stringify(r.emu.records.rejected));
  const ids = r.emu.records.uplinks.filter((u) => u.device === M2).map((u) => u.messageId as number);
  assert.deepEqual([...ids].sort((a, b) => a - b), ids, "message ids increase per device");
});

test("a 4001 ack is counted as rejected and not retried (the record is delivered on PUBACK); the document secret decrypts OPC UA passwords", async () => {
  r.emu.failNext("report", "4001", { device: M2 });
  const before = r.adapter.status().counters["uplinksRejected"]!;
  const res = await r.adapter.send(M2, [props(M2, [["count", 9, Date.now()]])]).done;
  assert.equal(res[0]!.result, "ok");
  await r.emu.waitFor(() => r.adapter.status().counters["uplinksRejected"] === before + 1, 3000, "rejected counted");
  assert.ok(r.logs.find((l) => typeof l["msg"] === "string" && (l["msg"] as string).includes("rejected an uplink (Code 4001)")));
  assert.equal(decryptOpcuaPassword(encryptOpcuaPassword("opc-pass", GW.secret), r.adapter.documentSecret()!), "opc-pass");
});

test("a wire record is rejected, a record of another device too, and nothing is sent for a device that is not online", async () => {
  const wire: UplinkRecord = { kind: "wire", seq: ++seq, device: M2, time: Date.now(), attempts: 0, platform: "aliyun", topic: "x", payload: "{}", devices: [M2] };
  const other = props(M0, [["count", 1, Date.now()]]);
  const res = await r.adapter.send(M2, [wire, other]).done;
  assert.deepEqual(res.map((x) => x.result), ["reject", "reject"]);
  const off = await r.adapter.send("DDDDDDDD/NOCREDS1", [props("DDDDDDDD/NOCREDS1", [["count", 1, Date.now()]])]).done;
  assert.equal(off[0]!.result, "unsent");
  assert.equal(r.adapter.ready(M2, M0), false);
});

test("property set: converted values to the core, 200 with Data; invalid sets write nothing and get 4001", async () => {
  r.core.requests.length = 0;
  const ok = await r.emu.setProperty(M0, [{ identify: "sp", value: "345" }, { identify: "level", value: 2 }]);
  assert.deepEqual(ok.payload, { Code: "200", Msg: "SUCCESS", Data: { sp: 345, level: 2 } });
  assert.deepEqual(r.core.requests, [{ kind: "propertySet", device: M0, values: { sp: 345, level: 2 } }]);
  const bad: [unknown[], RegExp][] = [
    [[{ identify: "sp", value: 5000 }], /sp: 5000 is above max 1000/],
    [[{ identify: "count", value: 1 }], /count: .*read-only/],
    [[{ identify: "nope", value: 1 }], /nope: unknown property/],
    [[{ identify: "sp", value: 5 }, { identify: "level", value: 50 }], /level: 50 is above max 10/],
  ];
  for (const [items, re] of bad) {
    const reply = await r.emu.request(M0, "model/property/set", 20, { params: items }, "set");
    const p = reply.payload as { Code: string; Msg: string; Data: unknown };
    assert.equal(p.Code, "4001");
    assert.match(p.Msg, re);
    assert.deepEqual(p.Data, {});
  }
  assert.equal(r.core.requests.length, 1, "an invalid set reached the core");
  // The core refuses (a point without a write mapping): 4001 with its message.
  r.core.answer = async () => ({ ok: false, kind: "readOnly", message: "sp: no writable point" });
  const ro = await r.emu.setProperty(M0, { sp: 1 });
  assert.deepEqual(ro.payload, { Code: "4001", Msg: "Failed: sp: no writable point", Data: {} });
  // A repeated MessageId within 60 s gets the first reply and is not executed again.
  const before = r.core.requests.length;
  const a = await r.emu.setProperty(M0, { sp: 2 }, { messageId: "dup-1" });
  const b = await r.emu.setProperty(M0, { sp: 3 }, { messageId: "dup-1" });
  assert.deepEqual(a.payload, b.payload);
  assert.equal(r.core.requests.length, before + 1);
  // A field write that takes too long is answered with a timeout failure within requestTimeoutSeconds.
  r.core.answer = () => new Promise(() => undefined);
  const slow = await r.emu.setProperty(M0, { sp: 4 }, { timeoutMs: 6000 });
  assert.deepEqual(slow.payload, { Code: "4001", Msg: "Failed: timeout", Data: {} });
  r.core.answer = async (q): Promise<Outcome> => (q.kind === "propertyGet" ? { ok: true, data: { temp: 21, count: 7 } } : q.kind === "service" ? { ok: true, data: { result: 1007 } } : { ok: true });
});

test("property ask is answered by a 16 with the same MessageId and current values; services reply with Data", async () => {
  r.core.requests.length = 0;
  const ask = await r.emu.askProperty(M0, ["temp", "count", "unknown"]);
  assert.deepEqual(ask.payload, { temp: 21, count: 7 });
  assert.deepEqual(r.core.requests[0], { kind: "propertyGet", device: M0, identifiers: ["temp", "count"] });
  assert.ok(r.emu.records.uplinks.some((u) => u.headerCtrl === 16 && u.json.includes('"temp":21.0')), "float keeps its decimal point");
  const svc = await r.emu.callService(M0, "Reset", { mode: 7 });
  assert.deepEqual(svc.payload, { Code: "200", Msg: "SUCCESS", Data: { result: 1007 } });
  assert.deepEqual(r.core.requests.at(-1), { kind: "service", device: M0, service: "Reset", inputs: { mode: 7 } });
  for (const [service, params, opts] of [["Reset", { mode: 70 }, {}], ["Reset", {}, {}], ["Nope", {}, {}], ["set", {}, {}], ["Reset", { mode: 1 }, { serviceIdentify: "Other" }]] as const) {
    const n = r.core.requests.length;
    const rep = await r.emu.callService(M0, service, params, opts);
    assert.equal((rep.payload as { Code: string }).Code, "4001", `${service} ${JSON.stringify(params)}`);
    assert.equal(r.core.requests.length, n);
  }
});

test("a document change: a removed device disconnects and leaves status, an unchanged one keeps its connection", async () => {
  const connectsM2 = r.emu.records.connects.filter((c) => c.device === M2 && c.accepted).length;
  r.adapter.setDevices(devices([T2.pid, "METER0002"]));
  await r.emu.waitFor(() => !r.emu.online(M0), 5000, "removed device offline");
  assert.ok(r.core.presenceLog.some((p) => p.route === M0 && !p.up));
  assert.deepEqual(r.adapter.status().devices.map((d) => d.device).sort(), [GW_KEY, M2].sort());
  assert.equal((await r.adapter.send(M0, [props(M0, [["count", 1, Date.now()]])]).done)[0]!.result, "unsent");
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.emu.records.connects.filter((c) => c.device === M2 && c.accepted).length, connectsM2);
  assert.equal(r.adapter.ready(M2, M2), true);
});
