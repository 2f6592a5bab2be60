import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import mqtt, { type MqttClient } from "mqtt";
import { LierdaEmulator } from "../../../src/sim/cloud/lierda/index.js";

const OPEN = "7ED01E2A";
const GW = { pid: "AA30C505", eui: "20MQTTJ000121", pk: "DB6FACEF35BEBA0517712F0E4BE32936", secret: "326086233FAB8A96566796551EB1DFF8" };
const V1_PW = "5EB6BBC8DE5233E632389FA3E8E133F14DC0378BDDE5EDD73E64F682A79D14515CF9C8D4C5A0F469AD773DF9F4BFC8F05876680DBB4A7CB546B1EE27FF10134B";
const V2_PW = "5EB6BBC8DE5233E632389FA3E8E133F14DC0378BDDE5EDD73E64F682A79D14515CF9C8D4C5A0F469AD773DF9F4BFC8F0725CDE013D77D74F22A59C33F8FE51622BE8CFAD9396E7811545F61CEDA9E4F9";
const TYPE0 = { pid: "B1C2D3E4", pk: "00112233445566778899AABBCCDDEEFF" };
const TSL = {
  properties: [
    { identifier: "temp", dataType: { type: "float", specs: { min: "-50", max: "50" } } },
    { identifier: "count", dataType: { type: "int", specs: { min: "0", max: "100" } } },
  ],
  events: [{ identifier: "Alarm", outputData: [{ identifier: "level", dataType: { type: "int" } }] }],
};
let emu: LierdaEmulator;
const clients: MqttClient[] = [];
const P = `/sys/${OPEN}/${GW.pid}/${GW.eui}`;

before(async () => {
  emu = await LierdaEmulator.start({ openId: OPEN });
  emu.addProduct(GW.pid, { productKey: GW.pk, authType: 2, tsl: TSL });
  emu.addDevice(GW.pid, GW.eui, { secret: GW.secret });
  emu.addProduct(TYPE0.pid, { productKey: TYPE0.pk, authType: 0 });
});
after(async () => {
  for (const c of clients) c.end(true);
  await emu.close();
});

function connect(clientId: string, username: string, password: string): Promise<{ client?: MqttClient; code?: number }> {
  return new Promise((resolve) => {
    const c = mqtt.connect({ host: "127.0.0.1", port: emu.port, clientId, username, password, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 60 });
    clients.push(c);
    const timer = setTimeout(() => resolve({ code: -1 }), 5000);
    c.once("connect", () => (clearTimeout(timer), resolve({ client: c })));
    c.once("error", (e: Error & { code?: number }) => (clearTimeout(timer), c.end(true), resolve({ code: typeof e.code === "number" ? e.code : -2 })));
  });
}

const gwConnect = (type: 0 | 1, pw: string) => connect(`V2_${GW.pid}.${GW.eui}_${type}_1675404867`, `${OPEN}-${GW.pid}-${GW.eui}`, pw);

