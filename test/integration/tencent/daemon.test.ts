/**
 * Tencent IoT Explorer end to end through the daemon (tencent.md): the shipped CLI against the emulator and the
 * Modbus TCP simulator. One daemon runs the document, binding, data, control, `change` and outage steps in order;
 * a second one runs with a wrong device key and a third with a short replay limit on the same data dir.
 *
 * What the contract suite (test/contract/suite.ts with the Tencent world) already proves is not repeated here: a
 * 20 s outage replayed in order with sample times, kill -9 and restart, SIGTERM offline + exit 0 for devices bound
 * in the console, and a wrong key refused at the backoff cap with the daemon staying up.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { ModbusTcpSimulator } from "../../../src/sim/modbus/index.js";
import { TencentEmulator } from "../../../src/sim/cloud/tencent/index.js";
import type { DaemonProcess } from "../../helpers/cli.js";
import { GW, SUB_KEY } from "./harness.js";
import { BOUND, deliver, document, http, IDENTIFIERS, KEYED, REG, type RunDir, runDir, sleep, startDaemon, UNIT, until, valuesOf, WRONG_KEY } from "./daemon-rig.js";

const pair = (key: string) => ({ product_id: key.split("/")[0], device_name: key.split("/")[1] });
const reportsOf = (emu: TencentEmulator, key: string) => emu.received.filter((m) => m.topic === `$thing/up/property/${key}` && m.body.method === "report").length;
const polls = (sim: ModbusTcpSimulator, key: string) => sim.requestsByUnit.get(UNIT[key]!) ?? 0;

describe("tencent end to end through the daemon", () => {
  let sim: ModbusTcpSimulator;
  let emu: TencentEmulator;
  let rd: RunDir;
  let daemon: DaemonProcess | undefined;
  const outputs: string[] = [];
  const stop = async (d: DaemonProcess) => {
    const r = await d.stop("SIGTERM");
    outputs.push(d.stdout, d.stderr);
    return r;
  };

  before(async () => {
    sim = await ModbusTcpSimulator.start({ units: [1, 2] });
    emu = await TencentEmulator.start({ ...GW, tls: true });
    emu.addDevice(BOUND, { bound: true, identifiers: IDENTIFIERS });
    emu.addDevice(KEYED, { psk: SUB_KEY, identifiers: IDENTIFIERS });
    rd = await runDir(emu);
    for (const key of [BOUND, KEYED]) {
      const u = UNIT[key]!;
      sim.setHolding(u, REG.temp, [65536 - 215]); // int16 -215 × 0.1
      sim.setHolding(u, REG.energy, [1, 4464]); // uint32 70000
      sim.setHolding(u, REG.count, [u]);
      sim.setHolding(u, REG.sp, [7]);
      sim.setCoils(u, REG.coil, [true]);
    }
  });
  after(async () => {
    if (daemon) await daemon.stop("SIGKILL");
    await emu?.close();
    await sim?.close();
    if (rd) rmSync(rd.dir, { recursive: true, force: true });
  });

  test("update_resource: a wrong MD5 is reported -4 and changes nothing (the old document keeps polling); the right one is applied and done", async () => {
    daemon = startDaemon(emu, rd, "good.json");
    const v1 = await deliver(emu, document(sim.port, [BOUND]), { version: "1" });
    assert.deepEqual([v1.state, v1.result_code], ["done", "0"], v1.result_msg);
    await until(() => emu.online(BOUND), 10_000, "the console-bound device online");

    const wrong = await deliver(emu, document(sim.port, [BOUND, KEYED]), { version: "2", wrongMd5: true });
    assert.deepEqual([wrong.state, wrong.result_code], ["fail", "-4"], wrong.result_msg);
    sim.setHolding(1, REG.count, [11]);
    await until(() => valuesOf(emu, BOUND, "count").some((v) => v.value === 11), 5000, "the old document still polled and reported");
    assert.equal(polls(sim, KEYED), 0, "the refused document's device is not polled");
    assert.ok(!emu.ops.some((o) => o.device === KEYED), "nothing done for the refused document's device");
    const status = JSON.parse(await http(rd, "/status")) as { config: { devices: number } };
    assert.equal(status.config.devices, 1);

    const right = await deliver(emu, document(sim.port, [BOUND, KEYED]), { version: "2" });
    assert.deepEqual([right.state, right.result_code], ["done", "0"], right.result_msg);
    await until(() => emu.online(KEYED) && emu.online(BOUND), 10_000, "both sub-devices online");
    assert.ok(polls(sim, KEYED) > 0);
  });

  test("the unbound device is bound with a valid signature, the bound one never; every property arrives decoded with its sample time", async () => {
    // The emulator checks the signature (keyed with the key text) and answers 803 when it does not verify.
    assert.deepEqual(emu.ops.filter((o) => o.type === "bind").map((o) => `${o.device} ${o.result}`), [`${KEYED} 0`]);
    const t0 = Math.floor(Date.now() / 1000);
    sim.setHolding(2, REG.count, [21]);
    await until(() => valuesOf(emu, KEYED, "count").some((v) => v.value === 21), 5000, "a fresh value of the bound-by-gateway device");
    for (const key of [BOUND, KEYED]) {
      const last = (id: string) => valuesOf(emu, key, id).at(-1);
      assert.deepEqual(["temp", "energy", "running", "sp"].map((id) => last(id)?.value), [-21.5, 70000, 1, 7], key);
      for (const id of ["temp", "energy", "running", "sp", "count"]) {
        const ts = last(id)!.timestamp;
        assert.ok(Number.isInteger(ts) && ts >= t0 - 30 && ts <= Math.ceil(Date.now() / 1000), `${key} ${id}: sample time ${ts} in seconds`);
      }
    }
    const fresh = valuesOf(emu, KEYED, "count").find((v) => v.value === 21)!;
    assert.ok(fresh.timestamp >= t0, `sample time ${fresh.timestamp} of a value set at ${t0}`);
  });

  test("control writes the register; out of range → 406, read-only → 403, and nothing is written", async () => {
    const ok = await emu.control(BOUND, { sp: 42 });
    assert.deepEqual([ok.code, ok.status], [0, "success"]);
    assert.deepEqual(sim.getHolding(1, REG.sp), [42]);
    const range = await emu.control(BOUND, { sp: 5000 });
    assert.equal(range.code, 406, String(range.status));
    const ro = await emu.control(BOUND, { sp: 43, temp: 1 });
    assert.equal(ro.code, 403, String(ro.status));
    assert.deepEqual(sim.getHolding(1, REG.sp), [42], "nothing written by a refused control");
    assert.deepEqual(sim.getHolding(1, REG.temp), [65536 - 215]);
  });

  test("change 0: no publishing and no polling until change 1; again until a new document brings it back", async () => {
    for (const bringBack of ["change 1", "document"] as const) {
      const reply = await emu.change(0, [pair(KEYED)]);
      assert.equal(reply.result, 0);
      await sleep(600);
      const [reports, requests] = [reportsOf(emu, KEYED), polls(sim, KEYED)];
      sim.setHolding(2, REG.count, [bringBack === "change 1" ? 31 : 32]);
      await sleep(1200);
      assert.equal(reportsOf(emu, KEYED), reports, `${bringBack}: nothing published while unbound`);
      assert.ok(polls(sim, KEYED) - requests <= 1, `${bringBack}: not polled while unbound (${polls(sim, KEYED) - requests} requests)`);
      if (bringBack === "change 1") assert.equal((await emu.change(1, [pair(KEYED)])).result, 0);
      else assert.equal((await deliver(emu, document(sim.port, [BOUND, KEYED]), { version: "3" })).result_code, "0");
      const value = bringBack === "change 1" ? 31 : 32;
      await until(() => emu.online(KEYED) && valuesOf(emu, KEYED, "count").some((v) => v.value === value), 10_000, `${bringBack}: online and the value set meanwhile`);
    }
    // The document brought it back by binding it again with its key (the change 0 unbound it on the platform).
    assert.deepEqual(emu.ops.filter((o) => o.type === "bind" && o.device === KEYED).map((o) => o.result), [0, 0]);
  });

  test("a 15 s outage with one report_reply 503: every value arrives with its sample time, in order but the refused one; both devices online again", async () => {
    const base = 100;
    sim.setHolding(1, REG.count, [base]);
    await until(() => valuesOf(emu, BOUND, "count").some((v) => v.value === base), 5000, "the base value");
    await emu.outage();
    const changes: Array<{ value: number; at: number }> = [];
    for (let i = 1; i <= 14; i++) {
      await sleep(1000);
      sim.setHolding(1, REG.count, [base + i]);
      changes.push({ value: base + i, at: Date.now() });
    }
    await sleep(1000);
    emu.failNext("report", 503, { device: BOUND });
    const restoredAt = Date.now();
    await emu.restore();
    await until(() => changes.every((c) => valuesOf(emu, BOUND, "count").some((v) => v.value === c.value)), 30_000, "every value of the outage");
    await until(() => emu.online(BOUND) && emu.online(KEYED), 10_000, "both sub-devices online again");
    const refused = emu.received.find((m) => m.time >= restoredAt && m.topic === `$thing/up/property/${BOUND}` && m.body.method === "report");
    const refusedValue = (refused?.body.params as Record<string, unknown> | undefined)?.count;
    assert.ok(emu.refusals.some((r) => r.reason.startsWith("report code 503")), "one report was answered 503");
    const firsts = new Map<number, number>();
    for (const v of valuesOf(emu, BOUND, "count")) if (typeof v.value === "number" && v.value > base && !firsts.has(v.value)) firsts.set(v.value, v.time);
    for (const c of changes) {
      const time = firsts.get(c.value);
      assert.ok(time !== undefined && Math.abs(time - c.at) <= 1500, `value ${c.value}: sample time ${time} within 1.5 s of ${c.at}`);
    }
    // The refused report is sent again after the ones that were in flight with it (tencent.md 6.4).
    const order = [...firsts.keys()].filter((v) => v !== refusedValue);
    assert.deepEqual(order, changes.map((c) => c.value).filter((v) => v !== refusedValue));
  });

  test("SIGTERM: offline for every sub-device (the one the gateway bound too), an MQTT DISCONNECT, exit 0", async () => {
    const offlineBefore = emu.ops.filter((o) => o.type === "offline").length;
    const stopped = await stop(daemon!);
    daemon = undefined;
    assert.equal(stopped.code, 0);
    assert.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`);
    const offline = emu.ops.filter((o) => o.type === "offline").slice(offlineBefore);
    assert.deepEqual(offline.map((o) => `${o.device} ${o.result}`).sort(), [`${BOUND} 0`, `${KEYED} 0`]);
    await until(() => emu.gatewayDisconnects.length === 1, 3000, "the MQTT DISCONNECT");
  });

  test("a wrong device key: refused and retried with backoff, the stored document still polled, no key in /status", async () => {
    const d = startDaemon(emu, rd, "wrong-key.json", { key: WRONG_KEY });
    daemon = d;
    const refusedBefore = emu.connects.filter((c) => !c.accepted).length;
    const before = [polls(sim, BOUND), polls(sim, KEYED)];
    await d.waitForLog((l) => String(l.msg).includes("refused"), 10_000);
    sim.setHolding(1, REG.count, [4242]);
    await sleep(3500);
    const refused = emu.connects.filter((c) => !c.accepted).slice(refusedBefore);
    assert.ok(refused.length >= 2 && refused.length <= 6, `${refused.length} refused attempts`);
    assert.ok(refused.every((c) => c.code === 4), "CONNACK 4 for a wrong token");
    assert.ok(polls(sim, BOUND) > before[0]! && polls(sim, KEYED) > before[1]!, "both devices of the stored document polled");
    const status = await http(rd, "/status");
    assert.match(status, /"refused"/);
    assert.ok(!status.includes(WRONG_KEY) && !status.includes(SUB_KEY));
    assert.equal((await stop(d)).code, 0);
    daemon = undefined;
  });

  test("a record older than tencent.replayMaxAgeHours is dropped and counted as expired, never re-stamped", async () => {
    // The wrong-key run stored count 4242 for mb-bound; 7.2 s later it is too old for a limit of 0.002 h.
    sim.setHolding(1, REG.count, [4343]);
    await sleep(4500);
    const d = startDaemon(emu, rd, "short-replay.json", { tencent: { replayMaxAgeHours: 0.002 } });
    daemon = d;
    await until(() => valuesOf(emu, BOUND, "count").some((v) => v.value === 4343), 15_000, "the fresh value");
    await d.waitForLog((l) => l.msg === "records older than the replay limit dropped as expired (never re-stamped)", 5000);
    assert.ok(!valuesOf(emu, BOUND, "count").some((v) => v.value === 4242), "the expired value never arrives");
    const status = JSON.parse(await http(rd, "/status")) as { cloud: { counters: Record<string, number> } };
    assert.ok(status.cloud.counters.uplink_expired! >= 1, JSON.stringify(status.cloud.counters));
    assert.match(await http(rd, "/metrics"), /^fieldbridge_uplinks_expired_total\{reason="replay_limit"\} [1-9]/m);
    // The outbox counts it as expired, not as rejected.
    const metrics = await http(rd, "/metrics");
    assert.match(metrics, /^fieldbridge_outbox_dropped_total\{reason="expired"\} [1-9]/m);
    assert.match(metrics, /^fieldbridge_outbox_dropped_total\{reason="rejected"\} 0$/m);
    assert.equal((await stop(d)).code, 0);
    daemon = undefined;
  });

  test("no secret in any output of the three runs: device keys, CONNECT passwords, bind signatures, download URLs", () => {
    const signatures = emu.received.filter((m) => m.body.type === "bind").flatMap((m) => ((m.body.payload as { devices: Array<{ signature: string }> }).devices).map((e) => e.signature));
    const all = outputs.join("\n");
    assert.ok(signatures.length >= 2 && all.length > 1000);
    // A pre-signed download URL is a credential by its query; its path may be logged.
    const urlSignatures = emu.documentUrls.map((u) => new URL(u).searchParams.get("sign")!);
    assert.ok(urlSignatures.length >= 4);
    for (const secret of [GW.psk, SUB_KEY, WRONG_KEY, ";hmacsha256", ...urlSignatures, ...signatures]) assert.ok(!all.includes(secret), `a secret in the output: ${secret.slice(0, 4)}…`);
  });
});
