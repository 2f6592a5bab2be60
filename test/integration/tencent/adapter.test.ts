import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { PropertiesRecord } from "../../../src/cloud/platform.js";
import { device, GW, type Rig, startRig, SUB_KEY } from "./harness.js";

const GWKEY = `${GW.productId}/${GW.deviceName}`;

async function withRig(fn: (r: Rig) => Promise<void>, o: Parameters<typeof startRig>[0] = {}): Promise<void> {
  const rig = await startRig(o);
  try {
    await fn(rig);
  } finally {
    await rig.close();
  }
}

function props(seq: number, dev: string, values: Array<[string, number, number]>): PropertiesRecord {
  return { kind: "properties", seq, device: `FBMBPRD001/${dev}`, time: Math.min(...values.map((v) => v[2])), attempts: 0, values: values.map(([identifier, value, time]) => ({ identifier, value, time })) };
}

const setupDevices = (emu: Rig["emu"]) => {
  emu.addDevice("FBMBPRD001/bound", { bound: true, identifiers: ["temp", "sp", "Alarm"] });
  emu.addDevice("FBMBPRD001/keyed", { psk: SUB_KEY });
  emu.addDevice("FBMBPRD001/nokey", {});
};

async function online(r: Rig): Promise<void> {
  r.adapter.setDevices([device("bound"), device("keyed"), device("nokey")]);
  r.adapter.start();
  await r.emu.waitFor(() => r.emu.online("FBMBPRD001/bound") && r.emu.online("FBMBPRD001/keyed") && r.adapter.ready("gateway", "FBMBPRD001/keyed"), 5000);
}

