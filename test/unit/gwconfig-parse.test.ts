import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadGatewayDocument, parseGatewayConfig, type ParseContext, type Problem } from "../../src/config/gateway/index.js";
import type { ModbusRtuChannelSpec, OpcuaChannelSpec } from "../../src/config/gateway/model.js";
import { modbusDoc } from "../helpers/gwdoc.js";

const root = new URL("../../", import.meta.url);
const read = (p: string): Buffer => readFileSync(new URL(p, root));
const ctx: ParseContext = { serialPorts: { "0": "/dev/ttyUSB0" }, gatewayDeviceSecret: "0123456789abcdef0123456789abcdef" };
const errors = (ps: Problem[]): Problem[] => ps.filter((p) => p.severity === "error");

test("the example config is valid: no problem at all, everything runs", () => {
  const r = loadGatewayDocument(read("config/gateway-config.example.json"), ctx);
  assert.equal(r.fatal, false);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.config.channels.map((c) => c.protocol), ["modbus-tcp", "modbus-rtu", "opcua"]);
  assert.deepEqual(r.config.devices.map((d) => d.key), [
    "a1EnvMeter/env-meter-01",
    "a1EnvMeter/env-meter-02",
    "a1PumpCtrl/pump-01",
    "a1BoilerUa/boiler-01",
  ]);
  const rtu = r.config.channels[1] as ModbusRtuChannelSpec;
  assert.equal(rtu.path, "/dev/ttyUSB0");
  assert.equal(rtu.parity, "even");
  const ua = r.config.channels[2] as OpcuaChannelSpec;
  assert.equal(ua.password, "boiler-s3cret");
  assert.equal(ua.securityPolicy, "Basic256Sha256");
  assert.equal(ua.securityMode, "SignAndEncrypt");
  assert.equal(ua.timeoutMs, 10_000);
  const doc = JSON.parse(read("config/gateway-config.example.json").toString("utf8"));
  assert.equal(ua.passwordCipher, doc.serverList[2].password);
  const setpoint = r.config.devices[0]!.modbus!.points.find((p) => p.identifier === "setpoint")!;
  assert.deepEqual(
    { address: setpoint.address, rawType: setpoint.rawType, registerCount: setpoint.registerCount, tslType: setpoint.tslType },
    { address: 0x11, rawType: "int16", registerCount: 1, tslType: "int" },
  );
  assert.deepEqual(Object.keys(r.config.products).sort(), ["a1BoilerUa", "a1EnvMeter", "a1PumpCtrl"]);
});

test("the vendor document: exactly the four serverId mismatches and the two url errors", () => {
  const r = loadGatewayDocument(read("test/fixtures/gateway/vendor-example.json"), ctx);
  assert.equal(r.fatal, false);
  const errs = errors(r.problems);
  assert.deepEqual(
    errs.map((p) => p.path),
    [
      "serverList[2].url",
      "serverList[3].url",
      "deviceList[0].deviceConfig.serverId",
      "deviceList[1].deviceConfig.serverId",
      "deviceList[2].deviceConfig.serverId",
      "deviceList[3].deviceConfig.serverId",
    ],
  );
  const ids = ["44895C63E3FF4013924CEF31519ABE7B", "55A9D276A7ED47", "D73251B4277742D", "586CB066D6A34E"];
  ids.forEach((id, i) => assert.equal(errs[2 + i]!.message, `no serverList entry "${id}"`));
  assert.match(errs[0]!.message, /"tcp:00" is not an opc\.tcp:/);
  // the valid parts still run: both Modbus channels, no device
  assert.deepEqual(r.config.channels.map((c) => c.serverId), ["D73251B4277742", "586CB066D6A34"]);
  assert.equal(r.config.devices.length, 0);
});

test("the corrected vendor document: only the url errors; the Modbus devices run", () => {
  const r = loadGatewayDocument(read("test/fixtures/gateway/vendor-corrected.json"), ctx);
  assert.deepEqual(errors(r.problems).map((p) => p.path), ["serverList[2].url", "serverList[3].url"]);
  assert.deepEqual(r.config.devices.map((d) => d.key), ["test02/test01", "test02/test02"]);
  const [rtuDevice, tcpDevice] = r.config.devices;
  assert.equal(rtuDevice!.serverId, "D73251B4277742");
  assert.equal(tcpDevice!.serverId, "586CB066D6A34");
  assert.deepEqual(
    rtuDevice!.modbus!.points.map((p) => [p.identifier, p.operateType, p.address, p.trigger]),
    [["test01", "inputStatus", 3, 1], ["test02", "coilStatus", 5, 2]],
  );
  // the OPC UA devices are disabled because their channels are: said as warnings, not as errors of their own
  const disabled = r.problems.filter((p) => p.path === "deviceList[0].deviceConfig.serverId" || p.path === "deviceList[1].deviceConfig.serverId");
  assert.deepEqual(disabled.map((p) => p.severity), ["warning", "warning"]);
  // the integer parity of the seed is interpreted with a warning
  assert.ok(r.problems.some((p) => p.path === "serverList[0].parity" && p.severity === "warning"));
});

