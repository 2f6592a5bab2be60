/**
 * The Huawei adapter against the strict emulator over MQTTS: one connection per device (gateway first), data
 * reports with their eventTime, commands with the spec's codes, malformed commands refused without reaching the
 * core, duplicate mids, CONFIG_PUSH.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConfigOutcome, PropertiesRecord, UplinkRecord } from "../../../src/cloud/platform.js";
import { DEV1, DEV2, DEV3, GW_ID, devicesOf, gatewayDevice, key, makeRig, removeDir, startEmulator, until, type Rig } from "./rig.js";
import type { HuaweiEmulator } from "../../../src/sim/cloud/huawei/index.js";

const T0 = Date.parse("2026-11-23T19:47:30.250Z");
const D1 = key(DEV1.nodeId);
const D2 = key(DEV2.nodeId);
const D3 = key(DEV3.nodeId);

describe("Huawei adapter", () => {
  let emu: HuaweiEmulator;
  let rig: Rig;
  before(async () => {
    emu = await startEmulator(true);
    rig = makeRig(emu);
    rig.adapter.setDevices([gatewayDevice(), ...devicesOf(DEV1.nodeId, DEV2.nodeId, DEV3.nodeId)]);
    rig.adapter.start();
    await until(() => rig.adapter.ready(D1, D1) && rig.adapter.ready(D2, D2) && rig.adapter.ready(rig.adapter.gateway.key, rig.adapter.gateway.key), 8000, "all online");
  });
  after(async () => {
    await rig.shutdown();
    await emu.close();
    removeDir(rig.dir);
  });

  test("connects the gateway first, by deviceId, and each device with credentials by deviceId or nodeId", () => {
    const accepted = emu.records.connects.filter((c) => c.accepted);
    assert.equal(accepted[0]!.id, GW_ID);
    assert.equal(accepted[0]!.authType, "0");
    const byDevice = new Map(accepted.map((c) => [c.device, c]));
    assert.equal(byDevice.get(D1)!.id, DEV1.deviceId);
    assert.equal(byDevice.get(D1)!.authType, "0");
    assert.equal(byDevice.get(D2)!.id, DEV2.nodeId);
    assert.equal(byDevice.get(D2)!.authType, "2");
    assert.ok(accepted.every((c) => c.clean && !c.will && c.keepalive === 120 && c.signType === "1"));
    assert.equal(emu.online(D3), false);
    const st = rig.adapter.status();
    assert.equal(st.connected, true);
    assert.deepEqual(st.devices.map((d) => [d.device, d.state]).sort(), [[D1, "online"], [D2, "online"], [D3, "noCredentials"]]);
    assert.equal(st.counters["devices.noCredentials"], 1);
    assert.doesNotMatch(JSON.stringify(st), /0123456789abcdef0123|a1b2c3d4e5f60718293a|8f3a1c5e7d9b2f4a6c0e/);
    assert.ok(rig.core.presences.some(([r, up]) => r === D1 && up));
    assert.equal(rig.adapter.routeOf(D1), D1);
    assert.equal(rig.adapter.ready(D1, D2), false);
    assert.equal(rig.adapter.ready(D3, D3), false);
    assert.equal(rig.adapter.documentSecret(), "1bd8fd47297046f993e608e398d5905b");
  });

  test("send: values with their sample time (eventTime floored to the second), grouped by second; PUBACK = ok", async () => {
    const rec = (seq: number, values: PropertiesRecord["values"]): PropertiesRecord => ({ kind: "properties", seq, device: D2, time: values[0]!.time, attempts: 0, values });
    const records: UplinkRecord[] = [
      rec(1, [{ identifier: "temp_i16", value: -21.5, time: T0 }, { identifier: "count_u16", value: 50000, time: T0 + 100 }, { identifier: "running_coil", value: 1, time: T0 + 200 }]),
      rec(2, [{ identifier: "temp_i16", value: 20, time: T0 + 1000 }, { identifier: "temp_i16", value: 21, time: T0 + 1500 }]),
      { kind: "event", seq: 3, device: D2, time: T0 + 2000, attempts: 0, identifier: "alarm", outputs: { level: 3 } },
      { kind: "wire", seq: 4, device: D2, time: T0, attempts: 0, platform: "aliyun", topic: "x", payload: "{}", devices: [D2] },
    ];
    const s = rig.adapter.send(D2, records);
    assert.equal(s.messages, 1);
    const results = await s.done;
    assert.deepEqual(results.map((r) => r.result), ["ok", "ok", "ok", "reject"]);
    const got = emu.records.properties.filter((p) => p.device === D2);
    assert.deepEqual(got.map((p) => [p.identifier, p.value, p.eventTime]), [
      ["temp_i16", -21.5, "20261123T194730Z"],
      ["count_u16", 50000, "20261123T194730Z"],
      ["running_coil", 1, "20261123T194730Z"],
      ["temp_i16", 20, "20261123T194731Z"],
      ["temp_i16", 21, "20261123T194731Z"],
    ]);
    const raw = emu.records.uplinks.filter((u) => u.device === D2).at(-1)!;
    assert.match(raw.payload, /"temp_i16":20\.0/);
    assert.equal((JSON.parse(raw.payload) as { data: unknown[] }).data.length, 4);
    assert.deepEqual(emu.records.events.at(-1)!.outputs, { level: 3 });
    assert.deepEqual(emu.records.rejected, []);
    assert.ok(emu.records.uplinks.every((u) => u.qos === 1), "every uplink QoS 1");
  });

  test("send on a route that is not connected: unsent, nothing published", async () => {
    const r = await rig.adapter.send(D3, [{ kind: "properties", seq: 9, device: D3, time: T0, attempts: 0, values: [{ identifier: "count_u16", value: 1, time: T0 }] }]).done;
    assert.deepEqual(r.map((x) => x.result), ["unsent"]);
  });

  test("set, get and service calls reach the core and are answered with the spec's codes", async () => {
    rig.core.requests.length = 0;
    const set = await emu.setProperty(D1, { sp_int: "345", sp_scaled: 12.5 });
    assert.deepEqual([set.errcode, set.body, set.problems], [0, { code: 200 }, []]);
    assert.deepEqual(rig.core.requests[0], { kind: "propertySet", device: D1, values: { sp_int: 345, sp_scaled: 12.5 } });

    rig.core.answer = (r) => (r.kind === "propertyGet" ? { ok: true, data: { temp_i16: 1.5 } } : { ok: true });
    const get = await emu.getProperty(D1, ["temp_i16"]);
    assert.deepEqual(get.body, { code: 200, data: { temp_i16: 1.5 } });
    assert.deepEqual(rig.core.requests[1], { kind: "propertyGet", device: D1, identifiers: ["temp_i16"] });
    const all = await emu.getProperty(D1);
    assert.equal(all.errcode, 0);
    assert.deepEqual(rig.core.requests[2], { kind: "propertyGet", device: D1, identifiers: [] });

    rig.core.answer = () => ({ ok: true, data: { result: 1007 } });
    const svc = await emu.callService(D1, "Reset", { mode: 7 });
    assert.deepEqual(svc.body, { code: 200, data: { result: 1007 } });
    assert.deepEqual(rig.core.requests[3], { kind: "service", device: D1, service: "Reset", inputs: { mode: 7 } });

    for (const [kind, code] of [["timeout", 100001], ["fieldError", 100002], ["notConnected", 100004], ["unsupported", 100005], ["readOnly", 460], ["internal", 400]] as const) {
      rig.core.answer = () => ({ ok: false, kind, message: `failed: ${kind}` });
      const r = await emu.setProperty(D1, { sp_int: 1 });
      assert.deepEqual([r.errcode, r.body.code, r.body.message, r.problems], [1, code, `failed: ${kind}`, []], kind);
    }
    rig.core.answer = () => ({ ok: true });
  });

  test("malformed commands: answered 460 where a mid exists, dropped otherwise; none reaches the core", async () => {
    rig.core.requests.length = 0;
    let mid = 1000;
    const req = (o: Record<string, unknown>) => JSON.stringify({ msgType: "cloudReq", serviceId: "Thing", mid: ++mid, cmd: "set", paras: { sp_int: 1 }, ...o });
    const answered460 = [
      req({ serviceId: 5 }), req({ serviceId: "" }), req({ serviceId: "x".repeat(65) }), req({ serviceId: "Other" }), req({ serviceId: "Gateway" }),
      req({ cmd: 7 }), req({ cmd: "" }), req({ cmd: "c".repeat(33) }), req({ cmd: "nope" }), req({ cmd: "CONFIG_PUSH" }),
      req({ paras: [] }), req({ paras: "x" }), req({ paras: null }), req({ paras: 3 }), req({ paras: undefined }),
      req({ paras: {} }), req({ paras: { nope: 1 } }), req({ paras: { temp_i16: 1 } }), req({ paras: { sp_int: 1001 } }), req({ paras: { sp_int: -1 } }),
      req({ paras: { sp_int: 1.5 } }), req({ paras: { sp_int: "abc" } }), req({ paras: { sp_int: null } }), req({ paras: { sp_int: [1] } }), req({ paras: { label: "far too long" } }),
      req({ paras: { running_coil: 2 } }), req({ paras: { sp_int: 1, nope: 2 } }), req({ paras: { sp_scaled: 100.5 } }),
      req({ cmd: "get", paras: { identifiers: ["nope"] } }), req({ cmd: "get", paras: { identifiers: "temp_i16" } }), req({ cmd: "get", paras: { other: [] } }), req({ cmd: "get", paras: { identifiers: [1] } }),
      req({ cmd: "Reset", paras: {} }), req({ cmd: "Reset", paras: { mode: 10 } }), req({ cmd: "Reset", paras: { mode: 1, extra: 2 } }), req({ cmd: "Reset", paras: { mode: "x" } }),
    ];
    const dropped = [
      "not json", "", "[]", "42", '"cloudReq"', "null",
      JSON.stringify({ msgType: "deviceReq", mid: 5, serviceId: "Thing", cmd: "set", paras: {} }),
      JSON.stringify({ serviceId: "Thing", mid: 5, cmd: "set", paras: {} }),
      JSON.stringify({ msgType: "cloudReq", serviceId: "Thing", cmd: "set", paras: { sp_int: 1 } }),
      JSON.stringify({ msgType: "cloudReq", mid: 0, serviceId: "Thing", cmd: "set", paras: { sp_int: 1 } }),
      JSON.stringify({ msgType: "cloudReq", mid: 65536, serviceId: "Thing", cmd: "set", paras: { sp_int: 1 } }),
      JSON.stringify({ msgType: "cloudReq", mid: "7", serviceId: "Thing", cmd: "set", paras: { sp_int: 1 } }),
      JSON.stringify({ msgType: "cloudReq", mid: 2.5, serviceId: "Thing", cmd: "set", paras: { sp_int: 1 } }),
    ];
    assert.ok(answered460.length + dropped.length >= 40);
    for (const p of answered460) {
      const replies = await emu.sendRaw(D1, p, 300);
      const sentMid = (JSON.parse(p) as { mid: number }).mid;
      assert.equal(replies.length, 1, p);
      assert.deepEqual([replies[0]!.mid, replies[0]!.errcode, replies[0]!.body.code, typeof replies[0]!.body.message, replies[0]!.problems], [sentMid, 1, 460, "string", []], p);
    }
    for (const p of dropped) assert.deepEqual(await emu.sendRaw(D1, p, 150), [], p);
    assert.deepEqual(rig.core.requests, []);
    assert.equal(emu.online(D1), true);
  });

  test("commands run one at a time per device; more than 32 waiting are answered 429", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    rig.core.requests.length = 0;
    rig.core.answer = async () => {
      await gate;
      return { ok: true };
    };
    const calls = Array.from({ length: 34 }, (_, i) => emu.command(D1, { serviceId: "Thing", cmd: "set", paras: { sp_int: i }, mid: 20000 + i }, 5000));
    const busy = await calls[33]!;
    assert.deepEqual([busy.errcode, busy.body.code], [1, 429]);
    assert.equal(rig.core.requests.length, 1, "one runs, the others wait");
    release();
    const rest = await Promise.all(calls.slice(0, 33));
    assert.ok(rest.every((r) => r.errcode === 0));
    assert.deepEqual(rig.core.requests.map((r) => (r.kind === "propertySet" ? r.values.sp_int : undefined)), Array.from({ length: 33 }, (_, i) => i), "in arrival order");
    rig.core.answer = () => ({ ok: true });
  });

  test("a duplicate mid with the same payload within 60 s is answered again, not executed again", async () => {
    rig.core.requests.length = 0;
    const cmd = { serviceId: "Thing", cmd: "set", paras: { sp_int: 5 }, mid: 4242 };
    const first = await emu.command(D2, cmd);
    const second = await emu.command(D2, cmd);
    assert.equal(rig.core.requests.length, 1);
    assert.equal(second.raw, first.raw);
    const other = await emu.command(D2, { ...cmd, paras: { sp_int: 6 } });
    assert.equal(other.errcode, 0);
    assert.equal(rig.core.requests.length, 2, "same mid, different payload: a new command");
  });

  test("the gateway's own product: self-telemetry on its connection, set and get under the product service", async () => {
    const gw = rig.adapter.gateway.key;
    assert.equal(gw, gatewayDevice().key);
    assert.equal(rig.adapter.routeOf(gw), gw);
    const r = await rig.adapter.send(gw, [{ kind: "properties", seq: 50, device: gw, time: T0, attempts: 0, values: [{ identifier: "fbUptimeSeconds", value: 3600, time: T0 }, { identifier: "fbLoad", value: 2, time: T0 }] }]).done;
    assert.deepEqual(r.map((x) => x.result), ["ok"]);
    const mine = emu.records.properties.filter((p) => p.device === emu.device(GW_ID)!.key);
    assert.deepEqual(mine.map((p) => [p.identifier, p.value]), [["fbUptimeSeconds", 3600], ["fbLoad", 2]]);
    assert.match(emu.records.uplinks.at(-1)!.payload, /"fbLoad":2\.0/);
    rig.core.requests.length = 0;
    const set = await emu.setProperty(GW_ID, { fbLogLevel: 3 });
    assert.equal(set.errcode, 0);
    assert.deepEqual(rig.core.requests, [{ kind: "propertySet", device: gw, values: { fbLogLevel: 3 } }]);
    const bad = await emu.setProperty(GW_ID, { fbUptimeSeconds: 3 });
    assert.deepEqual([bad.errcode, bad.body.code], [1, 460]);
  });

  test("CONFIG_PUSH on the gateway's device: offered to the core, answered with digest and version; failures mapped", async () => {
    const doc = '{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}';
    const ok = await emu.pushConfig(doc, { version: "v7" });
    assert.deepEqual([ok.errcode, ok.body], [0, { code: 200, digest: "fe42ea1da5dd832033f31d194b0e8088ad0073ea1b9bb95d4c8fed1321b6bd51", version: "v7" }]);
    const offer = rig.core.offers.at(-1)!;
    assert.deepEqual([offer.url, offer.digest, offer.digestMethod, offer.version], [ok.url, ok.digest, "sha256", "v7"]);

    const cases: [ConfigOutcome, number, RegExp][] = [
      [{ ok: false, stage: "download", message: "HTTP 404", problems: [] }, 100010, /404/],
      [{ ok: false, stage: "digest", message: "digest mismatch", problems: [] }, 460, /digest/],
      [{ ok: false, stage: "validation", message: "invalid", problems: ["deviceList[0].slaveId: must be 1..247", "x: y"] }, 100011, /^2: deviceList\[0\]\.slaveId: must be 1\.\.247$/],
    ];
    for (const [outcome, code, re] of cases) {
      rig.core.offerResult = () => outcome;
      const r = await emu.pushConfig(doc);
      assert.deepEqual([r.errcode, r.body.code], [1, code]);
      assert.match(String(r.body.message), re);
    }
    rig.core.offerResult = () => ({ ok: true });
    const offers = rig.core.offers.length;
    for (const paras of [{ url: "http://127.0.0.1/x.json" }, { digest: "abc" }, { digestMethod: "md5" }, { url: undefined }]) {
      const r = await emu.pushConfig(doc, { paras });
      assert.deepEqual([r.errcode, r.body.code], [1, 460], JSON.stringify(paras));
    }
    const unknownCmd = await emu.command(GW_ID, { serviceId: "Gateway", cmd: "REBOOT", paras: {} });
    assert.deepEqual([unknownCmd.errcode, unknownCmd.body.code], [1, 460]);
    assert.equal(rig.core.offers.length, offers, "invalid paras never reach the core");
    const onField = await emu.command(D1, { serviceId: "Gateway", cmd: "CONFIG_PUSH", paras: { url: "https://127.0.0.1/x", digest: "a".repeat(64) } });
    assert.deepEqual([onField.errcode, onField.body.code], [1, 460], "Gateway commands only on the gateway's own device");
  });
});
