/** The Huawei emulator's own strictness, against a plain mqtt.js client using the spec's reference signing. */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import https from "node:https";
import { after, before, describe, test } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { HuaweiEmulator } from "../../../src/sim/cloud/huawei/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";

const PID = "5f1e2d3c4b5a69788796a5b4";
const TSL: TslDocument = {
  profile: { productKey: PID },
  properties: [
    { identifier: "temp", accessMode: "r", dataType: { type: "float", specs: { min: "-50", max: "150" } } },
    { identifier: "count", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
  ],
  events: [{ identifier: "alarm", type: "alert", outputData: [{ identifier: "level", dataType: { type: "int", specs: { min: "1", max: "5" } } }] }],
};

const hourStamp = (d = new Date()) => d.toISOString().slice(0, 13).replace(/[-T]/g, "");
function fields(id: string, authType: number, secret: string, o: { signType?: number; now?: Date; encoding?: "hex" | "base64" } = {}) {
  const ts = hourStamp(o.now);
  const pw = createHmac("sha256", Buffer.from(ts, "utf8")).update(Buffer.from(secret, "utf8")).digest(o.encoding ?? "hex");
  return { clientId: `${id}_${authType}_${o.signType ?? 1}_${ts}`, username: id, password: pw };
}

const clients: MqttClient[] = [];
function connect(emu: HuaweiEmulator, f: { clientId: string; username?: string; password?: string }, keepalive = 120): Promise<{ client: MqttClient; code: number }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(emu.url, { ...f, keepalive, reconnectPeriod: 0, clean: true, protocolVersion: 4, connectTimeout: 3000 });
    clients.push(client);
    client.once("connect", () => resolve({ client, code: 0 }));
    client.once("error", (e: Error & { code?: number }) => resolve({ client, code: typeof e.code === "number" ? e.code : -1 }));
    client.once("close", () => resolve({ client, code: -2 }));
  });
}

