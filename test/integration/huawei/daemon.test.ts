/**
 * Huawei end to end through the shipped CLI (`dist/cli.js run`) with the Modbus TCP simulator and the Huawei
 * emulator: CONFIG_PUSH over HTTPS with its digest, one connection per field device with its own identity, every
 * property with its decoded value and sample time, sets (refused ones write nothing), 40 malformed commands,
 * REMOVE (its waiting records dropped, not polled, across a restart until a document lists it again), the devices
 * held without credentials or over the connection cap, and a refused gateway while a field device reports.
 * (The broker outage through the daemon is in the contract suite, test/contract/huawei.test.ts.)
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { HuaweiEmulator } from "../../../src/sim/cloud/huawei/index.js";
import type { ModbusTcpSimulator } from "../../../src/sim/modbus/index.js";
import { DaemonProcess } from "../../helpers/cli.js";
import { D1, D2, D3, DEV1, DEV2, GW_ID, PID, REG, SP_MAX, e2eDocument, recordWrites, sleep, startWorld, writeDaemonConfig } from "./daemon-rig.js";
import { until } from "./rig.js";

describe("huawei through the daemon", () => {
  let emu: HuaweiEmulator;
  let sim: ModbusTcpSimulator;
  let doc: Buffer;
  let rig: { dir: string; configFile: string };
  let daemon: DaemonProcess | undefined;
  let writes: Array<{ unit: number; fc: number }>;
  let t0 = 0;
  const dirs: string[] = [];
  const start = (configFile = rig.configFile) => (daemon = new DaemonProcess(["run", "--config", configFile]));
  const values = (device: string, identifier: string) => emu.records.properties.filter((p) => p.device === device && p.identifier === identifier);
  // The adapter's hold is logged when the poller has stopped, which may come after the log line a test waits for.
  const held = async (d: DaemonProcess, device: string, cause: string) => {
    await d.waitForLog((l) => l["msg"] === "device held: not polled" && l["device"] === device && l["cause"] === cause, 5000);
    return true;
  };
  const requests = (unit: number) => sim.requestsByUnit.get(unit) ?? 0;

  before(async () => {
    ({ emu, sim } = await startWorld());
    writes = recordWrites(sim);
    doc = e2eDocument(sim.port);
    rig = writeDaemonConfig(emu);
    dirs.push(rig.dir);
  });
  after(async () => {
    await daemon?.stop("SIGKILL");
    await emu?.close();
    await sim?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("CONFIG_PUSH: a wrong digest changes nothing; the document is downloaded over HTTPS and applied; each device connects with its own identity", async () => {
    t0 = Date.now();
    start();
    await until(() => emu.subscribed(GW_ID), 15_000, "the gateway subscribed");
    const bad = await emu.pushConfig(doc, { digest: "0".repeat(64), timeoutMs: 15_000 });
    assert.deepEqual([bad.errcode, bad.body.code], [1, 460], JSON.stringify(bad.body));
    await sleep(700);
    assert.equal(emu.online(D1) || emu.online(D2), false, "a rejected document connects nothing");
    assert.equal(requests(1), 0, "and polls nothing");

    const good = await emu.pushConfig(doc, { version: "v1", timeoutMs: 15_000 });
    assert.match(good.url, /^https:\/\//);
    assert.deepEqual([good.errcode, good.body.code, good.body.digest, good.body.version], [0, 200, good.digest, "v1"]);
    await until(() => emu.subscribed(D1) && emu.subscribed(D2), 10_000, "both field devices subscribed");
    const accepted = (device: string) => emu.records.connects.find((c) => c.device === device && c.accepted)!;
    const c1 = accepted(D1);
    const c2 = accepted(D2);
    assert.deepEqual([c1.id, c1.authType], [DEV1.deviceId, "0"], "device 1 by its deviceId");
    assert.match(c1.clientId, new RegExp(`^${DEV1.deviceId}_0_1_\\d{10}$`));
    assert.deepEqual([c2.id, c2.authType], [DEV2.nodeId, "2"], "device 2 by its nodeId");
    assert.match(c2.clientId, /^mb-dev-02_2_1_\d{10}$/);
    assert.deepEqual([accepted(`5f1e2d3c4b5a69788796a000/fb-gateway-01`).id, accepted(`5f1e2d3c4b5a69788796a000/fb-gateway-01`).authType], [GW_ID, "0"]);
    assert.equal(emu.records.connects.some((c) => c.device === D3), false, "no credentials: never connected");
  });

  test("every property is reported with its decoded value and sample time; the device without credentials is not polled", async () => {
    const expect: Array<[string, string, unknown]> = [
      [D1, "temp_i16", -21.5], [D1, "count_u16", 50000], [D1, "sp_int", 7], [D1, "running_coil", 1],
      [D2, "temp_i16", 20], [D2, "count_u16", 2], [D2, "sp_int", 9], [D2, "running_coil", 0],
    ];
    await until(() => expect.every(([d, id, v]) => values(d, id).some((p) => p.value === v)), 10_000, "every property of both devices");
    for (const [d, id, v] of expect) {
      const p = values(d, id).find((x) => x.value === v)!;
      assert.equal(p.serviceId, "Thing");
      assert.match(p.eventTime, /^\d{8}T\d{6}Z$/);
      // eventTime is floored to the second.
      assert.ok(p.time >= Math.floor(t0 / 1000) * 1000 && p.time <= p.at, `${d} ${id}: sample time ${p.eventTime} within the run, not after its arrival`);
    }
    assert.equal(emu.records.rejected.length, 0, JSON.stringify(emu.records.rejected));
    assert.equal(requests(3), 0, "device 3 (noCredentials) is never polled");
    assert.ok(await held(daemon!, D3, "noCredentials"), "the core holds it");
  });

  test("set writes the register; above-max and read-only sets are refused and write nothing", async () => {
    const ok = await emu.setProperty(D1, { sp_int: 345, running_coil: 0 }, 10_000);
    assert.deepEqual([ok.errcode, ok.body.code], [0, 200], JSON.stringify(ok.body));
    assert.deepEqual(sim.getHolding(1, REG.sp, 1), [345]);
    assert.deepEqual(sim.getCoils(1, REG.coil, 1), [false]);
    const before = writes.length;
    for (const paras of [{ sp_int: SP_MAX + 1 }, { count_u16: 5 }, { temp_i16: 1 }, { sp_int: 5, count_u16: 5 }]) {
      const r = await emu.setProperty(D1, paras, 10_000);
      assert.deepEqual([r.errcode, r.body.code, typeof r.body.message], [1, 460, "string"], JSON.stringify(paras));
    }
    assert.equal(writes.length, before, "no write request reached the field");
    assert.deepEqual([sim.getHolding(1, REG.sp, 1), sim.getHolding(1, REG.count, 1)], [[345], [50000]]);
  });

  test("40 malformed commands: no crash, no field write, errcode 1 / 460 where a mid exists, nothing otherwise", async () => {
    let mid = 40_000;
    const cmd = (o: Record<string, unknown>) => ({ msgType: "cloudReq", serviceId: "Thing", mid: ++mid, cmd: "set", paras: { sp_int: 5 }, ...o });
    const answered = [
      { sp_int: SP_MAX + 1 }, { sp_int: -1 }, { sp_int: 2.5 }, { sp_int: "five" }, { sp_int: null }, { sp_int: [5] }, { sp_int: { v: 5 } },
      { running_coil: 2 }, { running_coil: "on" }, { count_u16: 5 }, { sp_int: 5, nope: 1 }, { sp_int: 5, count_u16: 1 }, {},
    ].map((paras) => cmd({ paras }));
    answered.push(
      cmd({ paras: [5] }), cmd({ paras: "sp_int=5" }), cmd({ paras: null }), cmd({ serviceId: "Other" }), cmd({ serviceId: 7 }),
      cmd({ serviceId: "Gateway", cmd: "REMOVE", paras: { del_subdevice: "YES", productKey: PID, deviceName: DEV2.nodeId } }),
      cmd({ cmd: 9 }), cmd({ cmd: "" }), cmd({ cmd: "Reset" }), cmd({ cmd: "get", paras: { identifiers: ["nope"] } }),
    );
    const valid = JSON.stringify(cmd({}));
    const dropped: string[] = [
      valid.slice(0, 30), valid.slice(0, -1), "", "null", "[]", "17", '"cloudReq"', "\u0000\u00ff\u0013",
      ...[null, 0, 65536, -3, 1.5, "17", [17]].map((m) => JSON.stringify({ ...cmd({}), mid: m })),
      JSON.stringify({ ...cmd({}), mid: undefined }), JSON.stringify({ ...cmd({}), msgType: "deviceReq" }), JSON.stringify({ ...cmd({}), msgType: undefined }),
    ];
    assert.ok(answered.length + dropped.length >= 40, `${answered.length + dropped.length} commands`);
    const before = writes.length;
    const repliesBefore = emu.records.replies.length;
    for (const c of answered) await emu.sendRaw(D1, JSON.stringify(c), 20);
    for (const p of dropped) await emu.sendRaw(D1, p, 20);
    const mids = answered.map((c) => c.mid as number);
    const replies = () => emu.records.replies.slice(repliesBefore).filter((r) => r.device === D1);
    await until(() => replies().length >= mids.length, 10_000, "a reply to every command with a mid");
    await sleep(500);
    assert.deepEqual(replies().map((r) => r.mid).sort(), [...mids].sort(), "one reply per command with a mid, none for the others");
    for (const r of replies()) assert.deepEqual([r.errcode, r.body.code, typeof r.body.message, r.problems], [1, 460, "string", []], r.raw);
    assert.equal(writes.length, before, "no field write");
    assert.deepEqual(sim.getHolding(1, REG.sp, 1), [345]);
    assert.equal(daemon!.child.exitCode, null, "the daemon runs");
    assert.equal(emu.online(D2), true, "a REMOVE sent to a field device removes nothing");
    const ok = await emu.setProperty(D1, { sp_int: 346 }, 10_000);
    assert.deepEqual([ok.errcode, sim.getHolding(1, REG.sp, 1)], [0, [346]], "commands still work");
  });

  test("REMOVE: its waiting records are dropped, it is disconnected and not polled, also after a restart, until a document lists it again", async () => {
    // Device 2's connection goes (deleted on the platform): its next value waits in the outbox.
    emu.deleteDevice(D2);
    await until(() => !emu.online(D2), 5000, "device 2 offline");
    const polled = requests(2);
    sim.setHolding(2, REG.count, [4242]);
    await until(() => requests(2) >= polled + 3, 5000, "device 2 polled twice more");
    await sleep(300);
    // Registered again on the platform, so that only REMOVE keeps it away from here on.
    emu.device(D2)!.deleted = false;
    const r = await emu.removeDevice({ productKey: PID, deviceName: DEV2.nodeId }, { timeoutMs: 10_000 });
    assert.deepEqual([r.errcode, r.body], [0, { code: 200 }]);
    const dropLine = await daemon!.waitForLog((l) => l["msg"] === "device removed by the cloud: its waiting records are dropped" && l["device"] === D2, 5000);
    assert.ok((dropLine["dropped"] as number) >= 1, JSON.stringify(dropLine));
    assert.ok(await held(daemon!, D2, "removed"));
    await sleep(700);
    const after = requests(2);
    await sleep(1500);
    assert.ok(requests(2) <= after + 1, `not polled after REMOVE (${requests(2) - after} requests)`);
    assert.equal(emu.online(D2), false, "not reconnected");

    const stopped = await daemon!.stop("SIGTERM");
    assert.equal(stopped.code, 0, daemon!.stderr);
    const polledBefore = requests(2);
    start();
    await until(() => emu.subscribed(D1) && emu.subscribed(GW_ID), 15_000, "gateway and device 1 back after the restart");
    await sleep(1500);
    assert.equal(emu.online(D2), false, "still removed after a restart");
    assert.equal(requests(2), polledBefore, "and not polled");
    assert.ok(await held(daemon!, D2, "removed"));

    sim.setHolding(2, REG.count, [4343]);
    const pushed = await emu.pushConfig(doc, { timeoutMs: 15_000 });
    assert.equal(pushed.errcode, 0, JSON.stringify(pushed.body));
    await until(() => values(D2, "count_u16").some((p) => p.value === 4343), 15_000, "device 2 back and reporting");
    assert.equal(values(D2, "count_u16").some((p) => p.value === 4242), false, "its dropped value never arrives");
    await until(() => daemon!.logs().some((l) => l["msg"] === "device released: polled again" && l["device"] === D2), 3000, "released");
  });

  test("a gateway with a wrong secret is refused and retried at the maximum backoff; a field device reports; one over the cap is not polled", async () => {
    await daemon!.stop("SIGTERM");
    const bad = writeDaemonConfig(emu, { wrongSecret: true, document: doc, maxConnections: 1 });
    dirs.push(bad.dir);
    const refusedBefore = emu.records.connects.filter((c) => c.id === GW_ID && !c.accepted).length;
    const polled2 = requests(2);
    sim.setHolding(1, REG.count, [777]);
    const d = start(bad.configFile);
    await until(() => values(D1, "count_u16").some((p) => p.value === 777), 15_000, "device 1 reports with the gateway refused");
    await until(() => emu.records.connects.filter((c) => c.id === GW_ID && !c.accepted).length >= refusedBefore + 3, 10_000, "three gateway refusals");
    const refused = emu.records.connects.filter((c) => c.id === GW_ID && !c.accepted).slice(refusedBefore);
    assert.ok(refused.every((c) => c.returnCode === 4), "CONNACK 4");
    const gaps = refused.slice(1).map((c, i) => c.time - refused[i]!.time);
    // reconnectMaxSeconds 1.5 with jitter [0.5, 1]
    assert.ok(gaps.every((g) => g >= 700), `retried at the cap: gaps ${gaps.join(", ")} ms`);
    assert.equal(emu.online(GW_ID), false);
    assert.equal(emu.online(D2), false, "over huawei.maxConnections: not connected");
    assert.equal(requests(2), polled2, "and not polled");
    assert.ok(await held(d, D2, "overLimit"));
    assert.doesNotMatch(d.stdout + d.stderr, /fedcba9876543210fedc|0123456789abcdef0123/, "no secret in the output");
    const stopped = await d.stop("SIGTERM");
    assert.equal(stopped.code, 0, d.stderr);
  });
});
