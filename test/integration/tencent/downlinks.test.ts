import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { device, GW, type Rig, startRig } from "./harness.js";

const GWKEY = `${GW.productId}/${GW.deviceName}`;
const SUB = "FBMBPRD001/bound";

async function ready(): Promise<Rig> {
  const r = await startRig();
  r.emu.addDevice(SUB, { bound: true });
  r.adapter.setDevices([device("bound"), { ...device("x"), key: GWKEY, productKey: GW.productId, deviceName: GW.deviceName, tsl: { profile: { productKey: GW.productId }, properties: [{ identifier: "fbUptime", accessMode: "r", dataType: { type: "int" } }] } }]);
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready("gateway", SUB), 5000);
  return r;
}

/** Malformed or foreign downlinks: none may reach the core (no request, no config or firmware offer, no lifecycle). */
const MALFORMED: Array<[string, string]> = [
  [`$thing/down/property/${SUB}`, "not json"],
  [`$thing/down/property/${SUB}`, "[]"],
  [`$thing/down/property/${SUB}`, "42"],
  [`$thing/down/property/${SUB}`, '"control"'],
  [`$thing/down/property/${SUB}`, "null"],
  [`$thing/down/property/${SUB}`, '{"method":"control","params":{"sp":1}}'],
  [`$thing/down/property/${SUB}`, '{"method":"control","clientToken":"","params":{"sp":1}}'],
  [`$thing/down/property/${SUB}`, '{"method":"control","clientToken":7,"params":{"sp":1}}'],
  [`$thing/down/property/${SUB}`, `{"method":"control","clientToken":"${"t".repeat(129)}","params":{"sp":1}}`],
  [`$thing/down/property/${SUB}`, '{"method":"CONTROL","clientToken":"a1","params":{"sp":1}}'],
  [`$thing/down/property/${SUB}`, '{"clientToken":"a2","params":{"sp":1}}'],
  [`$thing/down/property/${SUB}`, '{"method":"control","clientToken":"a3","params":{}}'],
  [`$thing/down/property/${SUB}`, '{"method":"control","clientToken":"a4","params":[1]}'],
  [`$thing/down/property/${SUB}`, '{"method":"control","clientToken":"a5","params":"sp=1"}'],
  [`$thing/down/property/${SUB}`, '{"method":"control","clientToken":"a6"}'],
  [`$thing/down/property/${SUB}`, '{"method":"get_status","clientToken":"a7"}'],
  [`$thing/down/property/${SUB}`, '{"method":"report_reply","clientToken":"unknown","code":0}'],
  [`$thing/down/property/${SUB}`, " ".repeat(64 * 1024 + 1)],
  [`$thing/down/action/${SUB}`, '{"method":"action","clientToken":"b1"}'],
  [`$thing/down/action/${SUB}`, '{"method":"action","clientToken":"b2","actionId":5}'],
  [`$thing/down/action/${SUB}`, '{"method":"action","clientToken":"b3","actionId":"Reset","params":[1]}'],
  [`$thing/down/action/${SUB}`, '{"method":"action","clientToken":"b4","actionId":"set","params":{}}'],
  [`$thing/down/action/${SUB}`, '{"method":"action","clientToken":"b5","actionId":"Unknown","params":{}}'],
  [`$thing/down/action/${SUB}`, '{"method":"action","actionId":"Reset","params":{}}'],
  [`$thing/down/action/${SUB}`, '{"method":"control","clientToken":"b6","params":{"sp":1}}'],
  [`$thing/down/event/${SUB}`, '{"method":"control","clientToken":"c1","params":{"sp":1}}'],
  [`$gateway/operation/result/${GWKEY}`, '{"type":"change","payload":{"status":0}}'],
  [`$gateway/operation/result/${GWKEY}`, '{"type":"change","payload":{"status":"0","devices":[]}}'],
  [`$gateway/operation/result/${GWKEY}`, '{"type":"change","payload":{"status":0,"devices":[{"product_id":1,"device_name":"bound"}]}}'],
  [`$gateway/operation/result/${GWKEY}`, '{"type":"change"}'],
  [`$gateway/operation/result/${GWKEY}`, '{"type":"online","payload":{"devices":[{"product_id":"FBMBPRD001","device_name":"bound","result":0}]}}'],
  [`$gateway/operation/result/${GWKEY}`, '{"type":"weird"}'],
  [`$thing/down/service/${GWKEY}`, '{"method":"update_resource"}'],
  [`$thing/down/service/${GWKEY}`, '{"method":"update_resource","resource_name":"gateway-config.json","version":"1","resource_type":"FW","url":"https://127.0.0.1/x","md5sum":"399f893acc26b5beace2298c20b2907f","file_size":61}'],
  [`$thing/down/service/${GWKEY}`, '{"method":"update_resource","resource_name":"gateway-config.json","version":"2","resource_type":"FILE","url":"http://127.0.0.1/x","md5sum":"399f893acc26b5beace2298c20b2907f","file_size":61}'],
  [`$thing/down/service/${GWKEY}`, '{"method":"update_resource","resource_name":"gateway-config.json","version":"3","resource_type":"FILE","url":"https://127.0.0.1/x","md5sum":"xyz","file_size":61}'],
  [`$thing/down/service/${GWKEY}`, '{"method":"update_resource","resource_name":"gateway-config.json","version":"4","resource_type":"FILE","url":"https://127.0.0.1/x","md5sum":"399f893acc26b5beace2298c20b2907f","file_size":-1}'],
  [`$thing/down/service/${GWKEY}`, '{"method":"update_resource","resource_name":"gateway-config.json","version":"","resource_type":"FILE","url":"https://127.0.0.1/x","md5sum":"399f893acc26b5beace2298c20b2907f","file_size":61}'],
  [`$ota/update/${GWKEY}`, '{"type":"update_firmware","url":"https://127.0.0.1/fw"}'],
  [`$ota/update/${GWKEY}`, '{"type":"update_firmware","version":"2.0","url":"ftp://x","md5sum":"399f893acc26b5beace2298c20b2907f","file_size":1}'],
  [`$ota/update/${GWKEY}`, '{"type":"update_firmware","version":"2.0","url":"https://127.0.0.1/fw","md5sum":"short","file_size":1}'],
];

