/** Huawei protocol layer: every test vector of huawei.md, deviceReq packing, cloudReq parsing, deviceRsp codes. */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { describe, test } from "node:test";
import { decryptOpcuaPassword, encryptOpcuaPassword } from "../../../../src/config/gateway/crypto.js";
import { CODE, deviceRsp, failureCode, parseCloudReq, parseConfigParas, parseRemoveParas } from "../../../../src/cloud/huawei/downlink.js";
import { compactUtc, connectFields, documentKey, hourStamp } from "../../../../src/cloud/huawei/sign.js";
import { commandTopic, dataTopic } from "../../../../src/cloud/huawei/topics.js";
import { encodeDeviceReq, MAX_ENTRIES, MAX_PAYLOAD_BYTES, type UplinkTypes } from "../../../../src/cloud/huawei/uplink.js";
import type { PropertiesRecord, UplinkRecord } from "../../../../src/cloud/platform.js";

describe("connect fields (section 2.2)", () => {
  const V1 = { id: "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e", secret: "0123456789abcdef0123", now: new Date("2018-07-24T17:56:20Z") };
  test("V1 by deviceId, hex and base64", () => {
    const hex = connectFields({ ...V1, authType: 0, signType: 1, encoding: "hex" });
    assert.deepEqual(hex, {
      clientId: "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e_0_1_2018072417",
      username: "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e",
      password: "066decdb9d159476cf3117cbf3e818f41aa9c014e5204ae6b05d6349f04fc3fa",
    });
    const b64 = connectFields({ ...V1, authType: 0, signType: 1, encoding: "base64" });
    assert.equal(b64.password, "Bm3s250VlHbPMRfL8+gY9BqpwBTlIErmsF1jSfBPw/o=");
  });
  test("V2 by nodeId", () => {
    for (const minute of ["00:00", "47:30", "59:59"]) {
      const f = connectFields({ id: "mb-dev-02", secret: "8f3a1c5e7d9b2f4a6c0e", authType: 2, signType: 1, encoding: "hex", now: new Date(`2026-11-23T19:${minute}Z`) });
      assert.deepEqual(f, {
        clientId: "mb-dev-02_2_1_2026112319",
        username: "mb-dev-02",
        password: "0e934072b6d5af34ab2d3fe72448bd31fb8c1d2c049e1d787efe7c6db7dfa280",
      });
    }
    const b = connectFields({ id: "mb-dev-02", secret: "8f3a1c5e7d9b2f4a6c0e", authType: 2, signType: 1, encoding: "base64", now: new Date("2026-11-23T19:05:00Z") });
    assert.equal(b.password, "DpNAcrbVrzSrLT/nJEi9MfuMHSwEnh14fv58bbffooA=");
  });
  test("V3: key and message swapped is a different (wrong) password", () => {
    const wrong = createHmac("sha256", "0123456789abcdef0123").update("2018072417").digest("hex");
    assert.equal(wrong, "dffdf22922806d8ae4e7c7044bde566f999364dcdf4ec2960e058115d861cc7a");
    assert.notEqual(connectFields({ ...V1, authType: 0, signType: 1, encoding: "hex" }).password, wrong);
  });
  test("signType 0 and the hour stamp", () => {
    assert.equal(connectFields({ ...V1, authType: 0, signType: 0, encoding: "hex" }).clientId, "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e_0_0_2018072417");
    assert.equal(hourStamp(new Date("2026-01-02T03:59:59.999Z")), "2026010203");
  });
  test("topics", () => {
    assert.equal(dataTopic("mb-dev-02"), "/huawei/v1/devices/mb-dev-02/data/json");
    assert.equal(commandTopic("mb-dev-02"), "/huawei/v1/devices/mb-dev-02/command/json");
  });
});

describe("eventTime and the document key", () => {
  test("sample time floored to the second", () => {
    assert.equal(compactUtc(Date.parse("2016-05-03T12:15:40.789Z")), "20160503T121540Z");
    assert.equal(compactUtc(Date.parse("2026-11-23T19:47:30.000Z")), "20261123T194730Z");
  });
  test("OPC UA password key K (section 6.1)", () => {
    const K = documentKey("0123456789abcdef0123");
    assert.equal(K, "1bd8fd47297046f993e608e398d5905b");
    assert.equal(encryptOpcuaPassword("test123", K), "jtAfojRiXZAxCsHcy2UYXQ==");
    assert.equal(decryptOpcuaPassword("jtAfojRiXZAxCsHcy2UYXQ==", K), "test123");
  });
  test("CONFIG_PUSH digest vector", () => {
    const body = Buffer.from('{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}');
    assert.equal(body.length, 61);
    assert.equal(createHash("sha256").update(body).digest("hex"), "fe42ea1da5dd832033f31d194b0e8088ad0073ea1b9bb95d4c8fed1321b6bd51");
  });
});