describe("tencent adapter against the emulator", () => {
  it("runs the online sequence: version reports, describe, bind only the unbound keyed device, online, subscribe", () =>
    withRig(async (r) => {
      await online(r);
      const topics = r.emu.received.map((m) => `${m.topic} ${String(m.body.type ?? m.body.method)}`);
      assert.ok(topics.includes(`$ota/report/${GWKEY} report_version`));
      assert.ok(topics.includes(`$thing/up/service/${GWKEY} report_version`));
      const fileReport = r.emu.received.find((m) => m.body.method === "report_version")!;
      assert.deepEqual((fileReport.body.report as Record<string, unknown>).resource_list, []);
      const ops = r.emu.ops.map((o) => `${o.type} ${o.device} ${o.result}`);
      assert.equal(ops[0], "describe_sub_devices  0");
      assert.deepEqual(ops.filter((o) => o.startsWith("bind")), ["bind FBMBPRD001/keyed 0"]);
      assert.ok(!ops.some((o) => o.includes("nokey") && o.startsWith("bind")));
      const st = r.adapter.status();
      assert.equal(st.devices.find((d) => d.device === "FBMBPRD001/nokey")?.state, "unbound-no-key");
      assert.equal(r.adapter.ready("gateway", "FBMBPRD001/nokey"), false);
      assert.ok(!JSON.stringify(st).includes(GW.psk) && !r.log.text().includes(GW.psk) && !r.log.text().includes(SUB_KEY));
      assert.equal(r.emu.refusals.length, 0, JSON.stringify(r.emu.refusals));
    }, { setup: setupDevices }));

  it("sends reports with sample timestamps, ok only on report_reply; 503 → retry; old records → expired", () =>
    withRig(async (r) => {
      await online(r);
      const t0 = Math.floor((Date.now() - 60_000) / 1000) * 1000; // whole second: the three samples share one timestamp
      const s = r.adapter.send("gateway", [props(1, "bound", [["temp", 20, t0], ["sp", 5, t0 + 100], ["temp", 21.5, t0 + 200]])]);
      assert.equal(s.messages, 2);
      assert.deepEqual(await s.done, [{ seq: 1, result: "ok" }]);
      const ts = Math.floor(t0 / 1000);
      assert.deepEqual(r.emu.accepted.map((a) => [a.identifier, a.value, a.timestamp]), [["temp", 20, ts], ["sp", 5, ts], ["temp", 21.5, ts]]);
      const raw = r.emu.received.find((m) => m.body.method === "report")!;
      assert.equal(typeof raw.body.clientToken, "string");
      r.emu.failNext("report", 503);
      const retry = await r.adapter.send("gateway", [props(2, "bound", [["temp", 1, Date.now()]])]).done;
      assert.equal(retry[0]!.result, "retry");
      r.emu.failNext("report", 503);
      const last = await r.adapter.send("gateway", [{ ...props(3, "bound", [["temp", 1, Date.now()]]), attempts: 2 }]).done;
      assert.equal(last[0]!.result, "reject");
      const old = await r.adapter.send("gateway", [props(4, "bound", [["temp", 1, Date.now() - 23.5 * 3600_000]])]).done;
      assert.equal(old.length, 1);
      assert.equal(old[0]!.result, "expired");
      assert.match((old[0] as { reason: string }).reason, /replayMaxAgeHours/);
      r.emu.failNext("report", 405);
      const late = await r.adapter.send("gateway", [props(8, "bound", [["temp", 1, Date.now()]])]).done;
      assert.equal(late[0]!.result, "expired");
      // Expired records are counted as expired (not as rejected) in /status and in the metric, by reason.
      const c = r.adapter.status().counters;
      assert.deepEqual([c.uplink_expired, c.uplink_expiredByPlatform, c.uplink_rejected, c.uplink_unacknowledged], [1, 1, 0, 1]);
      const metrics = r.adapter.core.metrics.render();
      assert.match(metrics, /^fieldbridge_uplinks_expired_total\{reason="replay_limit"\} 1$/m);
      assert.match(metrics, /^fieldbridge_uplinks_expired_total\{reason="platform_405"\} 1$/m);
      await r.emu.waitFor(() => r.log.text().includes("records older than the replay limit dropped as expired"), 4000);
      const ev = await r.adapter.send("gateway", [{ kind: "event", seq: 5, device: "FBMBPRD001/bound", time: Date.now(), attempts: 0, identifier: "Alarm", outputs: { level: 2 } }]).done;
      assert.equal(ev[0]!.result, "ok");
      const notReady = await r.adapter.send("gateway", [props(6, "nokey", [["temp", 1, Date.now()]])]).done;
      assert.equal(notReady[0]!.result, "unsent");
      const wire = await r.adapter.send("gateway", [{ kind: "wire", seq: 7, device: "x", time: Date.now(), attempts: 0, platform: "aliyun", topic: "t", payload: "{}", devices: [] }]).done;
      assert.equal(wire[0]!.result, "reject");
    }, { setup: setupDevices }));

  it("answers control and action through core.request with the spec's codes; malformed ones never reach the core", () =>
    withRig(async (r) => {
      await online(r);
      r.answer = (q) => (q.kind === "propertySet" && "temp" in q.values ? { ok: false, kind: "readOnly", message: "temp is read-only" } : q.kind === "service" ? { ok: false, kind: "unsupported", message: "Modbus has no methods" } : { ok: true });
      const ok = await r.emu.control("FBMBPRD001/bound", { sp: 5 });
      assert.deepEqual([ok.code, ok.status], [0, "success"]);
      assert.deepEqual(r.requests, [{ kind: "propertySet", device: "FBMBPRD001/bound", values: { sp: 5 } }]);
      assert.equal((await r.emu.control("FBMBPRD001/bound", { temp: 1 })).code, 403);
      assert.equal((await r.emu.action("FBMBPRD001/bound", "Reset", {})).code, 100005);
      const unknownAction = await r.emu.action("FBMBPRD001/bound", "Nope", {});
      assert.deepEqual([unknownAction.code, unknownAction.response], [403, {}]);
      const n = r.requests.length;
      const bad: unknown[] = [{}, [], 1, "x", null, { a: 1, b: [] }].slice(0, 2);
      for (const params of bad) assert.equal((await r.emu.control("FBMBPRD001/bound", params)).code, 406);
      for (const raw of ['{"method":"control","clientToken":"m1","params":5}', '{"method":"control","clientToken":"m2"}', '{"method":"control","clientToken":"m3","params":"x"}', '{"method":"control","clientToken":"m4","params":null}']) {
        const tok = /"clientToken":"(m\d)"/.exec(raw)![1]!;
        assert.equal((await r.emu.control("FBMBPRD001/bound", undefined, { raw, token: tok })).code, 406);
      }
      const drops = ["not json", "[1,2]", '{"method":"control","params":{"sp":1}}', `{"method":"control","clientToken":"${"x".repeat(129)}","params":{"sp":1}}`, '{"method":"control","clientToken":5,"params":{"sp":1}}', '{"method":"get_status","clientToken":"a"}', " ".repeat(65 * 1024)];
      for (const d of drops) r.emu.send("$thing/down/property/FBMBPRD001/bound", d);
      r.emu.send("$thing/down/action/FBMBPRD001/bound", '{"method":"action","clientToken":"","actionId":"Reset"}');
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(r.requests.length, n, "malformed commands reached the core");
      // A duplicate delivery is answered again, not executed again.
      const again1 = await r.emu.control("FBMBPRD001/bound", { sp: 7 }, { token: "dup-1" });
      const again2 = await r.emu.control("FBMBPRD001/bound", { sp: 7 }, { token: "dup-1" });
      assert.deepEqual([again1.code, again2.code], [0, 0]);
      assert.equal(r.requests.filter((q) => q.kind === "propertySet" && (q.values as { sp?: number }).sp === 7).length, 1);
      assert.deepEqual(r.emu.refusals, [], "a reply the platform would not accept");
    }, { setup: setupDevices }));

  it("change 0 removes the device (not polled, its waiting records dropped) and stops publishing until change 1; malformed change → 1; search_devices acknowledged", () =>
    withRig(async (r) => {
      await online(r);
      assert.deepEqual(await r.emu.change(0, [{ product_id: "FBMBPRD001", device_name: "bound" }]), { type: "change", result: 0 });
      await r.emu.waitFor(() => r.lifecycle.length === 1, 2000);
      assert.deepEqual(r.lifecycle, [["FBMBPRD001/bound", "remove"]]);
      assert.equal(r.adapter.ready("gateway", "FBMBPRD001/bound"), false);
      assert.equal((await r.adapter.send("gateway", [props(1, "bound", [["temp", 1, Date.now()]])]).done)[0]!.result, "unsent");
      assert.deepEqual(await r.emu.change(1, [{ product_id: "FBMBPRD001", device_name: "bound" }]), { type: "change", result: 0 });
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/bound"), 3000);
      assert.deepEqual(r.lifecycle[1], ["FBMBPRD001/bound", "resume"]);
      assert.deepEqual(await r.emu.change(2, []), { type: "change", result: 1 });
      assert.deepEqual(await r.emu.change(0, [{ product_id: 5 }]), { type: "change", result: 1 });
      assert.equal(r.lifecycle.length, 2);
      assert.deepEqual(await r.emu.searchDevices(1), { type: "search_devices", payload: { status: 1, result: 0 } });
      assert.deepEqual(await r.emu.searchDevices(7), { type: "search_devices", payload: { status: 7, result: 1 } });
    }, { setup: setupDevices }));

  it("takes the document by update_resource: md5+size to the core, progress and result codes", () =>
    withRig(async (r) => {
      r.adapter.start();
      await r.emu.waitFor(() => r.emu.gatewayOnline() && r.emu.ops.length > 0, 5000);
      const doc = '{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}';
      const done = await r.emu.deliverDocument(doc, { version: "7" });
      assert.deepEqual([done.state, done.result_code], ["done", "0"]);
      assert.deepEqual({ d: r.offers[0]!.digest, m: r.offers[0]!.digestMethod, s: r.offers[0]!.size, v: r.offers[0]!.version }, { d: "399f893acc26b5beace2298c20b2907f", m: "md5", s: 61, v: "7" });
      const progress = r.emu.received.filter((m) => m.body.method === "report_progress");
      assert.ok(progress.length >= 1 && progress.every((p) => typeof ((p.body.report as { progress: { percent: unknown } }).progress.percent) === "string"));
      await r.emu.waitFor(() => r.emu.received.some((m) => m.body.method === "report_version" && (m.body.report as { version?: string }).version === "7"), 2000);
      const wrong = await r.emu.deliverDocument(doc, { version: "8", wrongMd5: true });
      assert.deepEqual([wrong.state, wrong.result_code], ["fail", "-4"]);
      const other = await r.emu.deliverDocument(doc, { version: "9", name: "other.bin" });
      assert.deepEqual([other.state, other.result_code], ["fail", "-6"]);
      assert.equal(r.offers.length, 2);
      const invalid = await r.emu.deliverDocument("{nope", { version: "10" });
      assert.deepEqual([invalid.state, invalid.result_code], ["fail", "-5"]);
      assert.match(invalid.result_msg, /^1: /);
      assert.ok(!r.emu.received.some((m) => JSON.stringify(m.body).includes("https://")), "a URL leaked into a report");
    }));

  it("a refused CONNECT is retried at the max backoff and shows as refused", () =>
    withRig(async (r) => {
      r.adapter.start();
      await r.emu.waitFor(() => r.emu.connects.length >= 2, 5000);
      const [a, b] = r.emu.connects;
      assert.deepEqual([a!.code, b!.code], [4, 4]);
      assert.ok(b!.time - a!.time >= 450, `retried after ${b!.time - a!.time} ms`);
      // The emulator records the CONNECT before its CONNACK 4 reaches the adapter.
      await r.emu.waitFor(() => r.adapter.status().routes[0]?.state !== "connecting", 2000).catch(() => undefined);
      assert.equal(r.adapter.status().routes[0]!.state, "refused");
      assert.ok(!r.log.text().includes("MTIzNDU2Nzg5MGFiY2RlZg=="));
    }, { psk: "MTIzNDU2Nzg5MGFiY2RlZg==" }));

  it("outage and restore: online again on the new connection; stop sends offline then DISCONNECT", () =>
    withRig(async (r) => {
      await online(r);
      await r.emu.outage();
      await r.emu.waitFor(() => !r.adapter.ready("gateway", "FBMBPRD001/bound"), 3000);
      assert.equal(r.presence.at(-1), false);
      await r.emu.restore();
      await r.emu.waitFor(() => r.adapter.ready("gateway", "FBMBPRD001/bound") && r.emu.online("FBMBPRD001/bound"), 8000);
      assert.ok(r.rejoined.includes("FBMBPRD001/bound"));
      // Sub-device topics were used only after their online on the new connection.
      assert.deepEqual(r.emu.refusals, []);
      await r.adapter.stop(3000);
      assert.ok(r.emu.ops.some((o) => o.type === "offline" && o.device === "FBMBPRD001/bound" && o.result === 0));
      await r.emu.waitFor(() => !r.emu.gatewayOnline(), 2000);
    }, { setup: setupDevices }));
});
