import { strict as assert } from "node:assert";
import { createHash, createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { encodeEvent, encodeProperties, replyVerdict, wireTimestamp } from "../../../../src/cloud/tencent/codec.js";
import { configFailureCode, outcomeCode, parseChange, parseCommand, parseObject, parseResourceUpdate } from "../../../../src/cloud/tencent/downlink.js";
import { bindEntry, bindSignature, connectFields } from "../../../../src/cloud/tencent/sign.js";
import { gatewayFilters, parseDownTopic } from "../../../../src/cloud/tencent/topics.js";
import { decryptOpcuaPassword, encryptOpcuaPassword } from "../../../../src/config/gateway/crypto.js";
import type { TslDocument } from "../../../../src/things/tsl-types.js";

describe("tencent CONNECT signing (2.3)", () => {
  it("V1 sha256 and sha1", () => {
    const base = { productId: "ABCDEFGHIJ", deviceName: "gw001", psk: "MTIzNDU2Nzg5MGFiY2RlZg==", sdkAppId: "12010126", expirySeconds: 10, nowS: 2147483640, connid: "Ab3dE" };
    const f = connectFields({ ...base, method: "hmacsha256" });
    assert.equal(f.clientId, "ABCDEFGHIJgw001");
    assert.equal(f.username, "ABCDEFGHIJgw001;12010126;Ab3dE;2147483647");
    assert.equal(f.password, "6e2f4d5c34bab8da97ab0aebf0dd440395b46c026a44b2c69625d93b9a5d85db;hmacsha256");
    assert.equal(connectFields({ ...base, method: "hmacsha1" }).password, "8cedcdb14b3671ac312e553753c1030d4e28dcd6;hmacsha1");
  });
  it("V2 sha256 and sha1, expiry = now + expirySeconds", () => {
    const base = { productId: "FBGWPRD001", deviceName: "fb-gw-01", psk: "lDZ6Uqt+I9E0wW7rvDUs7Q==", sdkAppId: "12010126", expirySeconds: 100, nowS: 1798761500, connid: "x7Qp2" };
    const f = connectFields({ ...base, method: "hmacsha256" });
    assert.equal(f.username, "FBGWPRD001fb-gw-01;12010126;x7Qp2;1798761600");
    assert.equal(f.password, "6870a25b590d8fe1e3dc5d8a78a24440cba90958ea87793efe2cb0ff54771812;hmacsha256");
    assert.equal(connectFields({ ...base, method: "hmacsha1" }).password, "5649d4ed0e3528d6d88c2c7a45cfd9ffe8fc40bd;hmacsha1");
  });
  it("V3: the PSK text as key gives the wrong token, which we never send", () => {
    const u = "FBGWPRD001fb-gw-01;12010126;x7Qp2;1798761600";
    const wrong = createHmac("sha256", Buffer.from("lDZ6Uqt+I9E0wW7rvDUs7Q==", "utf8")).update(u).digest("hex");
    assert.equal(wrong, "8dc12e975f0f637daf885f9c5f85fdad2f0429543f34fa564dc177dbc036b9ed");
    const f = connectFields({ productId: "FBGWPRD001", deviceName: "fb-gw-01", psk: "lDZ6Uqt+I9E0wW7rvDUs7Q==", sdkAppId: "12010126", expirySeconds: 100, nowS: 1798761500, connid: "x7Qp2", method: "hmacsha256" });
    assert.notEqual(f.password.split(";")[0], wrong);
  });
  it("a fresh connid of 5 alphanumerics per attempt", () => {
    const a = connectFields({ productId: "ABCDEFGHIJ", deviceName: "gw001", psk: "MTIzNDU2Nzg5MGFiY2RlZg==", sdkAppId: "1", expirySeconds: 60, method: "hmacsha256" });
    assert.match(a.username.split(";")[2]!, /^[A-Za-z0-9]{5}$/);
  });
});

describe("tencent bind signature (4.3)", () => {
  it("B1", () => {
    assert.equal(bindSignature("SUBPRODUCT", "sensor01", "MTIzNDU2Nzg5MGFiY2RlZg==", 123456, 1700000000, "hmacsha1"), "fRD5Q6zTVMCvkbcn+R81zsfkYq0=");
    assert.equal(bindSignature("SUBPRODUCT", "sensor01", "MTIzNDU2Nzg5MGFiY2RlZg==", 123456, 1700000000, "hmacsha256"), "5iQIgSWvCJpd9Vkzv87Z7hHd+4DaHR2nfdE/TnDtUHU=");
  });
  it("B2 and the entry fields", () => {
    const e = bindEntry("FBMBPRD001", "mb-dev-02", "k3Jm9Qx2ZbVt7Wc4Lp8YdA==", "hmacsha256", 1764700000, 1820758684);
    assert.deepEqual(e, { product_id: "FBMBPRD001", device_name: "mb-dev-02", signature: "yVVkAFVOU3bwxc1xGTiyYfvOmQtftBqcCQ6tRTvt2tY=", random: 1820758684, timestamp: 1764700000, signmethod: "hmacsha256", authtype: "psk" });
    assert.equal(bindSignature("FBMBPRD001", "mb-dev-02", "k3Jm9Qx2ZbVt7Wc4Lp8YdA==", 1820758684, 1764700000, "hmacsha1"), "Cv92qDONH6fbaQx6eKpmtF9cnTU=");
  });
  it("B3: the decoded key is wrong", () => {
    const wrong = createHmac("sha256", Buffer.from("k3Jm9Qx2ZbVt7Wc4Lp8YdA==", "base64")).update("FBMBPRD001mb-dev-02;1820758684;1764700000").digest("base64");
    assert.equal(wrong, "8RjNYKtZ3SBjWzec/FLl093OjAEGjz7Q5X0YM7YG6XQ=");
    assert.notEqual(bindSignature("FBMBPRD001", "mb-dev-02", "k3Jm9Qx2ZbVt7Wc4Lp8YdA==", 1820758684, 1764700000, "hmacsha256"), wrong);
  });
});

describe("tencent document vectors (7.2, 7.3)", () => {
  it("MD5 of the empty document", () => {
    const body = '{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}';
    assert.equal(Buffer.byteLength(body), 61);
    assert.equal(createHash("md5").update(body).digest("hex"), "399f893acc26b5beace2298c20b2907f");
  });
  it("OPC UA password with the PSK text (AES-192)", () => {
    assert.equal(encryptOpcuaPassword("test123", "lDZ6Uqt+I9E0wW7rvDUs7Q=="), "QmRw/pLIOJonuD/TlTaMhw==");
    assert.equal(decryptOpcuaPassword("QmRw/pLIOJonuD/TlTaMhw==", "lDZ6Uqt+I9E0wW7rvDUs7Q=="), "test123");
  });
});

const TSL: TslDocument = {
  profile: { productKey: "FBMBPRD001" },
  properties: [
    { identifier: "temp", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
    { identifier: "count", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
  ],
  events: [{ identifier: "PowerAlarm", type: "error", outputData: [{ identifier: "Voltage", dataType: { type: "double" } }] }],
};

describe("tencent uplink encoding (6.3)", () => {
  it("timestamps are floored seconds, or ms", () => {
    assert.equal(wireTimestamp(Date.parse("2025-12-02T18:26:40.789Z"), "s"), 1764700000);
    assert.equal(wireTimestamp(1764700000789, "ms"), 1764700000789);
  });
  it("groups by timestamp, one identifier per message, floats keep their point", () => {
    const t0 = 1764700000000;
    const msgs = encodeProperties(
      { kind: "properties", seq: 1, device: "FBMBPRD001/d1", time: t0, attempts: 0, values: [
        { identifier: "temp", value: 20, time: t0 }, { identifier: "count", value: 5, time: t0 + 10 },
        { identifier: "temp", value: 21.5, time: t0 + 20 }, { identifier: "count", value: 6, time: t0 + 2000 },
      ] },
      TSL, "s",
    );
    assert.deepEqual(msgs.map((m) => m.render("tk")), [
      '{"method":"report","clientToken":"tk","timestamp":1764700000,"params":{"temp":20.0,"count":5}}',
      '{"method":"report","clientToken":"tk","timestamp":1764700000,"params":{"temp":21.5}}',
      '{"method":"report","clientToken":"tk","timestamp":1764700002,"params":{"count":6}}',
    ]);
  });
  it("splits at 16 KiB", () => {
    const values = Array.from({ length: 2000 }, (_, i) => ({ identifier: `p${i}_${"x".repeat(10)}`, value: i, time: 1000 }));
    const msgs = encodeProperties({ kind: "properties", seq: 1, device: "d", time: 1000, attempts: 0, values }, undefined, "s");
    assert.ok(msgs.length > 1);
    for (const m of msgs) assert.ok(Buffer.byteLength(m.render("fb-abcdef-1")) <= 16 * 1024);
  });
  it("event_post maps error to fault", () => {
    const m = encodeEvent({ kind: "event", seq: 1, device: "d", time: 1764700005000, attempts: 0, identifier: "PowerAlarm", outputs: { Voltage: 3 } }, TSL, "s");
    assert.equal(m?.render("t"), '{"method":"event_post","clientToken":"t","version":"1.0","eventId":"PowerAlarm","type":"fault","timestamp":1764700005,"params":{"Voltage":3.0}}');
    assert.equal(encodeEvent({ kind: "event", seq: 1, device: "d", time: 1, attempts: 0, identifier: "Nope", outputs: {} }, TSL, "s"), undefined);
  });
  it("reply codes", () => {
    assert.equal(replyVerdict(0).result, "ok");
    assert.equal(replyVerdict(503).result, "retry");
    for (const c of [400, 403, 405, 406]) assert.equal(replyVerdict(c).result, "reject");
  });
});

describe("tencent downlinks", () => {
  it("topics", () => {
    assert.equal(gatewayFilters("P/gw").length, 6);
    assert.deepEqual(parseDownTopic("$thing/down/property/FBMBPRD001/d1"), { kind: "property", pair: "FBMBPRD001/d1" });
    assert.deepEqual(parseDownTopic("$gateway/operation/result/P/gw"), { kind: "gatewayResult", pair: "P/gw" });
    assert.equal(parseDownTopic("$thing/up/property/P/gw"), undefined);
  });
  it("control validation", () => {
    assert.deepEqual(parseCommand({ method: "control", clientToken: "a", params: { x: 1 } }, "control"), { ok: true, token: "a", params: { x: 1 } });
    assert.equal((parseCommand({ method: "control", clientToken: "a", params: {} }, "control") as { code: number }).code, 406);
    assert.equal((parseCommand({ method: "control", clientToken: "a", params: [1] }, "control") as { code: number }).code, 406);
    assert.equal(parseCommand({ method: "control", params: { x: 1 } }, "control").token, undefined);
    assert.equal(parseCommand({ method: "control", clientToken: "x".repeat(129), params: { x: 1 } }, "control").token, undefined);
    assert.equal((parseCommand({ method: "action", clientToken: "a" }, "action") as { code: number }).code, 403);
    assert.equal(parseObject(Buffer.alloc(64 * 1024 + 1, 32)).ok, false);
    assert.equal(parseObject(Buffer.from("[1]")).ok, false);
  });
  it("outcome codes", () => {
    assert.equal(outcomeCode({ ok: true }, false), 0);
    assert.equal(outcomeCode({ ok: false, kind: "readOnly", message: "" }, false), 403);
    assert.equal(outcomeCode({ ok: false, kind: "badRequest", message: "" }, false), 406);
    assert.equal(outcomeCode({ ok: false, kind: "fieldError", message: "" }, true), 100003);
    assert.equal(outcomeCode({ ok: false, kind: "fieldError", message: "" }, false), 100002);
    assert.equal(outcomeCode({ ok: false, kind: "unsupported", message: "" }, false), 100005);
    assert.equal(configFailureCode("download", "HTTP 404"), "-2");
    assert.equal(configFailureCode("digest", "md5"), "-4");
  });
  it("change and update_resource", () => {
    assert.deepEqual(parseChange({ type: "change", payload: { status: 0, devices: [{ product_id: "A", device_name: "b" }] } }), { status: 0, devices: [{ product_id: "A", device_name: "b" }] });
    assert.equal(parseChange({ type: "change", payload: { status: 2, devices: [] } }), undefined);
    const ok = parseResourceUpdate({ resource_name: "gateway-config.json", resource_type: "file", version: "7", url: "https://x/y", md5sum: "399F893ACC26B5BEACE2298C20B2907F", file_size: 61 }, "gateway-config.json", false);
    assert.deepEqual(ok, { ok: true, update: { name: "gateway-config.json", version: "7", url: "https://x/y", md5: "399f893acc26b5beace2298c20b2907f", size: 61 } });
    assert.equal(parseResourceUpdate({ resource_name: "other", version: "7" }, "gateway-config.json", false)?.ok, false);
    assert.equal(parseResourceUpdate({ version: "7" }, "gateway-config.json", false), undefined);
  });
});