describe("tencent adapter: malformed downlinks, 429, OTA, self-telemetry", () => {
  it(`refuses ${MALFORMED.length} malformed downlinks without touching the core, answering where a token exists`, async () => {
    const r = await ready();
    try {
      for (const [topic, body] of MALFORMED) r.emu.send(topic, body);
      await r.emu.waitFor(() => r.emu.received.filter((m) => m.body.method === "report_result").length >= 5, 3000);
      await r.emu.waitFor(() => r.emu.received.filter((m) => m.topic.startsWith("$ota/report") && m.body.type === "report_progress").length >= 2, 3000);
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual([r.requests.length, r.offers.length, r.firmware.length, r.lifecycle.length], [0, 0, 0, 0]);
      const replies = new Map(r.emu.received.filter((m) => typeof m.body.clientToken === "string").map((m) => [m.body.clientToken as string, m.body.code]));
      assert.deepEqual(["a3", "a4", "a5", "a6", "b1", "b2", "b3", "b4", "b5"].map((t) => replies.get(t)), [406, 406, 406, 406, 403, 403, 406, 403, 403]);
      for (const t of ["a1", "a2", "a7", "b6", "c1"]) assert.equal(replies.has(t), false, `${t} was answered`);
      const changes = r.emu.received.filter((m) => m.body.type === "change").map((m) => m.body.result);
      assert.deepEqual(changes, [1, 1, 1, 1]);
      const results = r.emu.received.filter((m) => m.body.method === "report_result").map((m) => (m.body.report as { progress: { result_code: string } }).progress.result_code);
      assert.deepEqual(results, ["-6", "-6", "-6", "-6", "-6"]);
      assert.equal(r.adapter.ready("gateway", SUB), true);
      assert.deepEqual(r.emu.refusals, []);
    } finally {
      await r.close();
    }
  });

  it("answers 429 when more than 32 commands wait for one channel", async () => {
    const r = await ready();
    try {
      const release: Array<() => void> = [];
      r.answer = () => new Promise((res) => release.push(() => res({ ok: true })));
      const first = Array.from({ length: 32 }, (_, i) => r.emu.control(SUB, { sp: i + 1 }));
      await r.emu.waitFor(() => release.length === 32, 3000);
      const over = await r.emu.control(SUB, { sp: 99 });
      assert.equal(over.code, 429);
      for (const f of release) f();
      assert.deepEqual((await Promise.all(first)).map((x) => x.code), Array(32).fill(0));
    } finally {
      await r.close();
    }
  });

  it("OTA: same version → done at once; another → offered to the core, its failure reported as -5", async () => {
    const r = await ready();
    try {
      const same = r.emu.waitMessage((t, b) => t === `$ota/report/${GWKEY}` && b.type === "report_progress", 3000);
      r.emu.send(`$ota/update/${GWKEY}`, { type: "update_firmware", version: "1.4.0", url: "https://127.0.0.1/fw", md5sum: "399f893acc26b5beace2298c20b2907f", file_size: 61 });
      assert.deepEqual((await same).report, { progress: { state: "done", result_code: "0", result_msg: "" }, version: "1.4.0" });
      const fail = r.emu.waitMessage((t, b) => t === `$ota/report/${GWKEY}` && (b.report as { progress: { state: string } }).progress.state === "fail", 3000);
      r.emu.send(`$ota/update/${GWKEY}`, { type: "update_firmware", version: "2.0.0", url: "https://127.0.0.1/fw", md5sum: "399f893acc26b5beace2298c20b2907f", file_size: 61 });
      const f = (await fail).report as { progress: { result_code: string }; version: string };
      assert.deepEqual([f.progress.result_code, f.version, r.firmware], ["-5", "2.0.0", ["2.0.0"]]);
    } finally {
      await r.close();
    }
  });

  it("self-telemetry goes to the gateway's own property topic", async () => {
    const r = await ready();
    try {
      const res = await r.adapter.send("gateway", [{ kind: "properties", seq: 1, device: GWKEY, time: Date.now(), attempts: 0, values: [{ identifier: "fbUptime", value: 12, time: Date.now() }] }]).done;
      assert.equal(res[0]!.result, "ok");
      assert.deepEqual(r.emu.accepted.map((a) => [a.device, a.identifier, a.value]), [[GWKEY, "fbUptime", 12]]);
      assert.ok(!r.emu.ops.some((o) => o.device === GWKEY), "the gateway was treated as a sub-device");
    } finally {
      await r.close();
    }
  });

  it("unbind_device on a sub-device's service topic acts as change 0; del_resource is acknowledged, version reports go empty", async () => {
    const r = await ready();
    try {
      await r.emu.deliverDocument('{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}', { version: "5" });
      r.emu.send(`$thing/down/service/${SUB}`, { method: "unbind_device", payload: {} });
      await r.emu.waitFor(() => r.lifecycle.length === 1, 2000);
      assert.deepEqual(r.lifecycle, [[SUB, "remove"]]);
      assert.equal(r.adapter.ready("gateway", SUB), false);
      const del = r.emu.waitMessage((_t, b) => b.method === "del_result", 2000);
      r.emu.send(`$thing/down/service/${GWKEY}`, { method: "del_resource", resource_name: "gateway-config.json", version: "5" });
      assert.deepEqual(((await del).report as { progress: unknown }).progress, { resource_name: "gateway-config.json", state: "done", result_code: "0", result_msg: "" });
      const before = r.emu.received.filter((m) => m.body.method === "report_version").length;
      await r.adapter.service.reportVersion();
      const last = await r.emu.waitFor(() => r.emu.received.filter((m) => m.body.method === "report_version")[before], 2000);
      assert.deepEqual(last.body.report, { resource_list: [] });
    } finally {
      await r.close();
    }
  });
});
