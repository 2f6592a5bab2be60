/**
 * Hostile pushed gateway config documents through the whole path (emulator → MQTT → download → parse →
 * reply): each gets a 460 reply with a short, clear reason, and the running config stays.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, until } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY } from "../helpers/daemon.js";

test("deep nesting, a 1 MB string, a duplicate key and slave id 0 are each refused with a clear, short reply", async (t) => {
  const h = await startHarness({ tls: true, driver: { periodMs: 100 } });
  t.after(() => h.stop());
  h.emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  h.emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  const good = await h.emu.pushConfig(GATEWAY, modbusDoc({ devices: 1, points: 2 }));
  assert.equal(good.reply.code, 200, good.reply.message);
  const version = h.gw.configs.status().version;

  const huge = "Z".repeat(1_048_576);
  const withHugeServerId = modbusDoc({ devices: 1, points: 2 }) as { deviceList: Array<{ deviceConfig: Record<string, unknown> }> };
  withHugeServerId.deviceList[0]!.deviceConfig.serverId = huge;
  const slaveZero = modbusDoc({ devices: 1, points: 2 }) as { deviceList: Array<{ deviceConfig: Record<string, unknown> }> };
  slaveZero.deviceList[0]!.deviceConfig.slaveId = 0;
  const goodText = JSON.stringify(modbusDoc({ devices: 1, points: 2 }));

  const cases: Array<[string, object | Buffer, RegExp]> = [
    ["nested 50000 deep", Buffer.from(`{"deviceList": ${"[".repeat(50_000)}${"]".repeat(50_000)}}`), /^validation failed: \$: nested deeper than 64 levels$/],
    ["nested 100000 deep", Buffer.from(`{"tslList": [${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}]}`), /^validation failed: \$: nested deeper than 64 levels$/],
    ["a 1 MB string", withHugeServerId, /no serverList entry "Z{200}…" \(1048576 characters\)/],
    ["a duplicate key", Buffer.from(goodText.replace('"deviceList":', '"serverList": [], "deviceList":')), /^validation failed: serverList: duplicate key$/],
    ["slave id 0", slaveZero, /deviceList\[0\]\.deviceConfig\.slaveId: slave id 0 is outside 1\.\.247/],
  ];
  for (const [what, body, pattern] of cases) {
    const logBefore = h.logText().length;
    const r = await h.emu.pushConfig(GATEWAY, body, { timeoutMs: 15_000 });
    assert.equal(r.reply.code, 460, `${what}: ${r.reply.message}`);
    assert.match(r.reply.message ?? "", pattern, what);
    assert.ok((r.reply.message ?? "").length < 2000, `${what}: reply of ${(r.reply.message ?? "").length} characters`);
    const status = h.gw.configs.status();
    assert.equal(status.version, version, `${what}: running config kept`);
    assert.ok(status.lastError, what);
    assert.ok(status.lastError.problems.every((p) => p.length < 2000), `${what}: status problems clipped`);
    assert.ok(h.logText().length - logBefore < 50_000, `${what}: ${h.logText().length - logBefore} characters logged`);
  }
});
