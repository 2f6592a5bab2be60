import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  diffGatewayConfig,
  parseGatewayConfig,
  summarizeDiff,
  type GatewayConfig,
  type GatewayConfigDiff,
  type ParseContext,
} from "../../src/config/gateway/index.js";
import type { OpcuaChannelSpec } from "../../src/config/gateway/model.js";

const ctx: ParseContext = { serialPorts: { "0": "/dev/ttyUSB0" }, gatewayDeviceSecret: "0123456789abcdef0123456789abcdef" };
const example = JSON.parse(readFileSync(new URL("../../config/gateway-config.example.json", import.meta.url), "utf8"));

function build(mutate: (doc: any) => void = () => undefined): GatewayConfig {
  const doc = structuredClone(example);
  mutate(doc);
  const r = parseGatewayConfig(doc, ctx);
  assert.deepEqual(r.problems.filter((p) => p.severity === "error"), []);
  return r.config;
}
const kinds = (d: GatewayConfigDiff, what: "channels" | "devices"): Record<string, string> =>
  Object.fromEntries(d[what].map((c) => ["serverId" in c ? c.serverId : c.key, c.kind]));
const reasons = (d: GatewayConfigDiff): Record<string, string[]> => Object.fromEntries(d.devices.map((c) => [c.key, c.reasons]));

const TCP_ID = "5F1C0A2E9B7D4C1A8E3F6B2D9C4A7E10";
const RTU_ID = "A93E7C215D8B4F06B1C2D3E4F5A6B7C8";
const UA_ID = "C0FFEE00112233445566778899AABBCC";

test("from nothing, everything is added", () => {
  const d = diffGatewayConfig(null, build());
  assert.deepEqual(Object.values(kinds(d, "channels")), ["added", "added", "added"]);
  assert.deepEqual(Object.values(kinds(d, "devices")), ["added", "added", "added", "added"]);
  assert.equal(d.changed, true);
});

test("the same document, parsed twice and with keys in another order, is unchanged", () => {
  const reordered = build((doc) => {
    doc.serverList[0] = Object.fromEntries(Object.entries(doc.serverList[0]).reverse());
    doc.tslList[1].properties[0].dataType.specs = Object.fromEntries(Object.entries(doc.tslList[1].properties[0].dataType.specs).reverse());
  });
  const d = diffGatewayConfig(build(), reordered);
  assert.equal(d.changed, false);
  assert.ok(d.channels.every((c) => c.kind === "unchanged"));
  assert.ok(d.devices.every((c) => c.kind === "unchanged" && c.reasons.length === 0));
});

test("specs that differ only in key order are unchanged", () => {
  const prev = build();
  const next = structuredClone(prev);
  const reverse = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T;
  next.channels = next.channels.map(reverse);
  next.devices[0]!.modbus!.points = next.devices[0]!.modbus!.points.map(reverse);
  next.devices[0] = reverse(next.devices[0]!);
  const d = diffGatewayConfig(prev, next);
  assert.equal(d.changed, false);
  // and a real change in such a reordered spec is still seen
  next.devices[0]!.modbus!.points[0]!.scaling = 2;
  assert.deepEqual(reasons(diffGatewayConfig(prev, next))["a1EnvMeter/env-meter-01"], ["mapping"]);
});

test("a changed channel restarts with all its devices; other channels and devices are untouched", () => {
  const d = diffGatewayConfig(build(), build((doc) => (doc.serverList[0].port = 1503)));
  assert.deepEqual(kinds(d, "channels"), { [TCP_ID]: "changed", [RTU_ID]: "unchanged", [UA_ID]: "unchanged" });
  assert.deepEqual(reasons(d), {
    "a1EnvMeter/env-meter-01": ["channel"],
    "a1EnvMeter/env-meter-02": ["channel"],
    "a1PumpCtrl/pump-01": [],
    "a1BoilerUa/boiler-01": [],
  });
  assert.deepEqual(summarizeDiff(d).devices, { added: 0, removed: 0, changed: 2, unchanged: 2 });
});

