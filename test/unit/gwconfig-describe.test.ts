import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describeGatewayConfig, loadGatewayDocument } from "../../src/config/gateway/index.js";
import type { OpcuaChannelSpec } from "../../src/config/gateway/model.js";

const ctx = { serialPorts: { "0": "/dev/ttyUSB0" }, gatewayDeviceSecret: "0123456789abcdef0123456789abcdef" };

test("describes channels, their devices and points, and never a password", () => {
  const r = loadGatewayDocument(readFileSync(new URL("../../config/gateway-config.example.json", import.meta.url)), ctx);
  const ua = r.config.channels[2] as OpcuaChannelSpec;
  const lines = describeGatewayConfig(r.config);
  assert.deepEqual(lines, [
    'channel 5F1C0A2E9B7D4C1A8E3F6B2D9C4A7E10 "line-1-tcp": Modbus TCP 127.0.0.1:1502',
    "  device a1EnvMeter/env-meter-01 (slave 1): 6 points, polling 1000 ms ×3, 500 ms, 2000 ms, 10000 ms",
    "  device a1EnvMeter/env-meter-02 (slave 2): 6 points, polling 1000 ms ×3, 500 ms, 2000 ms, 10000 ms",
    'channel A93E7C215D8B4F06B1C2D3E4F5A6B7C8 "rs485-bus-0": Modbus RTU /dev/ttyUSB0 9600 8E1',
    "  device a1PumpCtrl/pump-01 (slave 7): 5 points, polling 1000 ms ×4, 5000 ms",
    'channel C0FFEE00112233445566778899AABBCC "boiler-opcua": OPC UA opc.tcp://127.0.0.1:4840 (Basic256Sha256/SignAndEncrypt, user "fieldbridge", timeout 10 s)',
    '  device a1BoilerUa/boiler-01 at "Objects/Plant/Boiler1": 6 properties (sampling 500 ms ×2, driver default ×3, 10000 ms), 1 service, 0 events',
    "3 channels, 4 devices, 3 products (a1EnvMeter, a1PumpCtrl, a1BoilerUa)",
  ]);
  const text = lines.join("\n");
  assert.ok(!text.includes(ua.password!));
  assert.ok(!text.includes(ua.passwordCipher!));
});

test("a channel without devices and an empty config are described", () => {
  const r = loadGatewayDocument(readFileSync(new URL("../../test/fixtures/gateway/vendor-example.json", import.meta.url)), ctx);
  const lines = describeGatewayConfig(r.config);
  assert.deepEqual(lines, [
    'channel D73251B4277742 "modbus01": Modbus RTU /dev/ttyUSB0 1200 8O2',
    "  (no devices)",
    'channel 586CB066D6A34 "modbus02": Modbus TCP 192.168.0.1:8000',
    "  (no devices)",
    "2 channels, 0 devices, 2 products (test02, test01)",
  ]);
  assert.deepEqual(describeGatewayConfig({ channels: [], devices: [], products: {} }), ["0 channels, 0 devices, 0 products"]);
});
