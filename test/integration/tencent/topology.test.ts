import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { device, type Rig, startRig, SUB_KEY } from "./harness.js";

async function withRig(fn: (r: Rig) => Promise<void>, o: Parameters<typeof startRig>[0] = {}): Promise<void> {
  const rig = await startRig(o);
  try {
    await fn(rig);
  } finally {
    await rig.close();
  }
}

const state = (r: Rig, d: string) => r.adapter.status().devices.find((x) => x.device === `FBMBPRD001/${d}`)?.state;

describe("tencent adapter: topology and per-device lifecycle", () => {
  it("field offline → offline + unsubscribe; answering again → online", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/bound", { bound: true });
      r.adapter.setDevices([device("bound")]);
      r.adapter.start();
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/bound"), 5000);
      r.adapter.fieldHealth("FBMBPRD001/bound", false, "timeout");
      await r.emu.waitFor(() => state(r, "bound") === "field-offline", 8000);
      assert.equal(r.emu.online("FBMBPRD001/bound"), false);
      assert.equal(r.adapter.ready("gateway", "FBMBPRD001/bound"), false);
      r.adapter.fieldHealth("FBMBPRD001/bound", true);
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/bound") && r.emu.online("FBMBPRD001/bound"), 5000);
      assert.equal(r.emu.refusals.length, 0, JSON.stringify(r.emu.refusals));
    }));

  it("prunes bound devices the document lacks; removed devices go offline; the stored unbound state survives", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/a", { bound: true });
      r.emu.addDevice("FBMBPRD001/b", { bound: true });
      r.emu.addDevice("FBMBPRD001/stale", { bound: true });
      r.adapter.setDevices([device("a"), device("b")]);
      r.adapter.start();
      await r.emu.waitFor(() => r.emu.online("FBMBPRD001/a") && r.emu.online("FBMBPRD001/b"), 5000);
      await r.emu.waitFor(() => r.emu.ops.some((o) => o.type === "unbind" && o.device === "FBMBPRD001/stale"), 3000);
      assert.equal(r.emu.devices.get("FBMBPRD001/stale")!.bound, false);
      r.adapter.setDevices([device("a")]);
      await r.emu.waitFor(() => r.emu.ops.some((o) => o.type === "offline" && o.device === "FBMBPRD001/b"), 3000);
      await r.emu.waitFor(() => r.emu.ops.some((o) => o.type === "unbind" && o.device === "FBMBPRD001/b"), 3000);
      assert.ok(r.emu.online("FBMBPRD001/a"));
    }));

  it("bind: 805 is retried once with a fresh timestamp; 806 → refused; a pushed document clears a cloud unbind", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/keyed", { psk: SUB_KEY });
      r.emu.failNext("bind", 805, { device: "FBMBPRD001/keyed" });
      r.adapter.setDevices([device("keyed")]);
      r.adapter.start();
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/keyed"), 5000);
      assert.deepEqual(r.emu.ops.filter((o) => o.type === "bind").map((o) => o.result), [805, 0]);
      await r.emu.change(0, [{ product_id: "FBMBPRD001", device_name: "keyed" }]);
      await r.emu.waitFor(() => state(r, "keyed") === "unbound", 2000);
      assert.deepEqual(r.store.kv.get("tencent.unbound"), ["FBMBPRD001/keyed"]);
      const done = await r.emu.deliverDocument('{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}', { version: "3" });
      assert.equal(done.result_code, "0");
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/keyed"), 5000);
      assert.ok(r.lifecycle.some(([d, a]) => d === "FBMBPRD001/keyed" && a === "resume"));
      assert.equal(r.emu.ops.filter((o) => o.type === "bind" && o.result === 0).length, 2);
    }));

  it("a bind refused with 806 leaves the device refused and not ready", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/keyed", { psk: SUB_KEY });
      r.emu.failNext("bind", 806, { device: "FBMBPRD001/keyed" });
      r.adapter.setDevices([device("keyed")]);
      r.adapter.start();
      await r.emu.waitFor(() => state(r, "keyed") === "refused", 5000);
      assert.match(r.adapter.status().devices[0]!.reason ?? "", /806/);
      assert.equal(r.adapter.ready("gateway", "FBMBPRD001/keyed"), false);
    }));

  it("tencent.timestampUnit ms sends millisecond timestamps", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/bound", { bound: true });
      r.adapter.setDevices([device("bound")]);
      r.adapter.start();
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/bound"), 5000);
      const t = Date.now() - 1234;
      const res = await r.adapter.send("gateway", [{ kind: "properties", seq: 1, device: "FBMBPRD001/bound", time: t, attempts: 0, values: [{ identifier: "temp", value: 1, time: t }] }]).done;
      assert.equal(res[0]!.result, "ok");
      assert.equal(r.emu.accepted[0]!.timestamp, t);
    }, { tencent: { timestampUnit: "ms" } }));

  it("online failures without a reply are retried; sessions.maxOnline caps the online devices (over-limit); batches of batchSize", () =>
    withRig(async (r) => {
      for (const d of ["a", "b", "c"]) r.emu.addDevice(`FBMBPRD001/${d}`, { bound: true });
      r.emu.failNext("online", -2, { device: "FBMBPRD001/a" });
      r.adapter.setDevices([device("a"), device("b"), device("c")]);
      r.adapter.start();
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/a") && r.adapter.ready("gateway", "FBMBPRD001/b"), 5000);
      assert.equal(state(r, "c"), "over-limit");
      assert.equal(r.emu.online("FBMBPRD001/c"), false);
      assert.deepEqual(r.emu.ops.filter((o) => o.device === "FBMBPRD001/a" && o.type === "online").map((o) => o.result), [-2, 0]);
      const onlineMsgs = r.emu.received.filter((m) => m.body.type === "online");
      assert.equal(((onlineMsgs[0]!.body.payload as { devices: unknown[] }).devices).length, 1);
    }, { sessions: { maxOnline: 2, batchSize: 1 } }));

  it("never prunes without an applied document; a document without devices unbinds every bound one", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/x", { bound: true });
      r.adapter.start();
      await r.emu.waitFor(() => r.emu.ops.some((o) => o.type === "describe_sub_devices"), 5000);
      await new Promise((res) => setTimeout(res, 300));
      assert.ok(!r.emu.ops.some((o) => o.type === "unbind"));
      r.adapter.setDevices([]);
      await r.emu.waitFor(() => r.emu.ops.some((o) => o.type === "unbind" && o.device === "FBMBPRD001/x"), 3000);
    }));

  it("a cloud unbind stored before a restart keeps the device unbound and suspended, never re-bound on its own", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/keyed", { psk: SUB_KEY });
      r.emu.addDevice("FBMBPRD001/other", { bound: true });
      r.store.kv.set("tencent.unbound", ["FBMBPRD001/keyed"]);
      r.adapter.setDevices([device("keyed"), device("other")]);
      r.adapter.start();
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/other"), 5000);
      assert.equal(state(r, "keyed"), "unbound");
      assert.deepEqual(r.lifecycle, [["FBMBPRD001/keyed", "remove"]]);
      assert.ok(!r.emu.ops.some((o) => o.device === "FBMBPRD001/keyed"));
    }));

  it("refused and over-limit devices are held (not polled); a new document retries them; a freed slot is taken; holds are released online", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/keyed", { psk: SUB_KEY });
      for (const d of ["a", "c", "d"]) r.emu.addDevice(`FBMBPRD001/${d}`, { bound: true });
      r.emu.failNext("bind", 806, { device: "FBMBPRD001/keyed" });
      const docDevices = [device("keyed"), device("a"), device("c"), device("d")];
      r.adapter.setDevices(docDevices);
      r.adapter.start();
      await r.emu.waitFor(() => state(r, "keyed") === "refused" && r.adapter.ready("gateway", "FBMBPRD001/a"), 5000);
      const held = (d: string) => r.holds.filter(([k]) => k === `FBMBPRD001/${d}`).map(([, c, h]) => `${c} ${h}`);
      assert.deepEqual(held("keyed"), ["refused true"]);
      assert.deepEqual(held("c"), ["over-limit true"]);
      assert.deepEqual(held("d"), ["over-limit true"]);
      assert.deepEqual(held("a"), []);
      // The same document applied again: the refused device is tried again (and binds), the cap still holds c and d.
      r.adapter.setDevices(docDevices);
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/keyed"), 5000);
      assert.deepEqual(held("keyed"), ["refused true", "refused false"]);
      assert.equal(state(r, "c"), "over-limit");
      // The cloud unbinds a: its slot goes to c.
      await r.emu.change(0, [{ product_id: "FBMBPRD001", device_name: "a" }]);
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/c"), 5000);
      assert.deepEqual(held("c"), ["over-limit true", "over-limit false"]);
      assert.equal(state(r, "d"), "over-limit");
      assert.equal([...r.emu.devices.values()].filter((d) => d.online).length, 2);
    }, { sessions: { maxOnline: 2 } }));

  it("an unbound device without a key is held; a bind refused with 801 is tried again at the reconnect cap", () =>
    withRig(async (r) => {
      r.emu.addDevice("FBMBPRD001/nokey", {});
      r.emu.addDevice("FBMBPRD001/keyed", { psk: SUB_KEY });
      r.emu.failNext("bind", 801, { device: "FBMBPRD001/keyed" });
      r.adapter.setDevices([device("nokey"), device("keyed")]);
      r.adapter.start();
      await r.emu.waitFor(() => state(r, "keyed") === "refused", 5000);
      const refusedAt = Date.now();
      assert.deepEqual(r.holds.filter(([k]) => k === "FBMBPRD001/nokey"), [["FBMBPRD001/nokey", "unbound-no-key", true]]);
      assert.ok(r.holds.some(([k, c, h]) => k === "FBMBPRD001/keyed" && c === "refused" && h));
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/keyed"), 5000);
      // reconnectMaxSeconds is 1 in the rig: between half and the whole of it.
      assert.ok(Date.now() - refusedAt >= 400, `retried after ${Date.now() - refusedAt} ms`);
      assert.deepEqual(r.emu.ops.filter((o) => o.type === "bind").map((o) => o.result), [801, 0]);
      assert.ok(r.holds.some(([k, c, h]) => k === "FBMBPRD001/keyed" && c === "refused" && !h));
    }));
});
