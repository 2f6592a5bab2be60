import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, until } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY, secretsIn } from "../helpers/daemon.js";

const gw = GATEWAY;

function keys(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${METER}/${deviceName("meter", i)}`);
}

test("30 sub-devices are registered, topo-added and logged in; after an outage every one logs in again before its data is accepted", async (t) => {
  const h = await startHarness({ driver: { periodMs: 200 } });
  t.after(() => h.stop());
  const { emu } = h;
  emu.addProduct(METER, { tsl: meterTsl(3), dynamicRegistration: true });
  for (const k of keys(30)) emu.addDevice({ productKey: METER, deviceName: k.split("/")[1]! });
  await until(() => h.gw.link.connected, 10_000, "gateway connected");

  const push = await emu.pushConfig(gw, modbusDoc({ devices: 30, points: 3 }));
  assert.equal(push.reply.code, 200, push.reply.message);
  await emu.waitFor(() => emu.onlineSessions(gw).length === 30, 15_000, "30 sessions");
  assert.equal(emu.topo(gw).length, 30);
  assert.equal(emu.logins.filter((l) => l.code === 200).length, 30);
  // Secrets came from dynamic registration and are stored, never logged.
  const secrets = keys(30).map((k) => emu.device(METER, k.split("/")[1]!).secret!);
  for (const k of keys(30)) assert.ok(h.gw.store.secrets.get(METER, k.split("/")[1]!));
  await emu.waitFor(() => keys(30).every((k) => emu.accepted.properties.some((p) => p.deviceKey === k)), 10_000, "data of all 30");

  // Outage: sessions die with the connection; on return every device logs in again first.
  await emu.outage();
  await until(() => !h.gw.link.connected, 5000, "disconnect");
  await new Promise((r) => setTimeout(r, 1500));
  const restoredAt = Date.now();
  await emu.restore();
  await emu.waitFor(() => emu.onlineSessions(gw).length === 30, 15_000, "30 sessions again");
  await emu.waitFor(() => keys(30).every((k) => emu.accepted.properties.some((p) => p.deviceKey === k && p.time >= restoredAt - 1500)), 15_000, "data after outage");
  for (const k of keys(30)) {
    const login = emu.logins.find((l) => l.deviceKey === k && l.code === 200 && l.time >= restoredAt);
    assert.ok(login, `${k} logged in again`);
  }
  // Data before a login would have been refused (pack post 520, or /ext/error 520): none was.
  assert.equal(emu.rejected.filter((r) => r.code === 520).length, 0, JSON.stringify(emu.rejected.slice(0, 3)));
  assert.equal(emu.received((m) => m.topic.startsWith("/ext/error")).length, 0);
  assert.deepEqual(secretsIn(h.logText(), [...secrets, gw.deviceSecret]), []);
});
