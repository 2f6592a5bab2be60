import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { bindEntry, connectFields } from "../../../src/cloud/tencent/sign.js";
import { TencentEmulator } from "../../../src/sim/cloud/tencent/index.js";

const GW = { productId: "FBGWPRD001", deviceName: "fb-gw-01", psk: "lDZ6Uqt+I9E0wW7rvDUs7Q==" };
const SUB_KEY = "k3Jm9Qx2ZbVt7Wc4Lp8YdA==";

function connect(emu: TencentEmulator, o: { psk?: string; clientId?: string; keepalive?: number; method?: "hmacsha1"; clean?: boolean } = {}): Promise<{ client?: MqttClient; code: number }> {
  const f = connectFields({ ...GW, psk: o.psk ?? GW.psk, sdkAppId: "12010126", method: o.method ?? "hmacsha256", expirySeconds: 3600 });
  const client = mqtt.connect(emu.url, { clientId: o.clientId ?? f.clientId, username: f.username, password: f.password, keepalive: o.keepalive ?? 60, clean: o.clean ?? true, reconnectPeriod: 0, connectTimeout: 5000 });
  return new Promise((resolve) => {
    client.once("connect", () => resolve({ client, code: 0 }));
    client.once("error", (e: Error & { code?: number }) => { client.end(true); resolve({ code: typeof e.code === "number" ? e.code : -1 }); });
  });
}

const once = (c: MqttClient, topic: string, pred: (b: Record<string, unknown>) => boolean, ms = 3000) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => { c.off("message", h); reject(new Error(`nothing on ${topic}`)); }, ms);
    const h = (tp: string, p: Buffer) => { const b = JSON.parse(p.toString()); if (tp === topic && pred(b)) { clearTimeout(t); c.off("message", h); resolve(b); } };
    c.on("message", h);
  });

describe("tencent emulator strictness", () => {
  let emu: TencentEmulator;
  before(async () => {
    emu = await TencentEmulator.start(GW);
    emu.addDevice("FBMBPRD001/bound-1", { bound: true, identifiers: ["temp"] });
    emu.addDevice("FBMBPRD001/mb-dev-02", { psk: SUB_KEY });
  });
  after(async () => emu.close());

  it("refuses bad CONNECTs with the spec's codes", async () => {
    assert.equal((await connect(emu, { psk: "MTIzNDU2Nzg5MGFiY2RlZg==" })).code, 4);
    assert.equal((await connect(emu, { clientId: "FBGWPRD001other" })).code, 2);
    assert.equal((await connect(emu, { keepalive: 10 })).code, 5);
    assert.equal((await connect(emu, { clientId: "FBMBPRD001bound-1" })).code, 5);
    assert.equal((await connect(emu, { clean: false })).code, 5);
    assert.deepEqual(emu.connects.map((c) => c.code), [4, 2, 5, 5, 5]);
  });

  it("runs the gateway protocol: describe, bind, online, report with timestamps, faults", async () => {
    const { client, code } = await connect(emu, { method: "hmacsha1" });
    assert.equal(code, 0);
    const c = client!;
    try {
      const gw = "FBGWPRD001/fb-gw-01";
      await assert.rejects(c.subscribeAsync({ "$thing/down/property/FBMBPRD001/bound-1": { qos: 1 } }));
      assert.ok(emu.refusals.some((r) => r.kind === "subscribe" && r.topic.endsWith("bound-1")));
      await c.subscribeAsync({ [`$gateway/operation/result/${gw}`]: { qos: 1 } });
      const op = (body: object, type: string) => { const p = once(c, `$gateway/operation/result/${gw}`, (b) => b.type === type); void c.publishAsync(`$gateway/operation/${gw}`, JSON.stringify(body), { qos: 1 }); return p; };
      const desc = await op({ type: "describe_sub_devices" }, "describe_sub_devices");
      assert.deepEqual(desc.payload, { devices: [{ product_id: "FBMBPRD001", device_name: "bound-1" }] });
      const online2 = await op({ type: "online", payload: { devices: [{ product_id: "FBMBPRD001", device_name: "mb-dev-02" }] } }, "online");
      assert.equal((online2.payload as { devices: Array<{ result: number }> }).devices[0]!.result, -1);
      const bad = { ...bindEntry("FBMBPRD001", "mb-dev-02", Buffer.from(SUB_KEY, "base64").toString("latin1"), "hmacsha256") };
      const badReply = await op({ type: "bind", payload: { devices: [bad] } }, "bind");
      assert.equal((badReply.payload as { devices: Array<{ result: number }> }).devices[0]!.result, 803);
      const good = await op({ type: "bind", payload: { devices: [bindEntry("FBMBPRD001", "mb-dev-02", SUB_KEY, "hmacsha256")] } }, "bind");
      assert.equal((good.payload as { devices: Array<{ result: number }> }).devices[0]!.result, 0);
      await op({ type: "online", payload: { devices: [{ product_id: "FBMBPRD001", device_name: "bound-1" }] } }, "online");
      assert.equal(emu.online("FBMBPRD001/bound-1"), true);
      await c.subscribeAsync({ "$thing/down/property/FBMBPRD001/bound-1": { qos: 1 } });
      const now = Math.floor(Date.now() / 1000);
      const report = (token: string, ts: number, params: object) => { const p = once(c, "$thing/down/property/FBMBPRD001/bound-1", (b) => b.clientToken === token); void c.publishAsync("$thing/up/property/FBMBPRD001/bound-1", JSON.stringify({ method: "report", clientToken: token, timestamp: ts, params }), { qos: 1 }); return p; };
      assert.equal((await report("t1", now - 5, { temp: 1.5 })).code, 0);
      assert.deepEqual(emu.accepted.map((a) => [a.identifier, a.value, a.timestamp]), [["temp", 1.5, now - 5]]);
      assert.equal((await report("t2", now - 25 * 3600, { temp: 2 })).code, 405);
      assert.equal((await report("t3", now, { nope: 2 })).code, 403);
      emu.failNext("report", 503);
      assert.equal((await report("t4", now, { temp: 3 })).code, 503);
      assert.equal(emu.accepted.length, 1);
      await c.publishAsync("$thing/up/property/FBMBPRD001/bound-1", JSON.stringify({ method: "control_reply", clientToken: "x", code: "0" }), { qos: 1 });
      await emu.waitFor(() => emu.refusals.some((r) => r.reason === "malformed control_reply"), 2000);
    } finally {
      c.end(true);
    }
  });

  it("closes a connection publishing more than 16 KiB", async () => {
    const { client } = await connect(emu);
    const closed = new Promise<void>((r) => client!.once("close", () => r()));
    void client!.publishAsync("$thing/up/property/FBGWPRD001/fb-gw-01", "x".repeat(16 * 1024 + 1), { qos: 1 }).catch(() => undefined);
    await closed;
    client!.end(true);
    assert.ok(emu.refusals.some((r) => r.reason.includes("over 16 KiB")));
  });

  it("closes a connection publishing on a sub-device topic before its online", async () => {
    const { client } = await connect(emu);
    const closed = new Promise<void>((r) => client!.once("close", () => r()));
    void client!.publishAsync("$thing/up/property/FBMBPRD001/mb-dev-02", "{}", { qos: 1 }).catch(() => undefined);
    await closed;
    client!.end(true);
    assert.ok(emu.refusals.some((r) => r.kind === "publish" && r.reason.includes("not online")));
  });
});
