import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, until } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY } from "../helpers/daemon.js";
import type { TslDocument } from "../../src/things/tsl-types.js";

const gwTsl: TslDocument = {
  profile: { productKey: GATEWAY.productKey },
  properties: [
    { identifier: "fbUptimeSeconds", name: "uptime", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "2147483647" } } },
    { identifier: "fbOnlineSubDevices", name: "online", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "100000" } } },
    { identifier: "fbOutboxDepth", name: "outbox", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "2147483647" } } },
    { identifier: "fbRssMegabytes", name: "rss", accessMode: "r", dataType: { type: "float", specs: { min: "0", max: "100000" } } },
    { identifier: "fbVersion", name: "version", accessMode: "r", dataType: { type: "text", specs: { length: "64" } } },
  ],
  events: [],
  services: [],
};

test("the gateway posts its health figures as its own properties when its TSL defines them", async (t) => {
  const h = await startHarness({ driver: { periodMs: 200, value: (_k, id) => (id === "Level" ? 1 : id === "Status" ? 2 : 5) }, config: { telemetry: { intervalSeconds: 0.5 } } });
  t.after(() => h.stop());
  const { emu } = h;
  emu.addProduct(GATEWAY.productKey, { tsl: gwTsl });
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  // Before the gateway's TSL is known nothing is posted.
  assert.equal(h.gw.telemetry.post(), 0);
  const doc = modbusDoc({ devices: 1, points: 2 }) as { tslList: TslDocument[] };
  doc.tslList.push(gwTsl);
  assert.equal((await emu.pushConfig(GATEWAY, doc)).reply.code, 200);
  const gwKey = `${GATEWAY.productKey}/${GATEWAY.deviceName}`;
  await emu.waitFor(() => emu.accepted.properties.some((p) => p.deviceKey === gwKey && p.identifier === "fbOnlineSubDevices" && p.value === 1), 10_000, "telemetry with one sub-device online");
  const got = new Map(emu.accepted.properties.filter((p) => p.deviceKey === gwKey).map((p) => [p.identifier, p.value]));
  assert.deepEqual([...got.keys()].sort(), ["fbOnlineSubDevices", "fbOutboxDepth", "fbRssMegabytes", "fbUptimeSeconds", "fbVersion"]);
  assert.ok((got.get("fbRssMegabytes") as number) > 10);
  assert.match(String(got.get("fbVersion")), /^\d+\.\d+\.\d+/);
  assert.equal(emu.rejected.filter((r) => r.deviceKey === gwKey).length, 0);
});