const types: UplinkTypes = {
  serviceId: "Thing",
  property: (id) =>
    ({ temp_i16: { type: "float" }, count_u16: { type: "int" }, running_coil: { type: "bool" }, label: { type: "text" } } as Record<string, { type: string }>)[id],
  event: (id) => (id === "alarm" ? { type: "struct", specs: [{ identifier: "level", dataType: { type: "double" } }] } : undefined),
};
const T = Date.parse("2026-11-23T19:47:30.250Z");
const props = (seq: number, values: PropertiesRecord["values"]): PropertiesRecord => ({ kind: "properties", seq, device: "p/d", time: values[0]!.time, attempts: 0, values });

describe("deviceReq (sections 3.2, 5.3)", () => {
  test("the spec's example: one entry per second, floats keep their decimal point", () => {
    const r = encodeDeviceReq(
      [props(1, [
        { identifier: "temp_i16", value: -21.5, time: T },
        { identifier: "count_u16", value: 50000, time: T + 100 },
        { identifier: "running_coil", value: 1, time: T + 200 },
      ])],
      types,
    );
    assert.deepEqual(r.rejected, []);
    assert.equal(r.messages.length, 1);
    assert.equal(
      r.messages[0]!.payload,
      '{"msgType":"deviceReq","data":[{"serviceId":"Thing","serviceData":{"temp_i16":-21.5,"count_u16":50000,"running_coil":1},"eventTime":"20261123T194730Z"}]}',
    );
    const f = encodeDeviceReq([props(2, [{ identifier: "temp_i16", value: 20, time: T }])], types);
    assert.match(f.messages[0]!.payload, /"temp_i16":20\.0/);
  });
  test("a second sample of an identifier in the same second opens another entry; entries ascend by time", () => {
    const r = encodeDeviceReq(
      [props(1, [
        { identifier: "count_u16", value: 1, time: T + 1000 },
        { identifier: "count_u16", value: 2, time: T },
        { identifier: "count_u16", value: 3, time: T + 500 },
        { identifier: "label", value: "x", time: T + 600 },
      ]), { kind: "event", seq: 2, device: "p/d", time: T, attempts: 0, identifier: "alarm", outputs: { level: 2 } }],
      types,
    );
    const msg = JSON.parse(r.messages[0]!.payload) as { data: { serviceId: string; serviceData: Record<string, unknown>; eventTime: string }[] };
    assert.deepEqual(r.messages[0]!.seqs, [1, 2]);
    assert.deepEqual(msg.data.map((e) => [e.serviceId, e.eventTime, e.serviceData]), [
      ["Thing", "20261123T194730Z", { count_u16: 2, label: "x" }],
      ["Thing", "20261123T194730Z", { count_u16: 3 }],
      ["alarm", "20261123T194730Z", { level: 2 }],
      ["Thing", "20261123T194731Z", { count_u16: 1 }],
    ]);
    assert.match(r.messages[0]!.payload, /"level":2\.0/);
  });
  test("at most 100 entries per message; records stay whole unless one alone is too large", () => {
    const records: UplinkRecord[] = [];
    for (let i = 0; i < 150; i++) records.push(props(i + 1, [{ identifier: "count_u16", value: i, time: T + i * 1000 }]));
    const r = encodeDeviceReq(records, types);
    assert.equal(r.messages.length, 2);
    assert.equal(r.messages[0]!.seqs.length, MAX_ENTRIES);
    assert.equal((JSON.parse(r.messages[1]!.payload) as { data: unknown[] }).data.length, 50);
    const big = props(1, Array.from({ length: 250 }, (_, i) => ({ identifier: "count_u16", value: i, time: T + i * 1000 })));
    const s = encodeDeviceReq([big, props(2, [{ identifier: "count_u16", value: 9, time: T }])], types);
    assert.deepEqual(s.messages.map((m) => m.seqs), [[1], [1], [1, 2]]);
  });
  test("at most 64 KiB per message; a value that cannot fit rejects its record", () => {
    const text = "a".repeat(20_000);
    const recs = [1, 2, 3, 4].map((i) => props(i, [{ identifier: "label", value: text, time: T + i * 1000 }]));
    const r = encodeDeviceReq(recs, types);
    assert.equal(r.messages.length, 2);
    for (const m of r.messages) assert.ok(Buffer.byteLength(m.payload) <= MAX_PAYLOAD_BYTES);
    const huge = encodeDeviceReq([props(7, [{ identifier: "label", value: "b".repeat(70_000), time: T }])], types);
    assert.deepEqual(huge.messages, []);
    assert.equal(huge.rejected[0]!.seq, 7);
  });
  test("wire records and empty records are rejected", () => {
    const r = encodeDeviceReq(
      [{ kind: "wire", seq: 5, device: "p/d", time: T, attempts: 0, platform: "aliyun", topic: "t", payload: "{}", devices: ["p/d"] }, props(6, [{ identifier: "count_u16", value: 1, time: T }])],
      types,
    );
    assert.equal(r.rejected[0]!.seq, 5);
    assert.deepEqual(r.messages.map((m) => m.seqs), [[6]]);
  });
});

