/** Malformed platform messages, the config channel, OTA and firmware queries on the gateway's own device. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { devices, GW_KEY, OPEN, rig, T0, type Rig } from "./fixture.js";

const M0 = `${T0.pid}/METER0001`;
let r: Rig;

before(async () => {
  r = await rig();
  r.adapter.setDevices(devices([T0.pid, "METER0001"], ["DDDDDDDD", "NOCREDS1"]));
  r.adapter.start();
  await r.emu.waitFor(() => r.adapter.ready(M0, M0) && r.adapter.ready(GW_KEY, GW_KEY), 10_000, "online");
});
after(async () => {
  await r.close();
});

const P0 = `/sys/${OPEN}/${T0.pid}/METER0001`;
const env = (id: unknown, hc: number, payload: unknown, version: unknown = "2.0") => JSON.stringify({ MessageId: id, HeaderCtrl: hc, Payload: payload, Version: version });

test("malformed downlinks change nothing, reach no core request, and get 4001 where they carry an id and a reply topic", async () => {
  r.core.requests.length = 0;
  const silent: [string, string | Buffer][] = [
    ["model/property/set", "not json"],
    ["model/property/set", "[]"],
    ["model/property/set", "null"],
    ["model/property/set", '"text"'],
    ["model/property/set", env(undefined, 20, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", env(1.5, 20, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", env("", 20, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", env("x".repeat(65), 20, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", env(true, 20, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", env(11, 21, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", env(12, "20" as unknown as number, { params: [{ identify: "sp", value: 1 }] })],
    ["model/property/set", JSON.stringify({ MessageId: 13, HeaderCtrl: 20, Version: "2.0" })],
    ["model/property/ask", env(14, 23, { params: "temp" })],
    ["model/property/ask", env(15, 23, { params: [1, 2] })],
    ["model/property/ask", env(16, 23, "temp")],
    ["model/property/ask", env(17, 20, { params: ["temp"] })],
    ["downlink", env(18, 3, { SessionID: "x", Nonce: 1 })],
    ["downlink", env(19, 1, { Code: 0, DeviceSecret: "326086233FAB8A96566796551EB1DFF8" })],
    ["uplink_ack", env(20, 4, { Code: "200" })],
    ["model/property/report_ack", env(21, 16, { Code: "200" })],
    ["model/property/report_ack", env(22, 27, "x")],
    ["down_config", env(23, 14, "settings")],
    ["down_config", env(24, 13, { Settings: {} })],
    ["ask_config", env(25, 14, [])],
    ["ota_notify", env(26, 9, "x")],
    ["update_time_ack", "{"],
    ["firmware_report_ack", env(27, 13, { Code: "200" })],
    ["model/property/set", Buffer.alloc(256 * 1024 + 10, 0x20)],
    ["model/service/Reset", "not json"],
    ["model/service/Reset", env(28, 20, { params: { mode: 1 } })],
    // A non-object Payload is not a valid request: no reply (§7.7), also where the topic has a reply topic.
    ["model/property/set", env(29, 20, "x")],
    ["model/service/Reset", env(30, 21, "x")],
  ];
  for (const [suffix, body] of silent) r.emu.sendRaw(M0, suffix, body);
  const replied: [string, string, string, RegExp][] = [
    ["model/property/set", env(101, 20, { params: [{ identify: "sp", value: 1 }] }, "1.0"), "model/property/set_ack", /Version/],
    ["model/property/set", env(102, 20, { params: {} }), "model/property/set_ack", /non-empty array/],
    ["model/property/set", env(103, 20, { params: [] }), "model/property/set_ack", /non-empty array/],
    ["model/property/set", env(105, 20, { params: [{ identify: "sp" }] }), "model/property/set_ack", /identify and a value/],
    ["model/property/set", env(106, 20, { params: [{ identify: 7, value: 1 }] }), "model/property/set_ack", /identify/],
    ["model/property/set", env(107, 20, { params: [{ identify: "sp", value: true }] }), "model/property/set_ack", /sp:/],
    ["model/property/set", env(108, 20, { params: [{ identify: "sp", value: "0x10" }] }), "model/property/set_ack", /sp:/],
    ["model/property/set", env(109, 20, { params: [{ identify: "sp", value: 1.5 }] }), "model/property/set_ack", /not an integer/],
    ["model/property/set", env(110, 20, { params: [{ identify: "sp", value: -1 }] }), "model/property/set_ack", /below min/],
    ["model/property/set", env(111, 20, { params: [{ identify: "level", value: "NaN" }] }), "model/property/set_ack", /level/],
    ["model/property/set", env(112, 20, { params: [{ identify: "sp", value: 1 }, { identify: "sp", value: 2 }] }), "model/property/set_ack", /set twice/],
    ["model/property/set", env(113, 20, { params: [{ identify: "temp", value: 1 }] }), "model/property/set_ack", /read-only/],
    ["model/property/set", env(114, 20, { params: ["sp"] }), "model/property/set_ack", /identify/],
    ["model/service/Reset", env(115, 21, { params: { mode: "x" } }), "model/service/Reset/ack", /mode/],
    ["model/service/Reset", env(116, 21, { params: "x" }), "model/service/Reset/ack", /params/],
    ["model/service/Reset", env(117, 21, { serviceIdentify: "Other", params: { mode: 1 } }), "model/service/Reset/ack", /serviceIdentify/],
    ["model/service/Reset", env(118, 21, { params: { mode: 1 } }, 2), "model/service/Reset/ack", /Version/],
    ["model/service/get", env(119, 21, { params: {} }), "model/service/get/ack", /not callable/],
    ["model/service/Nope", env(120, 21, { params: {} }), "model/service/Nope/ack", /unknown service/],
    ["downlink", env(121, 7, { data: "00ff" }), "downlink_ack", /passthrough not supported/],
    ["model/property/set", env("s-122", 20, { params: [{ identify: "sp", value: 1e9 }] }), "model/property/set_ack", /above max/],
  ];
  for (const [suffix, body] of replied) r.emu.sendRaw(M0, suffix, body);
  await r.emu.waitFor(() => replied.every(([, body, ack]) => r.emu.records.uplinks.some((u) => u.topic === `${P0}/${ack}` && u.messageId === JSON.parse(body).MessageId)), 8000, "every refusal answered");
  for (const [, body, ack, re] of replied) {
    const u = r.emu.records.uplinks.find((x) => x.topic === `${P0}/${ack}` && x.messageId === JSON.parse(body).MessageId)!;
    const p = u.payload as { Code: string; Msg: string; Data: unknown };
    assert.equal(p.Code, "4001", body);
    assert.match(p.Msg, re, body);
    assert.deepEqual(p.Data, {});
  }
  assert.ok(silent.length + replied.length >= 40);
  // Give silent ones a moment to (not) produce anything.
  await new Promise((res) => setTimeout(res, 300));
  const silentIds = new Set([11, 12, 13, 14, 15, 16, 17, 18, 19, 23, 24, 25, 26, 27, 28, 29, 30]);
  assert.ok(!r.emu.records.uplinks.some((u) => u.device === M0 && silentIds.has(u.messageId as number)), "a silent refusal was answered");
  assert.deepEqual(r.core.requests, []);
  assert.equal(r.adapter.ready(M0, M0), true, "the connection survived");
  assert.ok(r.adapter.status().counters["downlinksIgnored"]! >= 20);
});

test("down_config: the document is offered to the core and answered by config_report with the same MessageId", async () => {
  const doc = Buffer.from(JSON.stringify({ serverList: [], deviceList: [], modelList: [], tslList: [] }));
  const res = await r.emu.pushConfig(GW_KEY, doc);
  const s = (res.payload as { Settings: Record<string, unknown> }).Settings;
  assert.equal(r.core.offers.at(-1)!.url, res.url);
  assert.equal(r.core.offers.at(-1)!.digest, res.sha256);
  assert.deepEqual(s, { GatewayConfigState: "applied", GatewayConfigSha256: res.sha256, GatewayConfigErrors: ["deviceList DDDDDDDD/NOCREDS1: product DDDDDDDD has no entry in lierda.products"], FirmwareVersion: "1.4.0", Devices: 2, DevicesOnline: 1 });
  const reportJson = r.emu.records.uplinks.filter((u) => u.headerCtrl === 14).map((u) => u.json).join("\n");
  assert.ok(!reportJson.includes("https://"), "the report holds a URL");
  // Settings as a JSON string, upper-case digest.
  const asString = await r.emu.pushConfig(GW_KEY, doc, { settingsAsString: true, sha256: res.sha256.toUpperCase() });
  assert.equal((asString.payload as { Settings: { GatewayConfigState: string } }).Settings.GatewayConfigState, "applied");
  const offers = r.core.offers.length;
  const mismatch = await r.emu.pushConfig(GW_KEY, doc, { sha256: "0".repeat(64) });
  const ms = (mismatch.payload as { Settings: Record<string, unknown> }).Settings;
  assert.equal(ms["GatewayConfigState"], "rejected");
  assert.equal(ms["GatewayConfigSha256"], res.sha256, "the running digest stays");
  for (const settings of [{ GatewayConfigSha256: "abc" }, { GatewayConfigUrl: "http://127.0.0.1/x" }, { GatewayConfigUrl: "ftp://x/y" }]) {
    const bad = await r.emu.pushConfig(GW_KEY, doc, { settings });
    assert.equal((bad.payload as { Settings: { GatewayConfigState: string } }).Settings.GatewayConfigState, "rejected", JSON.stringify(settings));
  }
  assert.equal(r.core.offers.length, offers + 1, "invalid Settings reached the core");
  r.emu.files.behave("gone.json", { status: 404 });
  const failed = await r.emu.pushConfig(GW_KEY, doc, { settings: { GatewayConfigUrl: `${r.emu.files.url}/gone.json` } });
  assert.equal((failed.payload as { Settings: { GatewayConfigState: string } }).Settings.GatewayConfigState, "download-failed");
  const ask = await r.emu.askConfig(GW_KEY);
  assert.equal((ask.payload as { Settings: Record<string, unknown> }).Settings["GatewayConfigState"], "applied");
  const field = await r.emu.askConfig(M0);
  assert.deepEqual(field.payload, { Settings: {} });
  const fieldPush = await r.emu.request(M0, "down_config", 14, { Settings: { GatewayConfigUrl: "https://x/y", GatewayConfigSha256: "a".repeat(64) } }, "config");
  assert.deepEqual(fieldPush.payload, { Settings: {} });
});

test("ask_firmware echoes its id with the firmware report; ota_notify is acked with the DownID and handed to the core", async () => {
  const fw = await r.emu.askFirmware(GW_KEY);
  assert.deepEqual(fw.payload, { HardVer: "fieldbridge", SoftVer: "1.4.0", Type: 2 });
  const base = { Type: 2, Url: "https://127.0.0.1/fw.bin", SoftSize: 10, MD5: "0123456789abcdef0123456789ABCDEF", DownID: 77, firmwareName: "fb" };
  const same = await r.emu.otaNotify(GW_KEY, { ...base, SoftVer: "1.4.0" });
  assert.deepEqual(same.payload, { DownID: 77 });
  const other = await r.emu.otaNotify(GW_KEY, { ...base, SoftVer: "1.5.0", Module: "modem" });
  assert.deepEqual(other.payload, { DownID: 77 });
  await r.emu.otaNotify(GW_KEY, { ...base, SoftVer: "1.5.0", MD5: "xyz" });
  assert.equal(r.core.firmware.length, 0);
  await r.emu.otaNotify(GW_KEY, { ...base, SoftVer: "1.5.0", DownID: "d-9" });
  await r.emu.waitFor(() => r.core.firmware.length === 1, 3000, "firmware offer");
  assert.deepEqual(r.core.firmware[0], { version: "1.5.0", url: base.Url, size: 10, digest: base.MD5.toLowerCase(), digestMethod: "md5" });
  const field = await r.emu.otaNotify(M0, { ...base, SoftVer: "9" });
  assert.deepEqual(field.payload, { DownID: 77 });
  assert.equal(r.core.firmware.length, 1);
});