function next(c: MqttClient, topic: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nothing on ${topic}`)), 3000);
    const on = (tp: string, payload: Buffer) => {
      if (tp !== topic) return;
      clearTimeout(t);
      c.off("message", on);
      resolve(JSON.parse(payload.toString()));
    };
    c.on("message", on);
  });
}

test("the seed's connect examples (V1 type 0, V2 type 1) are accepted; wrong ones refused with their codes", async () => {
  const a = await gwConnect(0, V1_PW);
  assert.ok(a.client, `V1 refused: ${a.code}`);
  a.client!.end(true);
  await emu.waitFor(() => !emu.online(`${GW.pid}/${GW.eui}`), 3000);
  // Type 1 with the 2023 timestamp is older than the offline second just recorded: refused (§3.4).
  assert.equal((await gwConnect(1, V2_PW)).code, 4);
  emu.device(`${GW.pid}/${GW.eui}`)!.lastOfflineS = undefined;
  const b = await gwConnect(1, V2_PW);
  assert.ok(b.client);
  b.client!.end(true);
  assert.equal((await gwConnect(0, V2_PW)).code, 4, "type-1 password on a type-0 clientId");
  assert.equal((await gwConnect(0, V1_PW.toLowerCase())).code, 4, "lowercase hex");
  assert.equal((await connect(`V2_${GW.pid}.${GW.eui}_0_1`, `${OPEN}-${GW.pid}-OTHER001`, V1_PW)).code, 2);
  assert.equal((await connect(`V2_${GW.pid}.OTHER001_0_1`, `${OPEN}-${GW.pid}-OTHER001`, V1_PW)).code, 4);
  emu.disable(`${GW.pid}/${GW.eui}`);
  assert.equal((await gwConnect(0, V1_PW)).code, 5);
  emu.enable(`${GW.pid}/${GW.eui}`);
  emu.failNext("connect", 3, { device: `${GW.pid}/${GW.eui}` });
  assert.equal((await gwConnect(0, V1_PW)).code, 3);
  assert.ok(emu.records.connects.some((c) => !c.accepted && c.returnCode === 4 && c.kind === "device"));
});

test("auth exchange for a type-0 product registers the device and returns a 32-hex secret", async () => {
  const eui = "METER0001";
  const bad = await connect(`${TYPE0.pid}-${eui}`, `AUTH-${OPEN}-${TYPE0.pid}`, "00112233445566778899AABBCCDDEEFE");
  assert.equal(bad.code, 4);
  const a = await connect(`${TYPE0.pid}-${eui}`, `AUTH-${OPEN}-${TYPE0.pid}`, TYPE0.pk);
  const c = a.client!;
  const downlink = `/sys/${OPEN}/${TYPE0.pid}/${eui}/downlink`;
  assert.deepEqual((await c.subscribeAsync({ [downlink]: { qos: 1 } })).map((g) => g.qos), [1]);
  await assert.rejects(c.subscribeAsync({ [`/sys/${OPEN}/${TYPE0.pid}/${eui}/+`]: { qos: 1 } }), /Subscribe error/);
  const wrongType = next(c, downlink);
  await c.publishAsync("/sys/device/auth", JSON.stringify({ MessageId: 1, HeaderCtrl: 1, Payload: { OpenID: OPEN, ProductID: TYPE0.pid, NodeEui: eui, Type: 1 }, Version: "2.0" }), { qos: 1 });
  assert.deepEqual(((await wrongType) as { Payload: unknown }).Payload, { Code: 5 });
  const reply = next(c, downlink);
  await c.publishAsync("/sys/device/auth", JSON.stringify({ MessageId: 1231, HeaderCtrl: 1, Payload: { OpenID: OPEN, ProductID: TYPE0.pid, NodeEui: eui, Type: 0 }, Version: "2.0" }), { qos: 1 });
  const r = (await reply) as { MessageId: number; HeaderCtrl: number; Payload: { Code: number; DeviceSecret: string } };
  assert.equal(r.MessageId, 1231);
  assert.equal(r.Payload.Code, 0);
  assert.match(r.Payload.DeviceSecret, /^[0-9A-F]{32}$/);
  assert.equal(emu.device(`${TYPE0.pid}/${eui}`)!.secret, r.Payload.DeviceSecret);
  c.end(true);
});

test("topics, envelopes and values are checked; 16/27/17 recorded with sample times and acked", async () => {
  emu.device(`${GW.pid}/${GW.eui}`)!.lastOfflineS = undefined;
  const { client } = await gwConnect(0, V1_PW);
  const c = client!;
  const filters = ["+", "model/property/set", "model/property/ask", "model/service/+", "model/property/report_ack", "model/history/data/report_ack", "model/event/+/report_ack"].map((f) => `${P}/${f}`);
  const granted = await c.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])));
  assert.deepEqual(granted.map((g) => g.qos), [1, 1, 1, 1, 1, 1, 1]);
  for (const f of [`/sys/${OPEN}/${GW.pid}/OTHER001/+`, "#", `${P}/model/#`]) await assert.rejects(c.subscribeAsync({ [f]: { qos: 1 } }), /Subscribe error/, f);
  const send = async (suffix: string, body: unknown) => {
    const ack = suffix === "update_time" ? next(c, `${P}/update_time_ack`) : next(c, `${P}/${suffix}_ack`);
    await c.publishAsync(`${P}/${suffix}`, typeof body === "string" ? body : JSON.stringify(body), { qos: 1 });
    return (await ack) as { Payload?: { Code: string }; Code?: string; Data?: { timestamp: number } };
  };
  assert.equal((await send("model/property/report", { MessageId: 1001, HeaderCtrl: 16, Payload: { temp: -21.5, count: 50 }, Version: "2.0" })).Payload!.Code, "200");
  assert.equal((await send("model/property/report", '{"MessageId":1002,"HeaderCtrl":16,"Payload":{"temp":21},"Version":"2.0"}')).Payload!.Code, "4001");
  assert.equal((await send("model/property/report", { MessageId: 1003, HeaderCtrl: 16, Payload: { count: 500 }, Version: "2.0" })).Payload!.Code, "4001");
  assert.equal((await send("model/property/report", { MessageId: 1004, HeaderCtrl: 27, Payload: { count: 5 }, Version: "2.0" })).Payload!.Code, "4001");
  assert.equal((await send("model/property/report", { MessageId: 1.5, HeaderCtrl: 16, Payload: {}, Version: "2.0" })).Payload!.Code, "4001");
  const hist = { MessageId: 1005, HeaderCtrl: 27, Payload: { params: [{ properties: [{ count: { value: 3, time: 1764700000500 } }, { count: { value: 4, time: 1764700001500 }, temp: { value: 1.5, time: 1764700001500 } }], events: [{ Alarm: { value: { level: 2 }, time: 1764700001600 } }] }] }, Version: "2.0" };
  assert.equal((await send("model/history/data/report", hist)).Payload!.Code, "200");
  assert.equal((await send("model/event/Alarm/report", { MessageId: 1006, HeaderCtrl: 17, Payload: { level: 1 }, Version: "2.0" })).Payload!.Code, "200");
  const t = await send("update_time", { MessageId: 9, HeaderCtrl: 29, Payload: "", Version: "2.0" });
  assert.equal(t.Code, "200");
  assert.ok(Math.abs(t.Data!.timestamp - Date.now()) < 5000);
  const v = emu.records.values.filter((x) => x.device === `${GW.pid}/${GW.eui}`);
  assert.deepEqual(v.map((x) => [x.identifier, x.value, x.via]), [["temp", -21.5, 16], ["count", 50, 16], ["count", 3, 27], ["count", 4, 27], ["temp", 1.5, 27]]);
  assert.deepEqual(v.filter((x) => x.via === 27).map((x) => x.time), [1764700000500, 1764700001500, 1764700001500]);
  assert.deepEqual(emu.records.events.map((e) => [e.identifier, e.via, e.outputs]), [["Alarm", 27, { level: 2 }], ["Alarm", 17, { level: 1 }]]);
  assert.equal(emu.records.rejected.length, 4);
  // Downlinks: a set reaches the device and its ack settles the request.
  c.on("message", (topic, payload) => {
    if (topic !== `${P}/model/property/set`) return;
    const m = JSON.parse(payload.toString());
    void c.publishAsync(`${P}/model/property/set_ack`, JSON.stringify({ MessageId: m.MessageId, HeaderCtrl: 20, Payload: { Code: "200", Msg: "SUCCESS", Data: {} }, Version: "2.0" }), { qos: 1 });
  });
  const ack = await emu.setProperty(`${GW.pid}/${GW.eui}`, { count: "7" }, { timeoutMs: 3000 });
  assert.deepEqual(ack.payload, { Code: "200", Msg: "SUCCESS", Data: {} });
  // Publishing under another device closes the connection and is recorded.
  const closed = new Promise<void>((r) => c.once("close", () => r()));
  c.publish(`/sys/${OPEN}/${GW.pid}/OTHER001/model/property/report`, "{}", { qos: 1 });
  await closed;
  assert.ok(emu.records.refusals.some((r) => r.kind === "publish" && r.topic.includes("OTHER001")));
  await emu.waitFor(() => !emu.online(`${GW.pid}/${GW.eui}`), 3000);
  await assert.rejects(emu.setProperty(`${GW.pid}/${GW.eui}`, { count: 1 }), /offline/);
});

test("a newer connection of a device closes the older one", async () => {
  emu.device(`${GW.pid}/${GW.eui}`)!.lastOfflineS = undefined;
  const a = (await gwConnect(0, V1_PW)).client!;
  const closed = new Promise<void>((res) => a.once("close", () => res()));
  const b = (await connect(`V2_${GW.pid}.${GW.eui}_0_1675404868`, `${OPEN}-${GW.pid}-${GW.eui}`, V1_PW)).client!;
  await closed;
  assert.ok(b.connected);
  assert.ok(emu.online(`${GW.pid}/${GW.eui}`));
  b.end(true);
});

test("outage drops connections and restore listens on the same port", async () => {
  const port = emu.port;
  await emu.outage();
  assert.notEqual((await gwConnect(0, V1_PW)).code, undefined);
  await emu.restore();
  assert.equal(emu.port, port);
  const r = await gwConnect(0, V1_PW);
  assert.ok(r.client);
  r.client!.end(true);
});
