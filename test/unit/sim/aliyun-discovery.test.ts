/**
 * The Alibaba emulator's thing-model and discovery side, against a plain mqtt.js client: thing.dsltemplate.get
 * answers with the product's model (or the template set for it) and refuses malformed requests; thing.list.found is
 * checked item by item (460, 6250, 6280) and records nothing of a refused request; thing.topo.add.notify goes out on
 * the gateway's topic and waits for the reply on /sys (not /icsys).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { loginParams, mqttConnectFields, topoAddItem } from "../../../src/cloud/aliyun/sign.js";
import { CloudEmulator } from "../../../src/sim/cloud/aliyun/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";

const GW = { productKey: "a1DiscGw", deviceName: "disc-gw-01", deviceSecret: "DiscoveryGatewaySecretForTests01" };
const PK = "a1DiscMeter";
const METER = { productKey: PK, deviceName: "meter-01" };
const TSL: TslDocument = { profile: { productKey: PK }, properties: [{ identifier: "Counter", accessMode: "r", dataType: { type: "int", specs: {} } }], events: [], services: [] };
const sys = (d: { productKey: string; deviceName: string }, rest: string) => `/sys/${d.productKey}/${d.deviceName}/${rest}`;

describe("aliyun emulator: dsltemplate.get, list.found, topo.add.notify", () => {
  let emu: CloudEmulator;
  let client: MqttClient;
  let seq = 100;

  /** Publishes `body` (an id is added unless given) and resolves with the reply carrying that id. */
  async function ask(topic: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = "id" in body ? body["id"] : String(++seq);
    const reply = `${topic}_reply`;
    await client.subscribeAsync(reply, { qos: 1 });
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply on ${reply}`)), 4000);
      const on = (t: string, payload: Buffer) => {
        const json = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
        if (t !== reply || json["id"] !== id) return;
        clearTimeout(timer);
        client.off("message", on);
        resolve(json);
      };
      client.on("message", on);
    });
    await client.publishAsync(topic, JSON.stringify({ ...body, id }), { qos: 1 });
    return answer;
  }

  before(async () => {
    emu = await CloudEmulator.start({ tls: false });
    emu.addDevice({ ...GW, gateway: true });
    emu.addProduct(PK, { tsl: TSL });
    const { deviceSecret } = emu.addDevice(METER);
    const f = mqttConnectFields({ ...GW, clientId: GW.deviceName, timestamp: String(Date.now()), signMethod: "hmacsha256", tls: false });
    client = await mqtt.connectAsync(emu.url, { clientId: f.clientId, username: f.username, password: f.password, reconnectPeriod: 0 });
    const sub = { ...METER, deviceSecret };
    assert.equal((await ask(sys(GW, "thing/topo/add"), { version: "1.0", params: [topoAddItem(sub)], method: "thing.topo.add" }))["code"], 200);
    assert.equal((await ask(`/ext/session/${GW.productKey}/${GW.deviceName}/combine/login`, { params: loginParams(sub) }))["code"], 200);
  });
  after(async () => {
    await client?.endAsync(true);
    await emu?.close();
  });

  test("dsltemplate.get answers the product's model under the device's identity, with its profile", async () => {
    const r = await ask(sys(METER, "thing/dsltemplate/get"), { version: "1.0", params: {}, method: "thing.dsltemplate.get" });
    assert.equal(r["code"], 200);
    const data = r["data"] as Record<string, unknown>;
    assert.deepEqual(data["profile"], METER);
    assert.equal(data["link"], `/sys/${PK}/meter-01/thing/`);
    assert.deepEqual(data["properties"], TSL.properties);
  });

  test("dsltemplate.get refuses a wrong method, version or params with 460; a set template is answered instead of the model", async () => {
    const base = { version: "1.0", params: {}, method: "thing.dsltemplate.get" };
    for (const bad of [{ ...base, method: "thing.dsl.get" }, { ...base, version: "2.0" }, { ...base, params: [] }, { ...base, id: "x1" }]) {
      assert.equal((await ask(sys(METER, "thing/dsltemplate/get"), bad))["code"], 460, JSON.stringify(bad));
    }
    emu.discovery.templates.set(PK, { profile: { productKey: "other" } });
    try {
      const r = await ask(sys(METER, "thing/dsltemplate/get"), base);
      assert.deepEqual(r["data"], { profile: { productKey: "other" } });
    } finally {
      emu.discovery.templates.delete(PK);
    }
    assert.deepEqual(emu.discovery.dslRequests.map((q) => q.code), [200, 460, 460, 460, 460, 200]);
  });

  test("list.found: checked item by item; a refused request records nothing", async () => {
    const found = (params: unknown) => ask(sys(GW, "thing/list/found"), { version: "1.0", params, method: "thing.list.found" });
    assert.equal((await found([]))["code"], 460, "an empty list");
    assert.equal((await found([{ productKey: PK }]))["code"], 460, "an item without deviceName");
    assert.equal((await found([{ productKey: PK, deviceName: "unit-7" }, { productKey: "a1Nope", deviceName: "unit-8" }]))["code"], 6250);
    assert.equal((await found([{ productKey: PK, deviceName: "u9" }]))["code"], 6280, "a name under 4 characters");
    assert.equal(emu.discovery.found.length, 0);
    assert.equal((await found([{ productKey: PK, deviceName: "unit-7" }]))["code"], 200);
    assert.deepEqual(emu.discovery.found.map((f) => [f.gatewayKey, f.deviceKey]), [[`${GW.productKey}/${GW.deviceName}`, `${PK}/unit-7`]]);
    const underSub = await ask(sys(METER, "thing/list/found"), { version: "1.0", params: [{ productKey: PK, deviceName: "unit-9" }], method: "thing.list.found" });
    assert.equal(underSub["code"], 460, "only under the gateway's identity");
  });

  test("topo.add.notify is sent on the gateway's topic and settles with the reply on /sys", async () => {
    const topic = sys(GW, "thing/topo/add/notify");
    await client.subscribeAsync(topic, { qos: 1 });
    client.on("message", (t, payload) => {
      if (t !== topic) return;
      const msg = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
      // The seed's /icsys reply topic is ignored by the platform; the /sys one settles the request.
      void client.publishAsync(`/icsys/${GW.productKey}/${GW.deviceName}/thing/topo/add/notify_reply`, JSON.stringify({ id: msg["id"], code: 200, data: {} }));
      void client.publishAsync(`${topic}_reply`, JSON.stringify({ id: msg["id"], code: 200, data: {} }));
    });
    const r = await emu.notifyTopoAdd(GW, [`${PK}/unit-7`], { timeoutMs: 4000 });
    assert.equal(r.code, 200);
    const notify = emu.received((m) => m.topic.startsWith("/icsys/"));
    assert.equal(notify.length, 1);
    assert.ok(emu.rejected.some((x) => x.topic.startsWith("/icsys/")), "the /icsys reply is recorded as refused");
  });
});