describe("Huawei emulator", () => {
  let emu: HuaweiEmulator;
  let gw: { deviceId: string; key: string };
  before(async () => {
    emu = await HuaweiEmulator.start({ fileServerTls: true });
    emu.addProduct(PID, TSL);
    gw = emu.addDevice({ productId: "gwProd", nodeId: "gw-node-1", deviceId: "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e", secret: "0123456789abcdef0123", gateway: true });
    emu.addDevice({ productId: PID, nodeId: "mb-dev-02", secret: "8f3a1c5e7d9b2f4a6c0e" });
    emu.addDevice({ productId: PID, nodeId: "mb_dev_03", secret: "a1b2c3d4e5f60718293a", deviceId: "3f6c1a52" });
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await emu.close();
  });

  test("accepts the spec's credentials by deviceId and by nodeId (a nodeId with _ too)", async () => {
    assert.equal((await connect(emu, fields(gw.deviceId, 0, "0123456789abcdef0123"))).code, 0);
    assert.equal((await connect(emu, fields("mb-dev-02", 2, "8f3a1c5e7d9b2f4a6c0e"))).code, 0);
    assert.equal((await connect(emu, fields("3f6c1a52", 0, "a1b2c3d4e5f60718293a"))).code, 0);
    const upper = fields("3f6c1a52", 0, "a1b2c3d4e5f60718293a");
    assert.equal((await connect(emu, { ...upper, password: upper.password.toUpperCase() })).code, 0, "hex in any case");
    emu.addDevice({ productId: PID, nodeId: "node_with_underscores", secret: "s-us" });
    assert.equal((await connect(emu, fields("node_with_underscores", 2, "s-us"))).code, 0);
    await emu.waitFor(() => emu.online(gw.key) && emu.online(`${PID}/mb-dev-02`), 2000);
  });

  test("refusals with the codes of section 2.3", async () => {
    const s = "8f3a1c5e7d9b2f4a6c0e";
    const good = fields("mb-dev-02", 2, s);
    const cases: [string, { clientId: string; username?: string; password?: string }, number, number?][] = [
      ["malformed clientId", { ...good, clientId: "mb-dev-02_2_1" }, 2],
      ["authType 1", { ...good, clientId: good.clientId.replace("_2_1_", "_1_1_") }, 2],
      ["no real hour", { ...good, clientId: "mb-dev-02_2_1_2026133199" }, 2],
      ["unknown id", fields("nobody", 2, s), 4],
      ["nodeId given as deviceId", fields("mb-dev-02", 0, s), 4],
      ["wrong username", { ...good, username: "other" }, 4],
      ["wrong password", { ...good, password: "0".repeat(64) }, 4],
      ["key and message swapped (V3)", { ...good, password: createHmac("sha256", s).update(hourStamp()).digest("hex") }, 4],
      ["base64 where hex is configured", fields("mb-dev-02", 2, s, { encoding: "base64" }), 4],
      ["stale timestamp", fields("mb-dev-02", 2, s, { now: new Date(Date.now() - 3 * 3600_000) }), 4],
      ["keepalive 20", good, 5, 20],
      ["keepalive 1201", good, 5, 1201],
    ];
    for (const [what, f, code, keepalive] of cases) {
      const r = await connect(emu, f, keepalive ?? 120);
      assert.equal(r.code, code, what);
      r.client.end(true);
    }
    const stale0 = await connect(emu, fields("mb-dev-02", 2, s, { signType: 0, now: new Date(Date.now() - 3 * 3600_000) }));
    assert.equal(stale0.code, 0, "signType 0 does not check the time");
    emu.failNext("connect", 3, { device: `${PID}/mb-dev-02` });
    assert.equal((await connect(emu, good)).code, 3);
    const last = emu.records.connects.at(-1)!;
    assert.deepEqual([last.accepted, last.returnCode, last.device], [false, 3, `${PID}/mb-dev-02`]);
    assert.doesNotMatch(JSON.stringify(emu.records.connects), /8f3a1c5e7d9b2f4a6c0e/);
  });

  test("a newer connection of the same identity pushes the older out; a deleted device gets 5", async () => {
    emu.addDevice({ productId: PID, nodeId: "dup-dev-1", secret: "s-dup" });
    const first = await connect(emu, fields("dup-dev-1", 2, "s-dup"));
    const closed = new Promise<void>((r) => first.client.once("close", () => r()));
    await connect(emu, fields("dup-dev-1", 2, "s-dup"));
    await closed;
    assert.equal(emu.online(`${PID}/dup-dev-1`), true);
    emu.deleteDevice(`${PID}/dup-dev-1`);
    await emu.waitFor(() => !emu.online(`${PID}/dup-dev-1`), 2000);
    assert.equal((await connect(emu, fields("dup-dev-1", 2, "s-dup"))).code, 5);
  });

  test("topics: only the own command topic; a publish elsewhere closes the connection", async () => {
    emu.addDevice({ productId: PID, nodeId: "acl-dev-1", secret: "s-acl" });
    const { client } = await connect(emu, fields("acl-dev-1", 2, "s-acl"));
    const map = { "/huawei/v1/devices/acl-dev-1/command/json": { qos: 1 as const }, "/huawei/v1/devices/mb-dev-02/command/json": { qos: 1 as const }, "#": { qos: 1 as const } };
    const granted = await client.subscribeAsync(map).then(
      () => [] as number[],
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted ?? [],
    );
    assert.deepEqual(granted, [1, 128, 128]);
    const closed = new Promise<void>((r) => client.once("close", () => r()));
    client.publish("/huawei/v1/devices/mb-dev-02/data/json", "{}", { qos: 1 });
    await closed;
    assert.equal(emu.records.aclRefusals.at(-1)!.reason, "not this device's data topic");
  });

  test("deviceReq: accepted values with their eventTime; malformed reports rejected", async () => {
    emu.addDevice({ productId: PID, nodeId: "rep-dev-1", secret: "s-rep" });
    const { client } = await connect(emu, fields("rep-dev-1", 2, "s-rep"));
    const topic = "/huawei/v1/devices/rep-dev-1/data/json";
    const entry = (serviceData: object, eventTime: unknown = "20261123T194730Z", serviceId = "Thing") => ({ serviceId, serviceData, eventTime });
    await client.publishAsync(topic, JSON.stringify({ msgType: "deviceReq", data: [entry({ temp: -21.5, count: 7 }), entry({ level: 3 }, "20261123T194731Z", "alarm")] }), { qos: 1 });
    const mine = () => emu.records.properties.filter((p) => p.device === `${PID}/rep-dev-1`);
    assert.deepEqual(mine().map((p) => [p.identifier, p.value, p.eventTime, p.time]), [
      ["temp", -21.5, "20261123T194730Z", Date.parse("2026-11-23T19:47:30Z")],
      ["count", 7, "20261123T194730Z", Date.parse("2026-11-23T19:47:30Z")],
    ]);
    assert.deepEqual(emu.records.events.at(-1)!.outputs, { level: 3 });
    const bad = [
      "not json",
      { msgType: "deviceReq", data: [] },
      { msgType: "deviceReq", data: [entry({ temp: 1 }, undefined)].map(({ eventTime: _e, ...rest }) => rest) },
      { msgType: "deviceReq", data: [entry({ temp: 1 }, "2026-11-23T19:47:30Z")] },
      { msgType: "deviceReq", data: [entry({ temp: 1 }, "20261323T194730Z")] },
      { msgType: "deviceReq", data: [entry({ temp: 1 }, "20261123T194731Z"), entry({ temp: 2 }, "20261123T194730Z")] },
      { msgType: "deviceReq", data: Array.from({ length: 101 }, () => entry({ temp: 1 })) },
      { msgType: "deviceReq", data: [entry({})] },
      { msgType: "other" },
    ];
    const before = emu.records.rejected.length;
    for (const b of bad) await client.publishAsync(topic, typeof b === "string" ? b : JSON.stringify(b), { qos: 1 });
    assert.equal(emu.records.rejected.length - before, bad.length);
    await client.publishAsync(topic, JSON.stringify({ msgType: "deviceReq", data: [entry({ temp: 151, count: 1.5, nope: 1 }), entry({ level: 9 }, undefined, "alarm"), entry({ x: 1 }, undefined, "Other")] }), { qos: 1 });
    assert.deepEqual(emu.records.rejected.slice(-5).map((r) => r.reason.split(":")[0]), ["temp", "count", "nope", "alarm", "unknown service Other"]);
    assert.equal(mine().length, 2);
  });

  test("commands: the device's response resolves the call; not online rejects at once; raw payloads", async () => {
    emu.addDevice({ productId: PID, nodeId: "cmd-dev-1", secret: "s-cmd" });
    await assert.rejects(emu.setProperty(`${PID}/cmd-dev-1`, { count: 1 }), /100428/);
    const { client } = await connect(emu, fields("cmd-dev-1", 2, "s-cmd"));
    await client.subscribeAsync("/huawei/v1/devices/cmd-dev-1/command/json", { qos: 1 });
    const seen: Record<string, unknown>[] = [];
    client.on("message", (_t, p) => {
      let m: { mid?: number } & Record<string, unknown>;
      try {
        m = JSON.parse(p.toString());
      } catch {
        return;
      }
      seen.push(m);
      if (typeof m.mid === "number") {
        const body = m.cmd === "bad" ? { code: 200 } : { code: 200, data: { count: 5 } };
        client.publish("/huawei/v1/devices/cmd-dev-1/data/json", JSON.stringify({ msgType: "deviceRsp", mid: m.mid, errcode: m.cmd === "bad" ? 1 : 0, body }), { qos: 1 });
      }
    });
    const r = await emu.getProperty(`${PID}/cmd-dev-1`, ["count"], 2000);
    assert.deepEqual([r.errcode, r.body, r.problems], [0, { code: 200, data: { count: 5 } }, []]);
    assert.deepEqual(seen[0], { msgType: "cloudReq", serviceId: "Thing", mid: r.mid, cmd: "get", paras: { identifiers: ["count"] } });
    const bad = await emu.command(`${PID}/cmd-dev-1`, { serviceId: "Thing", cmd: "bad", paras: {}, mid: 777 }, 2000);
    assert.equal(bad.mid, 777);
    assert.deepEqual(bad.problems, ["errcode 1 does not fit code 200", "a failure must carry body.message"]);
    assert.deepEqual(await emu.sendRaw(`${PID}/cmd-dev-1`, "garbage", 200), []);
    const raw = await emu.sendRaw(`${PID}/cmd-dev-1`, JSON.stringify({ msgType: "cloudReq", mid: 9, serviceId: "Thing", cmd: "get", paras: {} }), 500);
    assert.deepEqual(raw.map((x) => x.mid), [9]);
    client.removeAllListeners("message");
    await assert.rejects(emu.command(`${PID}/cmd-dev-1`, { serviceId: "Thing", cmd: "x", paras: {} }, 50), /no deviceRsp/);
  });

  test("pushConfig serves the document over HTTPS with its SHA-256 and sends CONFIG_PUSH to the gateway", async () => {
    const { client } = await connect(emu, fields(gw.deviceId, 0, "0123456789abcdef0123"));
    await client.subscribeAsync(`/huawei/v1/devices/${gw.deviceId}/command/json`, { qos: 1 });
    const got = new Promise<{ mid: number; serviceId: string; cmd: string; paras: { url: string; digest: string; digestMethod: string; version: string } }>((r) =>
      client.once("message", (_t, p) => r(JSON.parse(p.toString()))),
    );
    const body = '{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}';
    const pushed = emu.pushConfig(body, { version: "v7", timeoutMs: 3000 });
    const cmd = await got;
    assert.deepEqual([cmd.serviceId, cmd.cmd, cmd.paras.digest, cmd.paras.digestMethod, cmd.paras.version], ["Gateway", "CONFIG_PUSH", "fe42ea1da5dd832033f31d194b0e8088ad0073ea1b9bb95d4c8fed1321b6bd51", "sha256", "v7"]);
    const served = await new Promise<Buffer>((resolve, reject) => {
      https.get(cmd.paras.url, { ca: emu.caPem }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
      }).on("error", reject);
    });
    assert.equal(createHash("sha256").update(served).digest("hex"), cmd.paras.digest);
    client.publish(`/huawei/v1/devices/${gw.deviceId}/data/json`, JSON.stringify({ msgType: "deviceRsp", mid: cmd.mid, errcode: 0, body: { code: 200, digest: cmd.paras.digest, version: "v7" } }), { qos: 1 });
    assert.equal((await pushed).errcode, 0);
  });

  test("outage drops every connection; restore listens on the same port", async () => {
    emu.addDevice({ productId: PID, nodeId: "out-dev-1", secret: "s-out" });
    const { client } = await connect(emu, fields("out-dev-1", 2, "s-out"));
    const closed = new Promise<void>((r) => client.once("close", () => r()));
    const port = emu.port;
    await emu.outage();
    await closed;
    assert.equal(emu.online(`${PID}/out-dev-1`), false);
    assert.equal((await connect(emu, fields("out-dev-1", 2, "s-out"))).code < 0, true);
    await emu.restore();
    assert.equal(emu.port, port);
    assert.equal((await connect(emu, fields("out-dev-1", 2, "s-out"))).code, 0);
    assert.equal(emu.records.presence.filter((p) => p.device === `${PID}/out-dev-1`).map((p) => p.online).join(), "true,false,true");
  });
});