test("a TSL change of one product changes only that product's devices", () => {
  const d = diffGatewayConfig(build(), build((doc) => (doc.tslList[1].properties[4].dataType.specs.max = "120")));
  assert.ok(d.channels.every((c) => c.kind === "unchanged"));
  assert.deepEqual(kinds(d, "devices"), {
    "a1EnvMeter/env-meter-01": "unchanged",
    "a1EnvMeter/env-meter-02": "unchanged",
    "a1PumpCtrl/pump-01": "changed",
    "a1BoilerUa/boiler-01": "unchanged",
  });
  assert.deepEqual(reasons(d)["a1PumpCtrl/pump-01"], ["tsl"]);
});

test("a mapping change of a product changes all its devices; a device's own change only that device", () => {
  const mapping = diffGatewayConfig(build(), build((doc) => (doc.modelList[0].properties[0].pollingTime = 2000)));
  assert.deepEqual(reasons(mapping), {
    "a1EnvMeter/env-meter-01": ["mapping"],
    "a1EnvMeter/env-meter-02": ["mapping"],
    "a1PumpCtrl/pump-01": [],
    "a1BoilerUa/boiler-01": [],
  });
  const own = diffGatewayConfig(build(), build((doc) => (doc.deviceList[1].deviceConfig.slaveId = 5)));
  assert.deepEqual(kinds(own, "devices"), {
    "a1EnvMeter/env-meter-01": "unchanged",
    "a1EnvMeter/env-meter-02": "changed",
    "a1PumpCtrl/pump-01": "unchanged",
    "a1BoilerUa/boiler-01": "unchanged",
  });
  assert.deepEqual(reasons(own)["a1EnvMeter/env-meter-02"], ["device"]);
});

test("added and removed channels and devices", () => {
  const next = build((doc) => {
    doc.serverList.splice(1, 1); // RTU line gone
    doc.deviceList.splice(2, 1); // and its pump
    doc.serverList.push({ protocol: "TCP", serverId: "NEWLINE2", name: "line-2-tcp", ip: "127.0.0.1", port: 1602 });
    doc.deviceList.push({ productKey: "a1EnvMeter", deviceName: "env-meter-03", deviceConfig: { serverId: "NEWLINE2", slaveId: 1 } });
  });
  const d = diffGatewayConfig(build(), next);
  assert.deepEqual(kinds(d, "channels"), { [TCP_ID]: "unchanged", [UA_ID]: "unchanged", NEWLINE2: "added", [RTU_ID]: "removed" });
  assert.deepEqual(kinds(d, "devices"), {
    "a1EnvMeter/env-meter-01": "unchanged",
    "a1EnvMeter/env-meter-02": "unchanged",
    "a1BoilerUa/boiler-01": "unchanged",
    "a1EnvMeter/env-meter-03": "added",
    "a1PumpCtrl/pump-01": "removed",
  });
  const removed = d.devices.find((c) => c.kind === "removed")!;
  assert.equal(removed.prev?.key, "a1PumpCtrl/pump-01");
  assert.equal(removed.next, undefined);
});

test("passwords are compared by their encrypted form only", () => {
  const prev = build();
  const samePlainOtherCipher = structuredClone(prev);
  (samePlainOtherCipher.channels[2] as OpcuaChannelSpec).passwordCipher = "AAAAAAAAAAAAAAAAAAAAAA==";
  assert.equal(kinds(diffGatewayConfig(prev, samePlainOtherCipher), "channels")[UA_ID], "changed");

  const otherPlainSameCipher = structuredClone(prev);
  (otherPlainSameCipher.channels[2] as OpcuaChannelSpec).password = "something else";
  assert.equal(kinds(diffGatewayConfig(prev, otherPlainSameCipher), "channels")[UA_ID], "unchanged");
});