describe("cloudReq and deviceRsp (sections 3.3 to 3.5, 9.2)", () => {
  const p = (v: unknown) => parseCloudReq(Buffer.from(typeof v === "string" ? v : JSON.stringify(v)));
  test("a valid command", () => {
    assert.deepEqual(p({ msgType: "cloudReq", serviceId: "Thing", mid: 17, cmd: "set", paras: { sp_int: 345 } }), {
      kind: "command", mid: 17, serviceId: "Thing", cmd: "set", paras: { sp_int: 345 },
    });
  });
  test("without a usable mid: dropped", () => {
    for (const bad of ["not json", "[1]", "3", "null", { msgType: "deviceReq", mid: 1 }, { msgType: "cloudReq" }, { msgType: "cloudReq", mid: 0 },
      { msgType: "cloudReq", mid: 65536 }, { msgType: "cloudReq", mid: 1.5 }, { msgType: "cloudReq", mid: "7" }]) {
      assert.equal(p(bad).kind, "drop", JSON.stringify(bad));
    }
    assert.equal(parseCloudReq(Buffer.alloc(1024 * 1024 + 1, 32)).kind, "drop");
  });
  test("with a mid: invalid (answered 460)", () => {
    const base = { msgType: "cloudReq", mid: 9, serviceId: "Thing", cmd: "set", paras: {} };
    for (const over of [{ serviceId: 5 }, { serviceId: "" }, { serviceId: "x".repeat(65) }, { cmd: null }, { cmd: "" }, { cmd: "c".repeat(33) },
      { paras: [] }, { paras: "x" }, { paras: null }, { paras: undefined }]) {
      const r = p({ ...base, ...over });
      assert.equal(r.kind, "invalid", JSON.stringify(over));
      assert.equal((r as { mid: number }).mid, 9);
    }
  });
  test("deviceRsp", () => {
    assert.equal(deviceRsp(17, { code: 200 }), '{"msgType":"deviceRsp","mid":17,"errcode":0,"body":{"code":200}}');
    assert.deepEqual(JSON.parse(deviceRsp(3, { code: 460, message: "x" })), { msgType: "deviceRsp", mid: 3, errcode: 1, body: { code: 460, message: "x" } });
    const big = JSON.parse(deviceRsp(4, { code: 200, data: { t: "x".repeat(70_000) } })) as { errcode: number; body: { code: number } };
    assert.deepEqual([big.errcode, big.body.code], [1, 400]);
  });
  test("failure codes", () => {
    assert.equal(failureCode("badRequest", "modbus"), 460);
    assert.equal(failureCode("readOnly", "modbus"), 460);
    assert.equal(failureCode("unknownIdentifier", "opcua"), 460);
    assert.equal(failureCode("timeout", "modbus"), 100001);
    assert.equal(failureCode("fieldError", "modbus"), 100002);
    assert.equal(failureCode("fieldError", "opcua"), 100003);
    assert.equal(failureCode("notConnected", "opcua"), 100004);
    assert.equal(failureCode("unsupported", "modbus"), 100005);
    assert.equal(failureCode("internal", "modbus"), CODE.internal);
  });
  test("CONFIG_PUSH parameters", () => {
    const ok = { url: "https://files.example.com/gw/gateway-config-v7.json", digest: "fe42ea1da5dd832033f31d194b0e8088ad0073ea1b9bb95d4c8fed1321b6bd51", digestMethod: "sha256" };
    assert.deepEqual(parseConfigParas(ok, false), ok);
    assert.deepEqual(parseConfigParas({ ...ok, version: "v7", digest: ok.digest.toUpperCase() }, false), { ...ok, digest: ok.digest.toUpperCase(), version: "v7" });
    assert.equal(typeof parseConfigParas({ ...ok, digest: "/kLqHaXdgyAz8x0ZSwgIiK0Ac+obm7ldTI/tEyG2vVE=" }, false), "object");
    for (const bad of [{ url: "http://x/y" }, { url: "ftp://x" }, { url: "nope" }, { url: undefined }, { digest: "abc" }, { digest: undefined },
      { digestMethod: "md5" }, { version: 7 }, { extra: 1 }]) {
      assert.equal(typeof parseConfigParas({ ...ok, ...bad }, false), "string", JSON.stringify(bad));
    }
    assert.equal(typeof parseConfigParas({ ...ok, url: "http://x/y" }, true), "object");
  });
  test("REMOVE parameters", () => {
    assert.deepEqual(parseRemoveParas({ del_subdevice: "YES", productKey: "p", deviceName: "d" }), { productKey: "p", deviceName: "d" });
    assert.deepEqual(parseRemoveParas({ del_subdevice: "YES", deviceId: "x" }), { deviceId: "x" });
    for (const bad of [{ del_subdevice: "yes", productKey: "p", deviceName: "d" }, { productKey: "p", deviceName: "d" }, { del_subdevice: "YES" },
      { del_subdevice: "YES", productKey: "p" }, { del_subdevice: "YES", deviceId: "x", productKey: "p" }, { del_subdevice: "YES", deviceId: 5 }]) {
      assert.equal(typeof parseRemoveParas(bad), "string", JSON.stringify(bad));
    }
  });
});
