import { test } from "node:test";
import assert from "node:assert/strict";
import { compileTsl } from "../../../../src/things/tsl.js";
import type { TslDocument } from "../../../../src/things/tsl-types.js";
import { decodeDownlink, type DownAction } from "../../../../src/cloud/lierda/downlink.js";
import { envelopeJson, MessageIdCounter, parseEnvelope } from "../../../../src/cloud/lierda/envelope.js";
import { planMessages, ValueWriter, type DataRecord } from "../../../../src/cloud/lierda/uplink.js";
import { classify, subscriptions } from "../../../../src/cloud/lierda/topics.js";
import {
  authOutcome,
  authRequest,
  checkConfigSettings,
  clockOffset,
  configReportPayload,
  firmwareReportPayload,
  updateTimeJson,
} from "../../../../src/cloud/lierda/gateway-messages.js";

const ID = { openId: "7ED01E2A", productId: "B1C2D3E4", nodeEui: "FBGW0001M0S01" };
const P = "/sys/7ED01E2A/B1C2D3E4/FBGW0001M0S01";
const TSL: TslDocument = {
  profile: { productKey: "B1C2D3E4" },
  properties: [
    { identifier: "temp_i16", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
    { identifier: "count_u16", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
    { identifier: "seq_u16", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
    { identifier: "sp_int", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "1000" } } },
    { identifier: "on", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
  ],
  events: [{ identifier: "Alarm", type: "alert", outputData: [{ identifier: "level", dataType: { type: "double" } }] }],
  services: [
    {
      identifier: "Reset",
      inputData: [{ identifier: "mode", dataType: { type: "int", specs: { min: "0", max: "9" } } }],
      outputData: [{ identifier: "result", dataType: { type: "int" } }],
    },
  ],
};
const ctx = { id: ID, tsl: compileTsl(TSL) };
const down = (suffix: string, body: unknown): DownAction =>
  decodeDownlink(`${P}/${suffix}`, Buffer.from(typeof body === "string" ? body : JSON.stringify(body)), ctx);

test("subscriptions of §3.8 and topic classification", () => {
  assert.deepEqual(subscriptions(ID), [
    `${P}/+`,
    `${P}/model/property/set`,
    `${P}/model/property/ask`,
    `${P}/model/service/+`,
    `${P}/model/property/report_ack`,
    `${P}/model/history/data/report_ack`,
    `${P}/model/event/+/report_ack`,
  ]);
  assert.deepEqual(classify(ID, `${P}/model/service/Reset`), { kind: "service", service: "Reset" });
  assert.equal(classify(ID, `${P}/model/service/Reset/ack`), undefined);
  assert.deepEqual(classify(ID, `${P}/model/event/Alarm/report_ack`), { kind: "reportAck", headerCtrl: 17 });
  assert.equal(classify(ID, "/sys/7ED01E2A/B1C2D3E4/OTHER/down_config"), undefined);
});

test("auth request and reply codes (§3.3)", () => {
  const req = JSON.parse(authRequest(1231, { openId: "E0C040B1", productId: "A4BC6002", nodeEui: "A4BC6002" }, 0));
  assert.deepEqual(req, { MessageId: 1231, HeaderCtrl: 1, Payload: { OpenID: "E0C040B1", ProductID: "A4BC6002", NodeEui: "A4BC6002", Type: 0 }, Version: "2.0" });
  assert.deepEqual(authOutcome({ Code: 0, DeviceSecret: "326086233FAB8A96566796551EB1DFF8" }), { ok: true, deviceSecret: "326086233FAB8A96566796551EB1DFF8" });
  assert.deepEqual(authOutcome({ Code: "0", DeviceSecret: "326086233FAB8A96566796551EB1DFF8" }).ok, true);
  const short = authOutcome({ Code: 0, DeviceSecret: "FE448731" });
  assert.ok(!short.ok && short.atMax && !short.reason.includes("FE448731"));
  const c = (code: number) => authOutcome({ Code: code });
  assert.ok(!c(1).ok && !(c(1) as { atMax: boolean }).atMax);
  for (const code of [2, 4, 5, 6]) assert.equal((c(code) as { atMax: boolean }).atMax, true, `code ${code}`);
  assert.equal((c(4) as { disabled: boolean }).disabled, true);
  assert.equal((c(9) as { atMax: boolean }).atMax, false);
});

test("envelope: ids accepted and refused, ids counted per device from a persisted mark", () => {
  assert.ok(parseEnvelope('{"MessageId":"abc","HeaderCtrl":20,"Payload":{},"Version":"2.0"}').ok);
  for (const bad of ['{"MessageId":1.5,"HeaderCtrl":20,"Payload":{}}', '{"MessageId":"","HeaderCtrl":20,"Payload":{}}', `{"MessageId":"${"1".repeat(65)}","HeaderCtrl":20,"Payload":{}}`, '{"HeaderCtrl":20,"Payload":{}}', "[1]", "nope"]) {
    assert.equal(parseEnvelope(bad).ok, false, bad);
  }
  assert.equal(parseEnvelope(Buffer.alloc(256 * 1024 + 1, 32)).ok, false);
  const marks: number[] = [];
  const a = new MessageIdCounter(undefined, (m) => marks.push(m), 10, () => 0);
  assert.deepEqual([a.take(), a.take()], [1, 2]);
  const b = new MessageIdCounter(marks.at(-1), (m) => marks.push(m), 10, () => 0);
  assert.ok(b.take() > 2);
  assert.equal(envelopeJson("7", 16, "{}"), '{"MessageId":"7","HeaderCtrl":16,"Payload":{},"Version":"2.0"}');
});

test("16 for live samples, 27 with sample times otherwise, float keeps its decimal point (§7.2)", () => {
  const now = 1764700010000;
  const writer = new ValueWriter(TSL);
  const live: DataRecord = { kind: "properties", seq: 5, device: "B1C2D3E4/FBGW0001M0S01", time: now - 1000, attempts: 0, values: [
    { identifier: "temp_i16", value: -21, time: now - 1000 },
    { identifier: "count_u16", value: 50000, time: now - 1000 },
  ] };
  const old: DataRecord = { kind: "properties", seq: 4, device: live.device, time: 1764700000500, attempts: 0, values: [
    { identifier: "seq_u16", value: 1003, time: 1764700000500 },
    { identifier: "seq_u16", value: 1004, time: 1764700001500 },
    { identifier: "temp_i16", value: -21.5, time: 1764700001500 },
  ] };
  const ev: DataRecord = { kind: "event", seq: 6, device: live.device, time: now - 100, attempts: 0, identifier: "Alarm", outputs: { level: 3 } };
  const msgs = planMessages([old, live, ev], { writer, onlineSince: now - 60_000, now, liveMaxAgeMs: 5000, historyBatchSize: 50 });
  assert.deepEqual(msgs.map((m) => m.headerCtrl), [27, 16, 17]);
  assert.equal(msgs[0]!.payloadJson, '{"params":[{"properties":[{"seq_u16":{"value":1003,"time":1764700000500}},{"seq_u16":{"value":1004,"time":1764700001500},"temp_i16":{"value":-21.5,"time":1764700001500}}],"events":[]}]}');
  assert.equal(msgs[1]!.payloadJson, '{"temp_i16":-21.0,"count_u16":50000}');
  assert.equal(msgs[2]!.payloadJson, '{"level":3.0}');
  assert.equal(msgs[2]!.eventId, "Alarm");
  // The same live record sampled before the connection came up, or sent too late, goes as 27.
  const before = planMessages([live, ev], { writer, onlineSince: now - 50, now, liveMaxAgeMs: 5000, historyBatchSize: 50 });
  assert.deepEqual(before.map((m) => m.headerCtrl), [27]);
  assert.match(before[0]!.payloadJson, /"events":\[\{"Alarm":\{"value":\{"level":3.0\},"time":1764700009900\}\}\]/);
  const late = planMessages([live], { writer, onlineSince: 0, now: now + 10_000, liveMaxAgeMs: 5000, historyBatchSize: 50 });
  assert.equal(late[0]!.headerCtrl, 27);
});

test("27 batches hold at most historyBatchSize items and stay under 64 KiB", () => {
  const writer = new ValueWriter(TSL);
  const recs: DataRecord[] = Array.from({ length: 7 }, (_, i) => ({ kind: "properties", seq: i + 1, device: "d", time: 1000 + i, attempts: 0, values: [{ identifier: "seq_u16", value: i, time: 1000 + i }] }));
  const msgs = planMessages(recs, { writer, onlineSince: 0, now: 1e12, liveMaxAgeMs: 5000, historyBatchSize: 3 });
  assert.deepEqual(msgs.map((m) => m.seqs), [[1, 2, 3], [4, 5, 6], [7]]);
  const big: DataRecord[] = Array.from({ length: 100 }, (_, i) => ({ kind: "properties", seq: i + 1, device: "d", time: 1000 + i, attempts: 0, values: [{ identifier: "t", value: "x".repeat(2000), time: 1000 + i }] }));
  const split = planMessages(big, { writer, onlineSince: 0, now: 1e12, liveMaxAgeMs: 5000, historyBatchSize: 100 });
  assert.ok(split.length >= 4);
  for (const m of split) assert.ok(Buffer.byteLength(m.payloadJson) < 64 * 1024 - 96);
});

test("property set: string forms converted, invalid sets refused whole with 4001 (§7.4)", () => {
  const ok = down("model/property/set", { MessageId: 192155183, HeaderCtrl: 20, Payload: { params: [{ identify: "sp_int", value: "345" }, { identify: "on", value: "true" }] }, Version: "2.0" });
  assert.deepEqual(ok, { kind: "set", messageId: 192155183, values: { sp_int: 345, on: 1 } });
  const cases: [unknown, RegExp][] = [
    [{ params: [{ identify: "sp_int", value: 5000 }] }, /sp_int: 5000 is above max 1000/],
    [{ params: [{ identify: "count_u16", value: 1 }] }, /count_u16: .*read-only/],
    [{ params: [{ identify: "nope", value: 1 }] }, /nope: unknown property/],
    [{ params: [{ identify: "sp_int", value: 5 }, { identify: "sp_int", value: 6 }] }, /sp_int: set twice/],
    [{ params: [{ identify: "sp_int", value: 5 }, { identify: "on", value: 7 }] }, /on: /],
    [{ params: [] }, /non-empty/],
    [{ params: [{ value: 1 }] }, /identify/],
  ];
  for (const [payload, msg] of cases) {
    const a = down("model/property/set", { MessageId: "m1", HeaderCtrl: 20, Payload: payload, Version: "2.0" });
    assert.equal(a.kind, "reply", JSON.stringify(payload));
    if (a.kind !== "reply") continue;
    assert.equal(a.reply.topic, `${P}/model/property/set_ack`);
    const body = JSON.parse(a.reply.payloadJson);
    assert.equal(body.Code, "4001");
    assert.match(body.Msg, msg);
    assert.deepEqual(body.Data, {});
    assert.equal(a.reply.messageId, "m1");
  }
  const v = down("model/property/set", { MessageId: 3, HeaderCtrl: 20, Payload: { params: [{ identify: "sp_int", value: 1 }] }, Version: "1.0" });
  assert.equal(v.kind, "reply");
});

test("services, asks, config, firmware, time and refusals (§7.5–§8.4)", () => {
  assert.deepEqual(down("model/service/Reset", { MessageId: 55, HeaderCtrl: 21, Payload: { serviceIdentify: "Reset", params: { mode: 7 } }, Version: "2.0" }), { kind: "service", messageId: 55, service: "Reset", inputs: { mode: 7 } });
  for (const payload of [{ serviceIdentify: "Other", params: { mode: 7 } }, { params: {} }, { params: { mode: 70 } }, { params: [] }]) {
    const a = down("model/service/Reset", { MessageId: 56, HeaderCtrl: 21, Payload: payload, Version: "2.0" });
    assert.equal(a.kind, "reply", JSON.stringify(payload));
    if (a.kind === "reply") assert.equal(a.reply.topic, `${P}/model/service/Reset/ack`);
  }
  assert.equal(down("model/service/set", { MessageId: 1, HeaderCtrl: 21, Payload: { params: {} }, Version: "2.0" }).kind, "reply");
  assert.deepEqual(down("model/property/ask", { MessageId: 7, HeaderCtrl: 23, Payload: { params: ["temp_i16"] }, Version: "2.0" }), { kind: "ask", messageId: 7, identifiers: ["temp_i16"] });
  assert.equal(down("model/property/ask", { MessageId: 7, HeaderCtrl: 23, Payload: { params: [1] }, Version: "2.0" }).kind, "ignore");
  const pass = down("downlink", { MessageId: 8, HeaderCtrl: 7, Payload: { x: 1 }, Version: "2.0" });
  assert.ok(pass.kind === "reply" && JSON.parse(pass.reply.payloadJson).Msg === "Failed: passthrough not supported" && pass.reply.topic === `${P}/downlink_ack`);
  assert.equal(down("downlink", { MessageId: 8, HeaderCtrl: 3, Payload: {}, Version: "2.0" }).kind, "ignore");
  assert.equal(down("model/property/set", { MessageId: 8, HeaderCtrl: 21, Payload: {}, Version: "2.0" }).kind, "ignore");
  assert.equal(down("down_config", "{not json").kind, "ignore");
  assert.equal(down("down_config", { HeaderCtrl: 14, Payload: {}, Version: "2.0" }).kind, "ignore");
  assert.equal(down("down_config", { MessageId: 1, HeaderCtrl: 14, Payload: "x", Version: "2.0" }).kind, "ignore");
  const t = down("update_time_ack", { Code: "200", Msg: "SUCCESS", Data: { timestamp: 1764700000000, timezone: "Asia/Shanghai" } });
  assert.deepEqual(t, { kind: "timeAck", messageId: undefined, timestamp: 1764700000000, code: "200" });
  assert.equal(clockOffset(10_000, 1_000, 3_000), 8_000);
  assert.deepEqual(down("firmware_report_ack", { MessageId: 10, HeaderCtrl: 8, Payload: { Code: "200" }, Version: "2.0" }), { kind: "firmwareAck", messageId: 10, code: "200" });
  assert.deepEqual(JSON.parse(updateTimeJson(9)), { MessageId: 9, HeaderCtrl: 29, Payload: "", Version: "2.0" });
  assert.deepEqual(JSON.parse(firmwareReportPayload("fieldbridge", "1.4.0")), { HardVer: "fieldbridge", SoftVer: "1.4.0", Type: 2 });
});

test("down_config Settings: object or JSON string, https unless allowHttp, 64 hex digest (§8.1)", () => {
  const sha = "3F5A".padEnd(64, "0");
  const url = "https://files.example.com/gw/doc-17.json";
  assert.deepEqual(checkConfigSettings({ GatewayConfigUrl: url, GatewayConfigSha256: sha, Other: 1 }, false), { ok: true, url, sha256: sha.toLowerCase() });
  assert.equal(checkConfigSettings(JSON.stringify({ GatewayConfigUrl: url, GatewayConfigSha256: sha }), false).ok, true);
  assert.equal(checkConfigSettings("[1", false).ok, false);
  assert.equal(checkConfigSettings("[1]", false).ok, false);
  assert.equal(checkConfigSettings({ GatewayConfigUrl: "http://x/y", GatewayConfigSha256: sha }, false).ok, false);
  assert.equal(checkConfigSettings({ GatewayConfigUrl: "http://x/y", GatewayConfigSha256: sha }, true).ok, true);
  assert.equal(checkConfigSettings({ GatewayConfigUrl: url, GatewayConfigSha256: "abc" }, false).ok, false);
  const report = JSON.parse(configReportPayload({ state: "applied", runningSha256: sha, errors: ["x".repeat(300)], firmwareVersion: "1.4.0", devices: 3, devicesOnline: 2 }));
  assert.deepEqual(Object.keys(report.Settings), ["GatewayConfigState", "GatewayConfigSha256", "GatewayConfigErrors", "FirmwareVersion", "Devices", "DevicesOnline"]);
  assert.equal(report.Settings.GatewayConfigSha256, sha.toLowerCase());
  assert.ok(report.Settings.GatewayConfigErrors[0].length <= 200);
});
