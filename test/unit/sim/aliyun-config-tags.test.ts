/**
 * The Alibaba emulator's remote configuration and device tags against a plain mqtt.js client: what it accepts,
 * what it refuses with which code, and that a refused request changes nothing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import https from "node:https";
import { test, type TestContext } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { loginParams, mqttConnectFields, topoAddItem } from "../../../src/cloud/aliyun/sign.js";
import { CloudEmulator } from "../../../src/sim/cloud/aliyun/index.js";

const WAIT_MS = 5000;
const GW = { productKey: "a1CfgGw", deviceName: "gw-cfg-01", deviceSecret: "0123456789abcdef0123456789abcdef" };
const SUB = { productKey: "a1CfgSub", deviceName: "meter-01" };
const sys = (d: { productKey: string; deviceName: string }) => `/sys/${d.productKey}/${d.deviceName}`;

async function rig(t: TestContext): Promise<{ emu: CloudEmulator; client: MqttClient; rpc: (topic: string, body: Record<string, unknown>) => Promise<Record<string, unknown>> }> {
  const emu = await CloudEmulator.start({});
  t.after(() => emu.close());
  emu.addDevice({ ...GW, gateway: true });
  const f = mqttConnectFields({ ...GW, clientId: GW.deviceName, timestamp: String(Date.now()), signMethod: "hmacsha256", tls: false });
  const client = await mqtt.connectAsync(emu.url, { clientId: f.clientId, username: f.username, password: f.password, keepalive: 300, reconnectPeriod: 0, connectTimeout: WAIT_MS });
  t.after(() => client.endAsync(true));
  let seq = 1;
  const rpc = async (topic: string, body: Record<string, unknown>) => {
    const id = String(body["id"] ?? seq++);
    await client.subscribeAsync(`${topic}_reply`, { qos: 1 });
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply on ${topic}_reply`)), WAIT_MS);
      const on = (tp: string, payload: Buffer) => {
        const j = JSON.parse(payload.toString()) as Record<string, unknown>;
        if (tp !== `${topic}_reply` || String(j["id"]) !== id) return;
        clearTimeout(timer);
        client.off("message", on);
        resolve(j);
      };
      client.on("message", on);
    });
    await client.publishAsync(topic, JSON.stringify({ ...body, id }), { qos: 1 });
    return reply;
  };
  return { emu, client, rpc };
}

const update = (params: unknown) => ({ version: "1.0", params, method: "thing.deviceinfo.update" });
const get = (params: unknown = { configScope: "product", getType: "file" }) => ({ version: "1.0", params, method: "thing.config.get" });

function download(url: string, ca: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
    }).on("error", reject);
  });
}

test("tags: valid ones are stored per device; a bad key, a non-string value, an empty or oversized list is 460 and changes nothing", async (t) => {
  const { emu, rpc } = await rig(t);
  const topic = `${sys(GW)}/thing/deviceinfo/update`;
  assert.equal((await rpc(topic, update([{ attrKey: "fbVersion", attrValue: "1.2.3" }, { attrKey: "_line", attrValue: "3" }])))["code"], 200);
  assert.deepEqual(emu.tags(GW), { fbVersion: "1.2.3", _line: "3" });

  const refused: unknown[] = [
    [{ attrKey: "1abc", attrValue: "x" }],
    [{ attrKey: "line-3", attrValue: "x" }],
    [{ attrKey: "a".repeat(101), attrValue: "x" }],
    [{ attrKey: "ok", attrValue: 3 }],
    [],
    { attrKey: "ok", attrValue: "x" },
    Array.from({ length: 201 }, (_, i) => ({ attrKey: `k${i}`, attrValue: "v" })),
    [{ attrKey: "fbVersion", attrValue: "9.9.9" }, { attrKey: "bad key", attrValue: "x" }],
  ];
  for (const params of refused) {
    const r = await rpc(topic, update(params));
    assert.equal(r["code"], 460, JSON.stringify(params).slice(0, 80));
  }
  assert.equal((await rpc(topic, { version: "1.0", params: [{ attrKey: "x", attrValue: "y" }], method: "thing.deviceinfo.delete" }))["code"], 460, "method must match the topic");
  assert.deepEqual(emu.tags(GW), { fbVersion: "1.2.3", _line: "3" }, "no refused request changed a tag");
  assert.equal((await rpc(topic, update(Array.from({ length: 200 }, (_, i) => ({ attrKey: `k${i}`, attrValue: "v" })))))["code"], 200, "200 tags are allowed");

  const del = await rpc(`${sys(GW)}/thing/deviceinfo/delete`, { version: "1.0", params: [{ attrKey: "_line" }], method: "thing.deviceinfo.delete" });
  assert.equal(del["code"], 200);
  assert.equal(emu.tags(GW)["_line"], undefined);

  emu.failNext("tags", 6100, { device: `${GW.productKey}/${GW.deviceName}`, message: "device not found" });
  assert.equal((await rpc(topic, update([{ attrKey: "z", attrValue: "1" }])))["code"], 6100);
  assert.equal(emu.tags(GW)["z"], undefined);
});

test("tags of a sub-device need its session (520 on /ext/error without one) and are kept apart from the gateway's", async (t) => {
  const { emu, client, rpc } = await rig(t);
  emu.addProduct(SUB.productKey, { dynamicRegistration: true });
  const { deviceSecret } = emu.addDevice(SUB);
  const sub = { ...SUB, deviceSecret };
  await client.subscribeAsync(`/ext/error/${GW.productKey}/${GW.deviceName}`, { qos: 1 });
  const errors: Array<Record<string, unknown>> = [];
  client.on("message", (tp, p) => void (tp.startsWith("/ext/error/") && errors.push(JSON.parse(p.toString()) as Record<string, unknown>)));
  await client.publishAsync(`${sys(SUB)}/thing/deviceinfo/update`, JSON.stringify({ id: "900", ...update([{ attrKey: "fbUnitId", attrValue: "1" }]) }), { qos: 1 });
  await emu.waitFor(() => errors.length > 0, WAIT_MS, "ext/error");
  assert.equal(errors[0]!["code"], 520);
  assert.deepEqual(emu.tags(SUB), {});

  assert.equal((await rpc(`${sys(GW)}/thing/topo/add`, { version: "1.0", params: [topoAddItem(sub, String(Date.now()), "hmacSha256")], method: "thing.topo.add" }))["code"], 200);
  assert.equal((await rpc(`/ext/session/${GW.productKey}/${GW.deviceName}/combine/login`, { params: loginParams(sub) }))["code"], 200);
  assert.equal((await rpc(`${sys(SUB)}/thing/deviceinfo/update`, update([{ attrKey: "fbUnitId", attrValue: "1" }])))["code"], 200);
  assert.deepEqual(emu.tags(SUB), { fbUnitId: "1" });
  assert.deepEqual(emu.tags(GW), {});
});

test("config get: 6710 without a file, the file's description with 200, 6713 when switched off, 460 for bad params; push carries the description", async (t) => {
  const { emu, client, rpc } = await rig(t);
  const topic = `${sys(GW)}/thing/config/get`;
  assert.equal((await rpc(topic, get()))["code"], 6710);
  const file = { log: { level: "debug" } };
  const entry = emu.setRemoteConfig(GW.productKey, file, { configId: "cfg-1" })!;
  const r = await rpc(topic, get());
  assert.equal(r["code"], 200);
  const data = r["data"] as Record<string, unknown>;
  assert.deepEqual(data, { ...entry });
  assert.equal(data["signMethod"], "Sha256");
  assert.equal(data["getType"], "file");
  assert.match(String(data["url"]), /^https:\/\/127\.0\.0\.1:\d+\//);
  const body = await download(String(data["url"]), emu.caPem);
  assert.equal(body.length, data["configSize"]);
  assert.equal(createHash("sha256").update(body).digest("hex"), data["sign"]);

  for (const params of [{}, { configScope: "device", getType: "file" }, { configScope: "product", getType: "content" }, "x"]) {
    assert.equal((await rpc(topic, get(params)))["code"], 460, JSON.stringify(params));
  }
  assert.throws(() => emu.setRemoteConfig(GW.productKey, Buffer.alloc(64 * 1024 + 1)), /at most/);

  await client.subscribeAsync(`${sys(GW)}/thing/config/push`, { qos: 1 });
  const pushed = new Promise<Record<string, unknown>>((resolve) => client.on("message", (tp, p) => tp.endsWith("/thing/config/push") && resolve(JSON.parse(p.toString()) as Record<string, unknown>)));
  const reply = emu.pushRemoteConfig(GW, { timeoutMs: WAIT_MS });
  const msg = await pushed;
  assert.equal(msg["method"], "thing.config.push");
  assert.deepEqual(msg["params"], { ...entry });
  await client.publishAsync(`${sys(GW)}/thing/config/push_reply`, JSON.stringify({ id: msg["id"], code: 200, data: {} }), { qos: 1 });
  assert.equal((await reply).code, 200);

  emu.setRemoteConfig(GW.productKey, "disabled");
  assert.equal((await rpc(topic, get()))["code"], 6713);
});
