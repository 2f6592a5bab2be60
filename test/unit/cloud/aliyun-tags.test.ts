/** The platform's tag rules (alink.md 3.17, 4.5, P33) as the gateway checks them before sending, and `check`'s warning. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { tagProblem } from "../../../src/cloud/aliyun/tag-rules.js";
import { deviceTags, gatewayTags } from "../../../src/cloud/aliyun/tags.js";
import { validateBootstrapWithWarnings } from "../../../src/config/bootstrap/load.js";
import type { PlatformDevice } from "../../../src/cloud/platform.js";

test("tag keys: letters, digits and _, not starting with a digit, at most 100 bytes; values strings of at most 128 characters", () => {
  for (const ok of ["fbVersion", "_line", "A", "a_1", "x".repeat(100)]) assert.equal(tagProblem(ok, "v"), undefined, ok);
  for (const bad of ["1st", "line-3", "line 3", "", "é", "x".repeat(101), "a.b"]) assert.ok(tagProblem(bad, "v"), bad);
  assert.equal(tagProblem("k", "x".repeat(128)), undefined);
  assert.match(tagProblem("k", "x".repeat(129))!, /128/);
  assert.match(tagProblem("k", 3)!, /string/);
});

test("the gateway's and a sub-device's tags", () => {
  const g = gatewayTags("1.2.3", { line: "3" });
  assert.equal(g["fbVersion"], "1.2.3");
  assert.equal(g["fbNodeVersion"], process.version);
  assert.equal(g["line"], "3");
  for (const [k, v] of Object.entries(g)) assert.equal(tagProblem(k, v), undefined, k);
  const base = { key: "pk/dn", productKey: "pk", deviceName: "dn", tsl: undefined };
  const modbus = { ...base, spec: { key: "pk/dn", productKey: "pk", deviceName: "dn", serverId: "S1", modbus: { slaveId: 7, points: [] } } } as PlatformDevice;
  assert.deepEqual(deviceTags(modbus), { fbChannel: "S1", fbProtocol: "modbus", fbUnitId: "7" });
  const opcua = { ...base, spec: { key: "pk/dn", productKey: "pk", deviceName: "dn", serverId: "U1", opcua: { displayNamePath: "Plant/Line3/Meter", properties: [], services: [], events: [] } } } as PlatformDevice;
  assert.deepEqual(deviceTags(opcua), { fbChannel: "U1", fbProtocol: "opcua", fbOpcuaPath: "Plant/Line3/Meter" });
});

test("check warns about an aliyun.tags key that will not be sent", () => {
  const gateway = { productKey: "a1Gw", deviceName: "gw-0001", deviceSecret: "s" };
  const r = validateBootstrapWithWarnings({ gateway, aliyun: { tags: { line: "3", "line-no": "4" } } }, "/etc/fieldbridge");
  assert.deepEqual(r.warnings.map((w) => w.path), ["aliyun.tags.line-no"]);
  assert.deepEqual((r.config as unknown as { aliyun: unknown }).aliyun, { tags: { line: "3", "line-no": "4" } });
});
