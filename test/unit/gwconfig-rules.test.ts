/** One failing case (and where useful a passing one) for each validation rule of alink.md 5.8 and C1-C29. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { encryptOpcuaPassword, parseGatewayConfig, type ParseContext, type ParseResult } from "../../src/config/gateway/index.js";
import type { ModbusRtuChannelSpec, ModbusTcpChannelSpec, OpcuaChannelSpec } from "../../src/config/gateway/model.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const ctx: ParseContext = { serialPorts: { "0": "/dev/ttyUSB0" }, gatewayDeviceSecret: SECRET };
const example = JSON.parse(readFileSync(new URL("../../config/gateway-config.example.json", import.meta.url), "utf8"));
const TCP = 0, RTU = 1, UA = 2;
const ENV = 0, PUMP = 1, BOILER = 2;

type Doc = any;
function run(mutate: (doc: Doc) => void, context: ParseContext = ctx): ParseResult {
  const doc = structuredClone(example);
  mutate(doc);
  return parseGatewayConfig(doc, context);
}
const errorsOf = (r: ParseResult): string[] => r.problems.filter((p) => p.severity === "error").map((p) => `${p.path}: ${p.message}`);
const warningsOf = (r: ParseResult): string[] => r.problems.filter((p) => p.severity === "warning").map((p) => `${p.path}: ${p.message}`);
const devices = (r: ParseResult): string[] => r.config.devices.map((d) => d.key);
const channels = (r: ParseResult): string[] => r.config.channels.map((c) => c.name);
const points = (r: ParseResult, key: string): string[] =>
  r.config.devices.find((d) => d.key === key)?.modbus?.points.map((p) => p.identifier) ?? [];

function onlyError(r: ParseResult, path: string, pattern: RegExp): void {
  const errs = errorsOf(r);
  assert.equal(errs.length, 1, errs.join("\n"));
  assert.ok(errs[0]!.startsWith(`${path}: `), errs[0]);
  assert.match(errs[0]!, pattern);
}

test("deviceList serverId must match a serverList entry exactly (no prefix match)", () => {
  const r = run((d) => (d.deviceList[2].deviceConfig.serverId = d.serverList[RTU].serverId.slice(0, -1)));
  onlyError(r, "deviceList[2].deviceConfig.serverId", /no serverList entry "A93E7C215D8B4F06B1C2D3E4F5A6B7C"/);
  assert.ok(!devices(r).includes("a1PumpCtrl/pump-01"));
  assert.equal(devices(r).length, 3);
  const lower = run((d) => (d.deviceList[2].deviceConfig.serverId = d.serverList[RTU].serverId.toLowerCase()));
  assert.equal(errorsOf(lower).length, 1);
});

test("a product needs a modelList entry and a tslList entry", () => {
  const noModel = run((d) => d.modelList.splice(PUMP, 1));
  onlyError(noModel, "deviceList[2].productKey", /no modelList entry for product "a1PumpCtrl"/);
  const noTsl = run((d) => d.tslList.splice(PUMP, 1));
  onlyError(noTsl, "deviceList[2].productKey", /no tslList entry for product "a1PumpCtrl"/);
  assert.deepEqual(devices(noTsl), ["a1EnvMeter/env-meter-01", "a1EnvMeter/env-meter-02", "a1BoilerUa/boiler-01"]);
});

test("every mapped identifier exists in the TSL", () => {
  const modbus = run((d) => (d.modelList[ENV].properties[0].identifier = "humidity"));
  onlyError(modbus, "modelList[0].properties[0].identifier", /no property "humidity" in the TSL of product "a1EnvMeter" \(tslList\[0\]\)/);
  assert.ok(!points(modbus, "a1EnvMeter/env-meter-01").includes("humidity"));
  assert.equal(points(modbus, "a1EnvMeter/env-meter-01").length, 5);

  const wrongKind = run((d) => (d.modelList[ENV].properties[0].identifier = "get"));
  onlyError(wrongKind, "modelList[0].properties[0].identifier", /"get" is a service .* not a property/);

  const uaProp = run((d) => (d.modelList[BOILER].properties[5].identifier = "nickname"));
  onlyError(uaProp, "modelList[2].properties[5].identifier", /no property "nickname"/);
  assert.equal(uaProp.config.devices[3]!.opcua!.properties.length, 5);

  const uaService = run((d) => (d.modelList[BOILER].services[0].identifier = "reboot"));
  onlyError(uaService, "modelList[2].services[0].identifier", /no service "reboot"/);
  assert.equal(uaService.config.devices[3]!.opcua!.services.length, 0);

  const uaParam = run((d) => (d.modelList[BOILER].services[0].inputData[0].identifier = "level"));
  onlyError(uaParam, "modelList[2].services[0].inputData[0].identifier", /no parameter "level" in the inputData of the TSL service "resetAlarm"/);
});

test("register addresses: hex, decimal string or number, 0..65535", () => {
  const parsed = run((d) => {
    d.modelList[ENV].properties[0].registerAddress = "0X1f";
    d.modelList[ENV].properties[1].registerAddress = "100";
    d.modelList[ENV].properties[2].registerAddress = 7;
  });
  assert.deepEqual(errorsOf(parsed), []);
  const addr = (id: string): number => parsed.config.devices[0]!.modbus!.points.find((p) => p.identifier === id)!.address;
  assert.deepEqual([addr("temperature"), addr("pressure"), addr("status")], [31, 100, 7]);

  onlyError(run((d) => (d.modelList[ENV].properties[0].registerAddress = "0x10000")), "modelList[0].properties[0].registerAddress", /outside 0\.\.65535/);
  onlyError(run((d) => (d.modelList[ENV].properties[0].registerAddress = 70000)), "modelList[0].properties[0].registerAddress", /outside 0\.\.65535/);
  onlyError(run((d) => (d.modelList[ENV].properties[0].registerAddress = "40001h")), "modelList[0].properties[0].registerAddress", /hex string/);
  // a float (2 registers) at the last address runs past the register space
  onlyError(run((d) => (d.modelList[ENV].properties[0].registerAddress = "0xFFFF")), "modelList[0].properties[0].registerAddress", /run past 65535/);
});

test("registerCount must match the type width (C11)", () => {
  onlyError(
    run((d) => (d.modelList[ENV].properties[0].originalDataType.specs.registerCount = 1)),
    "modelList[0].properties[0].originalDataType.specs.registerCount",
    /float takes 2 registers, not 1/,
  );
  onlyError(
    run((d) => delete d.modelList[ENV].properties[5].originalDataType.specs.registerCount),
    "modelList[0].properties[5].originalDataType.specs.registerCount",
    /is required for string/,
  );
  onlyError(
    run((d) => (d.modelList[ENV].properties[3].originalDataType.specs.registerCount = 2)),
    "modelList[0].properties[3].originalDataType.specs.registerCount",
    /must be 1 for a coilStatus bit/,
  );
  const natural = run((d) => delete d.modelList[ENV].properties[1].originalDataType.specs.registerCount);
  assert.deepEqual(errorsOf(natural), []);
  assert.equal(natural.config.devices[0]!.modbus!.points[1]!.registerCount, 4);
});

test("bit tables (coilStatus, inputStatus) take only bool (C8)", () => {
  onlyError(
    run((d) => (d.modelList[ENV].properties[3].originalDataType.type = "int16")),
    "modelList[0].properties[3].originalDataType.type",
    /coilStatus points are single bits; only bool fits/,
  );
  const boolOnRegister = run((d) => {
    d.modelList[ENV].properties[2].originalDataType.type = "bool";
  });
  assert.deepEqual(errorsOf(boolOnRegister), []);
});

test("customized data only into a text property", () => {
  const intoInt = run((d) => (d.modelList[ENV].properties[4].originalDataType = { type: "customized data", specs: { registerCount: 2 } }));
  onlyError(intoInt, "modelList[0].properties[4].originalDataType.type", /customized data can only feed a text property; "setpoint" is int/);
  const intoText = run((d) => (d.modelList[ENV].properties[5].originalDataType = { type: "customized data", specs: { registerCount: 4 } }));
  assert.deepEqual(errorsOf(intoText), []);
  const p = intoText.config.devices[0]!.modbus!.points.find((x) => x.identifier === "name")!;
  assert.deepEqual([p.rawType, p.registerCount, p.tslType], ["customized data", 4, "text"]);
});

test("raw type and TSL type must be compatible (C27)", () => {
  onlyError(
    run((d) => (d.modelList[ENV].properties[4].originalDataType = { type: "string", specs: { registerCount: 2 } })),
    "modelList[0].properties[4].originalDataType.type",
    /raw type string cannot feed the int property "setpoint"/,
  );
  onlyError(
    run((d) => (d.modelList[ENV].properties[5].originalDataType = { type: "uint16", specs: { registerCount: 1 } })),
    "modelList[0].properties[5].originalDataType.type",
    /raw type uint16 cannot feed the text property "name"/,
  );
  onlyError(
    run((d) => (d.modelList[ENV].properties[2].originalDataType = { type: "float", specs: { registerCount: 2 } })),
    "modelList[0].properties[2].originalDataType.type",
    /raw type float cannot feed the enum property "status"/,
  );
});

test("scaling is finite and non-zero; pollingTime >= 1 with < 100 ms clamped; trigger is 1 or 2", () => {
  onlyError(run((d) => (d.modelList[ENV].properties[0].scaling = 0)), "modelList[0].properties[0].scaling", /finite non-zero/);
  onlyError(run((d) => (d.modelList[ENV].properties[0].scaling = "10")), "modelList[0].properties[0].scaling", /finite non-zero/);
  onlyError(run((d) => (d.modelList[ENV].properties[0].pollingTime = 0)), "modelList[0].properties[0].pollingTime", /at least 1 ms/);
  onlyError(run((d) => (d.modelList[ENV].properties[0].trigger = 3)), "modelList[0].properties[0].trigger", /must be 1 .* or 2/);

  const clamped = run((d) => (d.modelList[ENV].properties[0].pollingTime = 20));
  assert.deepEqual(errorsOf(clamped), []);
  assert.deepEqual(warningsOf(clamped), ["modelList[0].properties[0].pollingTime: 20 ms is below the 100 ms minimum; polled every 100 ms"]);
  assert.equal(clamped.config.devices[0]!.modbus!.points[0]!.pollingMs, 100);

  const fractional = run((d) => (d.modelList[PUMP].properties[0].scaling = 0.25));
  assert.equal(fractional.config.devices[2]!.modbus!.points[0]!.scaling, 0.25);
});

test("an invalid point disables only that point; an invalid device only that device", () => {
  const badPoint = run((d) => (d.modelList[ENV].properties[1].operateType = "holdingRegisters"));
  onlyError(badPoint, "modelList[0].properties[1].operateType", /must be coilStatus, inputStatus, holdingRegister or inputRegister/);
  assert.deepEqual(points(badPoint, "a1EnvMeter/env-meter-02"), ["temperature", "status", "running", "setpoint", "name"]);
  assert.equal(devices(badPoint).length, 4);

  const badDevice = run((d) => (d.deviceList[1].deviceConfig.slaveId = 300));
  onlyError(badDevice, "deviceList[1].deviceConfig.slaveId", /slave id 300 is outside 1\.\.247/);
  assert.deepEqual(devices(badDevice), ["a1EnvMeter/env-meter-01", "a1PumpCtrl/pump-01", "a1BoilerUa/boiler-01"]);
  assert.equal(channels(badDevice).length, 3);
});

test("Modbus devices need a slave id (1..247 on RTU and TCP, alink.md 5.8); OPC UA devices a displayNamePath", () => {
  onlyError(run((d) => delete d.deviceList[0].deviceConfig.slaveId), "deviceList[0].deviceConfig.slaveId", /is required for a Modbus device/);
  onlyError(run((d) => (d.deviceList[2].deviceConfig.slaveId = 0)), "deviceList[2].deviceConfig.slaveId", /outside 1\.\.247/);
  // deviceList[0] is on the TCP channel: 0 and 248 are refused there too, and the device is left out
  for (const id of [0, 248, 255]) {
    const r = run((d) => (d.deviceList[0].deviceConfig.slaveId = id));
    onlyError(r, "deviceList[0].deviceConfig.slaveId", new RegExp(`slave id ${id} is outside 1\\.\\.247`));
    assert.ok(!devices(r).includes("a1EnvMeter/env-meter-01"));
  }
  for (const id of [1, 247]) assert.deepEqual(errorsOf(run((d) => (d.deviceList[0].deviceConfig.slaveId = id))), []);
  onlyError(run((d) => delete d.deviceList[3].deviceConfig.displayNamePath), "deviceList[3].deviceConfig.displayNamePath", /is required for an OPC UA device/);
});

test("serverIds are unique: a duplicated id disables every channel that has it", () => {
  const r = run((d) => (d.serverList[RTU].serverId = d.serverList[TCP].serverId));
  const errs = errorsOf(r);
  assert.equal(errs.length, 3, errs.join("\n"));
  assert.match(errs[0]!, /^serverList\[0\]\.serverId: serverId "5F1C0A2E9B7D4C1A8E3F6B2D9C4A7E10" is used more than once \(also serverList\[1\]\)/);
  assert.match(errs[1]!, /^serverList\[1\]\.serverId: .*also serverList\[0\]/);
  // the pump still points at the RTU line's old id
  assert.match(errs[2]!, /^deviceList\[2\]\.deviceConfig\.serverId: no serverList entry/);
  // the env meters point at the duplicated id: disabled with their channel, as warnings
  assert.ok(warningsOf(r).some((w) => w.startsWith("deviceList[0].deviceConfig.serverId: channel") && /disabled/.test(w)));
  assert.deepEqual(channels(r), ["boiler-opcua"]);
  assert.deepEqual(devices(r), ["a1BoilerUa/boiler-01"]);
});

test("(productKey, deviceName) pairs are unique and DeviceNames follow the naming rule", () => {
  const dup = run((d) => (d.deviceList[1].deviceName = "env-meter-01"));
  assert.deepEqual(
    errorsOf(dup).map((e) => e.split(":")[0]),
    ["deviceList[0].deviceName", "deviceList[1].deviceName"],
  );
  assert.ok(!devices(dup).includes("a1EnvMeter/env-meter-01"));
  for (const name of ["ab", "has space", "x".repeat(33), "bad/slash"]) {
    const r = run((d) => (d.deviceList[0].deviceName = name));
    onlyError(r, "deviceList[0].deviceName", /4 to 32 characters/);
  }
  assert.deepEqual(errorsOf(run((d) => (d.deviceList[0].deviceName = "a-b_c@d.e:f"))), []);
});

test("RTU: serialPort through serialPorts or an absolute path; data bits 5..8; stop bits 1|2", () => {
  const unmapped = run((d) => (d.serverList[RTU].serialPort = "3"));
  onlyError(unmapped, "serverList[1].serialPort", /"3" is not in the bootstrap serialPorts map/);
  assert.ok(!channels(unmapped).includes("rs485-bus-0"));
  assert.ok(!devices(unmapped).includes("a1PumpCtrl/pump-01"));

  const absolute = run((d) => (d.serverList[RTU].serialPort = "/dev/ttyS1"));
  assert.equal((absolute.config.channels[1] as ModbusRtuChannelSpec).path, "/dev/ttyS1");
  const numeric = run((d) => (d.serverList[RTU].serialPort = 0));
  assert.equal((numeric.config.channels[1] as ModbusRtuChannelSpec).path, "/dev/ttyUSB0");

  onlyError(run((d) => (d.serverList[RTU].byteSize = 9)), "serverList[1].byteSize", /5 to 8/);
  onlyError(run((d) => (d.serverList[RTU].stopBits = 3)), "serverList[1].stopBits", /must be 1 or 2/);
  onlyError(run((d) => delete d.serverList[RTU].baudRate), "serverList[1].baudRate", /is required/);
});

test("parity: letters and words in any case; integers 0/1/2 with a warning; others refused", () => {
  const cases: Array<[unknown, string, boolean]> = [
    ["E", "even", false], ["o", "odd", false], ["N", "none", false], ["Even", "even", false], ["NONE", "none", false],
    [0, "none", true], [1, "odd", true], [2, "even", true],
  ];
  for (const [value, parity, warns] of cases) {
    const r = run((d) => (d.serverList[RTU].parity = value));
    assert.deepEqual(errorsOf(r), [], String(value));
    assert.equal((r.config.channels[1] as ModbusRtuChannelSpec).parity, parity, String(value));
    assert.equal(warningsOf(r).some((w) => w.startsWith("serverList[1].parity: numeric parity")), warns, String(value));
  }
  onlyError(run((d) => (d.serverList[RTU].parity = "X")), "serverList[1].parity", /not N, E, O/);
  onlyError(run((d) => (d.serverList[RTU].parity = 3)), "serverList[1].parity", /not N, E, O/);
});

test("TCP: a valid host, port 1..65535, default port 502", () => {
  const noPort = run((d) => delete d.serverList[TCP].port);
  assert.equal((noPort.config.channels[0] as ModbusTcpChannelSpec).port, 502);
  const named = run((d) => (d.serverList[TCP].ip = "plc-1.plant.local"));
  assert.equal((named.config.channels[0] as ModbusTcpChannelSpec).host, "plc-1.plant.local");
  onlyError(run((d) => (d.serverList[TCP].ip = "not a host!")), "serverList[0].ip", /not a valid IP address or host name/);
  onlyError(run((d) => (d.serverList[TCP].ip = "192.168.0.300")), "serverList[0].ip", /not a valid IP address/);
  onlyError(run((d) => (d.serverList[TCP].port = 0)), "serverList[0].port", /1 to 65535/);
});

test("a server protocol other than RTU, TCP or OPC UA is refused", () => {
  onlyError(run((d) => (d.serverList[TCP].protocol = "UDP")), "serverList[0].protocol", /"UDP" is not RTU, TCP or OPC UA/);
  onlyError(run((d) => delete d.serverList[TCP].protocol), "serverList[0].protocol", /is required/);
  const explicitUa = run((d) => (d.serverList[UA].protocol = "opc-ua"));
  assert.deepEqual(errorsOf(explicitUa), []);
});

test("OPC UA: opc.tcp:// url, secMode/secPolicy consistency, newer policies, timeout seconds", () => {
  onlyError(run((d) => (d.serverList[UA].url = "https://127.0.0.1:4840")), "serverList[2].url", /not an opc\.tcp:/);
  onlyError(run((d) => (d.serverList[UA].secMode = "None")), "serverList[2].secPolicy", /Basic256Sha256 needs secMode Sign or SignAndEncrypt/);
  onlyError(run((d) => (d.serverList[UA].secPolicy = "None")), "serverList[2].secPolicy", /secMode SignAndEncrypt needs a security policy/);
  onlyError(run((d) => delete d.serverList[UA].secPolicy), "serverList[2].secPolicy", /needs a security policy/);
  onlyError(run((d) => (d.serverList[UA].secPolicy = "Basic512")), "serverList[2].secPolicy", /must be None, Basic128Rsa15/);
  onlyError(run((d) => (d.serverList[UA].timeout = 0)), "serverList[2].timeout", /greater than 0/);
  for (const policy of ["Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss", "Basic256Sha256"]) {
    const r = run((d) => (d.serverList[UA].secPolicy = policy));
    assert.deepEqual(errorsOf(r), [], policy);
    assert.equal((r.config.channels[2] as OpcuaChannelSpec).securityPolicy, policy);
  }
  const insecure = run((d) => {
    d.serverList[UA].secMode = "None";
    d.serverList[UA].secPolicy = "None";
    d.serverList[UA].timeout = 2.5;
  });
  assert.deepEqual(errorsOf(insecure), []);
  assert.equal((insecure.config.channels[2] as OpcuaChannelSpec).timeoutMs, 2500);
  const deprecated = run((d) => (d.serverList[UA].secPolicy = "Basic128Rsa15"));
  assert.deepEqual(errorsOf(deprecated), []);
  assert.ok(warningsOf(deprecated).some((w) => /deprecated/.test(w)));
});

test("a password that does not decrypt fails that one channel, without secret or ciphertext in the message", () => {
  const otherCipher = encryptOpcuaPassword("boiler-s3cret", "fedcba9876543210fedcba9876543210");
  const r = run((d) => (d.serverList[UA].password = otherCipher));
  const errs = errorsOf(r);
  assert.equal(errs.length, 1, errs.join("\n"));
  assert.match(errs[0]!, /^serverList\[2\]\.password: credential error: /);
  assert.ok(!errs[0]!.includes(SECRET) && !errs[0]!.includes(otherCipher) && !errs[0]!.includes("boiler-s3cret"));
  assert.deepEqual(channels(r), ["line-1-tcp", "rs485-bus-0"]);
  assert.equal(devices(r).length, 3);

  const badKey = parseGatewayConfig(structuredClone(example), { ...ctx, gatewayDeviceSecret: "short-secret" });
  const keyErrs = errorsOf(badKey);
  assert.equal(keyErrs.length, 1);
  assert.match(keyErrs[0]!, /serverList\[2\]\.password: credential error: .*16, 24 or 32 bytes/);
  assert.ok(!keyErrs[0]!.includes("short-secret"));

  const anonymous = run((d) => {
    delete d.serverList[UA].userName;
    d.serverList[UA].password = "garbage";
  });
  assert.deepEqual(errorsOf(anonymous), []);
  assert.equal((anonymous.config.channels[2] as OpcuaChannelSpec).password, undefined);
});

test("a single object where a list is expected is wrapped with a warning (C26); outputData \"\" is empty (C17)", () => {
  const r = run((d) => {
    d.serverList = d.serverList[TCP];
    d.deviceList = d.deviceList.slice(0, 2);
    d.modelList[BOILER].services = d.modelList[BOILER].services[0];
    d.tslList[PUMP].services[0].outputData = "";
  });
  assert.deepEqual(errorsOf(r), []);
  assert.deepEqual(warningsOf(r), [
    "modelList[2].services: a single object where a list is expected; read as a one-element list",
    "serverList: a single object where a list is expected; read as a one-element list",
  ]);
  assert.deepEqual(channels(r), ["line-1-tcp"]);
  assert.equal(devices(r).length, 2);
});

test("a product's mapping must fit its channel's protocol, and a model must not mix protocols (C20)", () => {
  const mismatch = run((d) => (d.deviceList[3].productKey = "a1EnvMeter"));
  onlyError(mismatch, "deviceList[3].productKey", /product "a1EnvMeter" is mapped for Modbus \(modelList\[0\]\) but channel "C0FFEE00112233445566778899AABBCC" is OPC UA/);
  const mixed = run((d) => d.modelList[ENV].properties.push({ identifier: "pressure", displayName: "Pressure" }));
  const errs = errorsOf(mixed);
  assert.equal(errs.length, 1, errs.join("\n"));
  assert.match(errs[0]!, /^modelList\[0\]: mixes Modbus points/);
  assert.deepEqual(devices(mixed), ["a1PumpCtrl/pump-01", "a1BoilerUa/boiler-01"]);
  // an entry with only an identifier in a Modbus product is a broken point, not an OPC UA mapping
  const bare = run((d) => d.modelList[ENV].properties.push({ identifier: "pressure" }));
  assert.deepEqual(errorsOf(bare).map((e) => e.split(":")[0]).sort(), [
    "modelList[0].properties[1].identifier",
    "modelList[0].properties[6].identifier",
    "modelList[0].properties[6].operateType",
    "modelList[0].properties[6].originalDataType",
    "modelList[0].properties[6].registerAddress",
  ]);
  assert.deepEqual(points(bare, "a1EnvMeter/env-meter-01"), ["temperature", "status", "running", "setpoint", "name"]);
});

test("a writable TSL property on a read-only table is a warning", () => {
  const r = run((d) => {
    d.modelList[ENV].properties[4].operateType = "inputRegister";
  });
  assert.deepEqual(errorsOf(r), []);
  assert.deepEqual(warningsOf(r), [
    'modelList[0].properties[4].operateType: "setpoint" is writable in the TSL but inputRegister is read-only; property sets will be refused',
  ]);
});

test("an invalid TSL disables its product's devices; duplicate products are refused", () => {
  const badTsl = run((d) => (d.tslList[PUMP].properties[0].dataType = { type: "decimal" }));
  onlyError(badTsl, "tslList[1].properties[0].dataType.type", /TSL type "decimal" is not one of/);
  assert.ok(!devices(badTsl).includes("a1PumpCtrl/pump-01"));
  assert.ok(!("a1PumpCtrl" in badTsl.config.products));

  const dupModel = run((d) => d.modelList.push(structuredClone(d.modelList[PUMP])));
  assert.deepEqual(errorsOf(dupModel).map((e) => e.split(":")[0]), ["modelList[1].profile.productKey", "modelList[3].profile.productKey"]);
  assert.ok(!devices(dupModel).includes("a1PumpCtrl/pump-01"));
});

test("a device-level pollingTime is the default for points without one (C15)", () => {
  const r = run((d) => {
    delete d.modelList[PUMP].properties[0].pollingTime;
    d.deviceList[2].deviceConfig.pollingTime = 250;
  });
  assert.deepEqual(errorsOf(r), []);
  const pts = r.config.devices[2]!.modbus!.points;
  assert.equal(pts[0]!.pollingMs, 250);
  assert.equal(pts[1]!.pollingMs, 1000);
});
