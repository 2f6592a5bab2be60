/**
 * Huawei adapter lifecycle against the emulator: REMOVE (persisting across a restart until a pushed document is
 * applied), a refused gateway while field devices keep reporting, refusals retried at the maximum backoff, the
 * connection cap, an outage, and stop() with field devices first.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HuaweiEmulator } from "../../../src/sim/cloud/huawei/index.js";
import { captureLogger } from "../../helpers/log-capture.js";
import { DEV1, DEV2, DEV3, GW_ID, devicesOf, key, makeRig, PID, removeDir, startEmulator, until } from "./rig.js";

const D1 = key(DEV1.nodeId);
const D2 = key(DEV2.nodeId);
const T0 = Date.parse("2026-11-23T19:47:30.250Z");
const rec = (seq: number, device: string, value: number) => ({
  kind: "properties" as const, seq, device, time: T0, attempts: 0, values: [{ identifier: "count_u16", value, time: T0 + seq * 1000 }],
});

async function withEmu(fn: (emu: HuaweiEmulator) => Promise<void>, tls = false): Promise<void> {
  const emu = await startEmulator(tls);
  try {
    await fn(emu);
  } finally {
    await emu.close();
  }
}

describe("Huawei adapter lifecycle", () => {
  test("REMOVE: DISCONNECT, core.lifecycle, removed across a restart until a pushed document is applied", () =>
    withEmu(async (emu) => {
      let rig = makeRig(emu);
      const dir = rig.dir;
      try {
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => emu.subscribed(D2) && emu.subscribed(GW_ID), 5000, "online");
        for (const paras of [{ del_subdevice: "NO", productKey: PID, deviceName: DEV2.nodeId }, { del_subdevice: "YES", productKey: PID, deviceName: "ghost" }, { del_subdevice: "YES", deviceId: GW_ID }, { del_subdevice: "YES" }]) {
          const r = await emu.removeDevice({ deviceId: "x" }, { paras });
          assert.deepEqual([r.errcode, r.body.code], [1, 460], JSON.stringify(paras));
        }
        assert.deepEqual(rig.core.lifecycles, []);
        const ok = await emu.removeDevice({ productKey: PID, deviceName: DEV2.nodeId });
        assert.deepEqual([ok.errcode, ok.body], [0, { code: 200 }]);
        assert.deepEqual(rig.core.lifecycles, [[D2, "remove"]]);
        assert.deepEqual(rig.core.holds, [[D2, "removed", true]], "not polled from the REMOVE on");
        const again = await emu.removeDevice({ productKey: PID, deviceName: DEV2.nodeId });
        assert.deepEqual([again.errcode, rig.core.lifecycles.length], [0, 1], "a repeated REMOVE changes nothing");
        await until(() => !emu.online(D2), 2000, "D2 offline");
        assert.equal(emu.records.presence.filter((p) => p.device === D2).at(-1)!.graceful, true, "DISCONNECT sent");
        assert.equal(rig.adapter.status().devices.find((d) => d.device === D2)!.state, "removed");
        assert.equal(rig.adapter.ready(D2, D2), false);
        // by deviceId as well
        const byId = await emu.removeDevice({ deviceId: DEV1.deviceId });
        assert.equal(byId.errcode, 0);
        await until(() => !emu.online(D1), 2000, "D1 offline");
        await rig.shutdown();

        rig = makeRig(emu, { dir });
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => emu.subscribed(GW_ID), 5000, "gateway online after restart");
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(emu.online(D2), false, "still removed after a restart");
        assert.deepEqual(rig.core.holds, [[D1, "removed", true], [D2, "removed", true]], "held again after a restart");
        assert.equal(rig.adapter.status().devices.find((d) => d.device === D2)!.state, "removed");

        // The core applies the pushed document (setDevices), then the adapter learns it was applied.
        rig.core.offerResult = () => {
          rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
          return { ok: true };
        };
        const pushed = await emu.pushConfig({ serverList: [], deviceList: [], modelList: [], tslList: [] });
        assert.equal(pushed.errcode, 0);
        await until(() => emu.online(D2) && emu.online(D1), 5000, "back after a pushed document");
        assert.deepEqual(rig.core.holds.slice(2).filter(([, , h]) => !h).map(([d, c]) => `${d} ${c}`).sort(), [`${D1} removed`, `${D2} removed`]);
        assert.deepEqual(rig.core.lifecycles, [], "no cloud hold to release after a restart");
        assert.deepEqual(rig.store.kv.keys("huawei/"), []);
      } finally {
        await rig.shutdown();
        removeDir(dir);
      }
    }));

  test("REMOVE in this run: the core's cloud hold ends with a pushed document, or when the device leaves the document", () =>
    withEmu(async (emu) => {
      const rig = makeRig(emu);
      try {
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => emu.subscribed(D1) && emu.subscribed(D2) && emu.subscribed(GW_ID), 5000, "online");
        assert.equal((await emu.removeDevice({ productKey: PID, deviceName: DEV1.nodeId })).errcode, 0);
        assert.equal((await emu.removeDevice({ productKey: PID, deviceName: DEV2.nodeId })).errcode, 0);
        const actions = () => rig.core.lifecycles.map(([d, a]) => `${d} ${a}`);
        // A document without D2 applied (by the core), then the push is reported applied: D1 is listed again.
        rig.core.offerResult = () => {
          rig.adapter.setDevices(devicesOf(DEV1.nodeId));
          return { ok: true };
        };
        assert.equal((await emu.pushConfig({ serverList: [], deviceList: [], modelList: [], tslList: [] })).errcode, 0);
        assert.deepEqual(actions().slice(2).sort(), [`${D1} resume`, `${D2} resume`]);
        await until(() => emu.online(D1), 5000, "D1 back");
        assert.deepEqual(rig.core.holds.filter(([d]) => d === D1).map(([, c, h]) => `${c} ${h}`), ["removed true", "removed false"]);
      } finally {
        await rig.shutdown();
        removeDir(rig.dir);
      }
    }));

  test("a refused gateway: field devices still connect and report; the gateway is retried at the maximum backoff", () =>
    withEmu(async (emu) => {
      const rig = makeRig(emu, { gatewaySecret: "wrong-secret-000000000", reconnectMaxSeconds: 1.5 });
      try {
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => rig.adapter.ready(D1, D1), 5000, "D1 online");
        const sent = await rig.adapter.send(D1, [rec(1, D1, 77)]).done;
        assert.deepEqual(sent.map((r) => r.result), ["ok"]);
        assert.equal(emu.records.properties.at(-1)!.value, 77);
        const gwRefusals = () => emu.records.connects.filter((c) => c.id === GW_ID && !c.accepted);
        await until(() => gwRefusals().length >= 2, 5000, "two gateway refusals");
        const [a, b] = gwRefusals();
        assert.equal(a!.returnCode, 4);
        assert.ok(b!.time - a!.time >= 1400, `retried after ${b!.time - a!.time} ms`);
        const gwRoute = () => rig.adapter.status().routes.find((r) => r.route === rig.adapter.gateway.key)!;
        await until(() => gwRoute().state === "refused", 2000, "gateway route refused");
        const st = rig.adapter.status();
        assert.equal(st.connected, false);
        assert.match(gwRoute().reason ?? "", /CONNACK 4/);
        assert.doesNotMatch(JSON.stringify(st), /wrong-secret/);
      } finally {
        await rig.shutdown();
        removeDir(rig.dir);
      }
    }));

  test("a device deleted on the platform is refused (code 5) alone, logged once without secrets; CONNACK 3 is transient", () =>
    withEmu(async (emu) => {
      const log = captureLogger("info");
      const rig = makeRig(emu, { logger: log.logger, reconnectMaxSeconds: 1 });
      try {
        emu.failNext("connect", 3, { device: D2 });
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => rig.adapter.ready(D1, D1) && rig.adapter.ready(D2, D2), 5000, "online after a CONNACK 3");
        assert.ok(emu.records.connects.some((c) => c.device === D2 && c.returnCode === 3));
        assert.equal(log.find((l) => /refused/.test(String(l.msg))), undefined, "CONNACK 3 is not a refusal");
        emu.deleteDevice(D1);
        const refused = () => rig.adapter.status().devices.find((d) => d.device === D1)!;
        await until(() => refused().state === "refused", 5000, "D1 refused");
        assert.match(refused().reason ?? "", /CONNACK 5/);
        await until(() => emu.records.connects.filter((c) => c.device === D1 && c.returnCode === 5).length >= 2, 4000, "retried");
        const lines = log.lines().filter((l) => String(l.msg).startsWith(`device ${D1} refused`));
        assert.equal(lines.length, 1);
        assert.equal(lines[0]!.msg, `device ${D1} refused (code 5)`);
        assert.equal(rig.adapter.ready(D2, D2), true, "the other devices are not affected");
        assert.doesNotMatch(log.text(), new RegExp([DEV1.secret, DEV2.secret, "0123456789abcdef0123"].join("|")));
      } finally {
        await rig.shutdown();
        removeDir(rig.dir);
      }
    }));

  test("TLS: the broker certificate must match huawei.tlsServerName; a mismatch is a transient error and sends no CONNECT", () =>
    withEmu(async (emu) => {
      const bad = makeRig(emu, { tlsServerName: "wrong.example" });
      try {
        bad.adapter.start();
        const route = () => bad.adapter.status().routes.find((r) => r.route === bad.adapter.gateway.key)!;
        await until(() => route().state === "backoff", 3000, "backoff");
        assert.match(route().reason ?? "", /TLS|altname|certificate/i);
        assert.equal(emu.records.connects.filter((c) => c.device !== undefined).length, 0);
      } finally {
        await bad.shutdown();
        removeDir(bad.dir);
      }
      const good = makeRig(emu, { tlsServerName: "localhost" });
      try {
        good.adapter.start();
        await until(() => good.adapter.status().connected, 3000, "connected with the right name");
      } finally {
        await good.shutdown();
        removeDir(good.dir);
      }
    }, true));

  test("connection cap: devices beyond huawei.maxConnections are overLimit and not connected", () =>
    withEmu(async (emu) => {
      const rig = makeRig(emu, { maxConnections: 1 });
      try {
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId, DEV3.nodeId));
        rig.adapter.start();
        await until(() => emu.online(D1) && emu.online(GW_ID), 5000, "gateway and D1");
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(emu.online(D2), false);
        const states = Object.fromEntries(rig.adapter.status().devices.map((d) => [d.device, d.state]));
        assert.deepEqual(states, { [D1]: "online", [D2]: "overLimit", [key(DEV3.nodeId)]: "noCredentials" });
        assert.equal(rig.adapter.ready(D2, D2), false);
        const D3 = key(DEV3.nodeId);
        const holds = () => rig.core.holds.map(([d, c, h]) => `${d} ${c} ${h}`);
        assert.deepEqual(holds().sort(), [`${D2} overLimit true`, `${D3} noCredentials true`], "neither is polled");
        // a document without D1 (and D3) frees the slot: D2 is released once it has one
        rig.adapter.setDevices(devicesOf(DEV2.nodeId));
        await until(() => emu.online(D2), 3000, "D2 takes the slot");
        await until(() => !emu.online(D1), 3000, "D1 disconnected");
        assert.deepEqual(holds().slice(2).sort(), [`${D2} overLimit false`, `${D3} noCredentials false`]);
      } finally {
        await rig.shutdown();
        removeDir(rig.dir);
      }
    }));

  test("an outage: sends come back unsent, every connection returns paced, rejoin reported", () =>
    withEmu(async (emu) => {
      const rig = makeRig(emu, { connectsPerSecond: 2 });
      try {
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => rig.adapter.ready(D1, D1) && rig.adapter.ready(D2, D2) && rig.adapter.status().connected, 5000, "online");
        await emu.outage();
        await until(() => !rig.adapter.ready(D1, D1), 3000, "D1 down");
        assert.ok(rig.core.presences.some(([r, up]) => r === D1 && !up));
        assert.deepEqual((await rig.adapter.send(D1, [rec(5, D1, 1)]).done).map((r) => r.result), ["unsent"]);
        await new Promise((r) => setTimeout(r, 1100));
        const before = emu.records.connects.length;
        await emu.restore();
        await until(() => rig.adapter.ready(D1, D1) && rig.adapter.ready(D2, D2) && rig.adapter.status().connected, 8000, "back online");
        const back = emu.records.connects.slice(before).filter((c) => c.accepted);
        assert.equal(back.length, 3);
        assert.ok(back[2]!.time - back[0]!.time >= 350, `3 reconnects at 2/s spread over ${back[2]!.time - back[0]!.time} ms`);
        assert.ok(rig.core.rejoined.includes(D1) && rig.core.rejoined.includes(D2));
        assert.deepEqual((await rig.adapter.send(D1, [rec(6, D1, 2)]).done).map((r) => r.result), ["ok"]);
      } finally {
        await rig.shutdown();
        removeDir(rig.dir);
      }
    }));

  test("stop(): DISCONNECT on every connection, field devices first, the gateway last, bounded", () =>
    withEmu(async (emu) => {
      const rig = makeRig(emu);
      try {
        rig.adapter.setDevices(devicesOf(DEV1.nodeId, DEV2.nodeId));
        rig.adapter.start();
        await until(() => rig.adapter.ready(D1, D1) && rig.adapter.ready(D2, D2) && rig.adapter.status().connected, 5000, "online");
        const t = Date.now();
        await rig.adapter.stop(5000);
        assert.ok(Date.now() - t < 5000);
        await until(() => !emu.online(GW_ID) && !emu.online(D1) && !emu.online(D2), 2000, "all offline");
        const offline = emu.records.presence.filter((p) => !p.online);
        assert.ok(offline.every((p) => p.graceful));
        const gwKey = emu.device(GW_ID)!.key;
        assert.equal(offline.at(-1)!.device, gwKey);
        assert.deepEqual(offline.slice(0, 2).map((p) => p.device).sort(), [D1, D2]);
      } finally {
        await rig.shutdown();
        removeDir(rig.dir);
      }
    }));
});