test("invalid JSON and invalid UTF-8 are fatal problems at $", () => {
  const bad = loadGatewayDocument(Buffer.from('{"serverList": [ }'), ctx);
  assert.equal(bad.fatal, true);
  assert.equal(bad.problems.length, 1);
  assert.equal(bad.problems[0]!.path, "$");
  assert.match(bad.problems[0]!.message, /^invalid JSON: /);
  assert.deepEqual(bad.config, { channels: [], devices: [], products: {} });
  const utf = loadGatewayDocument(Buffer.from([0x7b, 0xff, 0x7d]), ctx);
  assert.equal(utf.fatal, true);
  assert.match(utf.problems[0]!.message, /UTF-8/);
});

test("a JSON syntax error does not quote the document (it may hold encrypted passwords)", () => {
  const r = loadGatewayDocument(Buffer.from('{"serverList": [{"password": "c2VjcmV0Q2lwaGVy" oops}]}'), ctx);
  assert.equal(r.fatal, true);
  assert.ok(!r.problems[0]!.message.includes("c2VjcmV0Q2lwaGVy"));
  assert.match(r.problems[0]!.message, /line 1 column \d+/);
});

test("a UTF-8 byte order mark is accepted", () => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), read("test/fixtures/gateway/vendor-corrected.json")]);
  const r = loadGatewayDocument(bytes, ctx);
  assert.equal(r.fatal, false);
  assert.equal(r.config.devices.length, 2);
});

test("fatal only for a non-object document or a top-level list of an impossible type; all such problems reported", () => {
  for (const doc of [null, [], "text", 42]) {
    const r = parseGatewayConfig(doc, ctx);
    assert.equal(r.fatal, true);
    assert.equal(r.problems[0]!.path, "$");
  }
  const r = parseGatewayConfig({ serverList: "x", deviceList: 3, modelList: [], tslList: null }, ctx);
  assert.equal(r.fatal, true);
  assert.deepEqual(errors(r.problems).map((p) => p.path), ["serverList", "deviceList", "tslList"]);
  const empty = parseGatewayConfig({}, ctx);
  assert.equal(empty.fatal, false);
  assert.deepEqual(empty.problems, []);
});

test("every problem is reported, not only the first", () => {
  const doc = JSON.parse(read("config/gateway-config.example.json").toString("utf8"));
  doc.serverList[0].port = 70000;
  doc.serverList[1].byteSize = 9;
  doc.serverList[2].url = "http://127.0.0.1:4840";
  doc.deviceList[0].deviceName = "x";
  doc.modelList[0].properties[0].registerAddress = "0x10000";
  doc.modelList[0].properties[1].scaling = 0;
  doc.tslList[1].properties[0].dataType.type = "decimal";
  const r = parseGatewayConfig(doc, ctx);
  assert.equal(r.fatal, false);
  const paths = errors(r.problems).map((p) => p.path);
  for (const p of [
    "serverList[0].port",
    "serverList[1].byteSize",
    "serverList[2].url",
    "deviceList[0].deviceName",
    "modelList[0].properties[0].registerAddress",
    "modelList[0].properties[1].scaling",
    "tslList[1].properties[0].dataType.type",
  ]) {
    assert.ok(paths.includes(p), `missing ${p} in ${paths.join(", ")}`);
  }
  // every channel is broken, so no device runs
  assert.equal(r.config.channels.length, 0);
  assert.equal(r.config.devices.length, 0);
});

test("devices of one model and polling time share one frozen point list; another polling time gets its own", () => {
  const doc = modbusDoc({ devices: 3, points: 2 });
  (doc.deviceList as Array<{ deviceConfig: Record<string, unknown> }>)[2]!.deviceConfig.pollingTime = 5000;
  for (const p of (doc.modelList as Array<{ properties: Array<Record<string, unknown>> }>)[0]!.properties) delete p.pollingTime;
  const r = parseGatewayConfig(doc, ctx);
  assert.equal(r.fatal, false, JSON.stringify(errors(r.problems)));
  const [a, b, c] = r.config.devices.map((d) => d.modbus!.points);
  assert.equal(a, b, "same model, same polling time: one list");
  assert.notEqual(a, c, "a device's own polling time: its own list");
  assert.deepEqual(a!.map((p) => p.pollingMs), a!.map(() => 1000));
  assert.deepEqual(c!.map((p) => p.pollingMs), c!.map(() => 5000));
  assert.ok(Object.isFrozen(a) && a!.every((p) => Object.isFrozen(p)), "shared, so read-only");
  assert.throws(() => {
    (a![0] as { pollingMs: number }).pollingMs = 1;
  }, TypeError);
});
