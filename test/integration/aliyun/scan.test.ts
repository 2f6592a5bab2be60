/**
 * `fieldbridge scan` through the shipped CLI over loopback Modbus TCP: one unit answers, one answers with an
 * exception (present), the others are silent; probes go one at a time. With `--report` the running daemon sends the
 * units found with thing.list.found to the Alibaba emulator; a thing.topo.add.notify for one of them makes it a
 * sub-device (registered, bound, logged in), also after a restart; a notify for a device never reported adds nothing;
 * a report the cloud refuses is said so.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { DaemonProcess, runCli } from "../../helpers/cli.js";
import { COUNTER, GW, counterTsl, gatewayDoc, startRig, until, type Rig } from "./rig.js";

const LISTED = "a1ScanListed";
const FOUND = "a1Found";

describe("aliyun: fieldbridge scan and discovery (thing.list.found, thing.topo.add.notify)", () => {
  let rig: Rig;
  let daemon: DaemonProcess | undefined;
  const start = () => (daemon = new DaemonProcess(["run", "--config", rig.configFile]));
  const scan = (...extra: string[]) => runCli(["scan", "--config", rig.configFile, "--channel", "TSLTCP01", "--timeout", "200", "--gap", "20", ...extra], { timeoutMs: 30_000 });

  before(async () => {
    // Unit 1 answers; unit 2 has no register 0 (exception 2); units 3.. do not exist (silent).
    rig = await startRig({ units: [1, 2], illegalHolding: [2] });
    rig.sim.setHolding(1, COUNTER, [7]);
    rig.emu.addProduct(LISTED, { tsl: counterTsl(LISTED), dynamicRegistration: true });
    rig.emu.addDevice({ productKey: LISTED, deviceName: "listed-01" });
    rig.emu.addProduct(FOUND, { tsl: counterTsl(FOUND), dynamicRegistration: true });
    writeFileSync(rig.docFile, gatewayDoc(rig.sim.port, [{ productKey: LISTED, deviceName: "listed-01", unit: 1 }], [counterTsl(LISTED)]));
  });
  after(async () => {
    await daemon?.stop("SIGKILL");
    await rig?.close();
  });

  test("prints the unit that answers, the one that answers with an exception as present, and the silent ones; one probe at a time", async () => {
    const probes: Array<{ unit: number; at: number }> = [];
    rig.sim.onRequest = (unit) => probes.push({ unit, at: Date.now() });
    const r = await scan("--units", "1-5");
    rig.sim.onRequest = undefined;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0]!, /^scanning channel TSLTCP01 "line-1" \(Modbus TCP 127\.0\.0\.1:\d+\): units 1-5, timeout 200 ms, gap 20 ms$/);
    assert.deepEqual(lines.slice(1), [
      "unit 1: answers (holding register 0 = 7)",
      "unit 2: answers with exception 2 (illegal data address): present",
      "no answer: 3-5",
      "2 of 5 unit(s) present: 1-2",
    ]);
    assert.deepEqual(probes.map((p) => p.unit), [1, 2, 3, 4, 5], "each unit probed once, in order");
    for (const [a, b] of [[2, 3], [3, 4]] as const) {
      assert.ok(probes[b]!.at - probes[a]!.at >= 200, `unit ${b + 1} was probed only after unit ${a + 1}'s timeout`);
    }
  });

  test("bad arguments are usage errors", async () => {
    const r = await scan("--units", "0-300");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--units: 0-300 is outside 1-247/);
    const c = await runCli(["scan", "--config", rig.configFile, "--channel", "NOSUCH"]);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /no Modbus channel with that serverId in the gateway config \(known: TSLTCP01\)/);
  });

  test("--report: the daemon reports the units found; a notify for one of them makes it a sub-device; one never reported is not added", async () => {
    start();
    await until(() => rig.emu.onlineSessions(GW).some((s) => s.deviceKey === `${LISTED}/listed-01`), 20_000, "the document's device online");
    const r = await scan("--units", "1-3", "--report", FOUND);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /report for the daemon: a1Found\/line-1-u1, a1Found\/line-1-u2 /);
    assert.match(r.stdout, /reported to the cloud \(thing\.list\.found\)\n$/);
    assert.deepEqual(rig.emu.discovery.found.map((f) => f.deviceKey), [`${FOUND}/line-1-u1`, `${FOUND}/line-1-u2`]);

    const reply = await rig.emu.notifyTopoAdd(GW, [`${FOUND}/line-1-u2`, `${FOUND}/line-1-u9`], { timeoutMs: 5000 });
    assert.equal(reply.code, 200);
    await until(() => rig.emu.onlineSessions(GW).some((s) => s.deviceKey === `${FOUND}/line-1-u2`), 15_000, "the notified device logged in");
    assert.ok(rig.emu.topo(GW).includes(`${FOUND}/line-1-u2`));
    assert.ok(!rig.emu.topo(GW).includes(`${FOUND}/line-1-u9`), "a device this gateway never reported is not added");
    assert.ok(!rig.emu.topo(GW).includes(`${FOUND}/line-1-u1`), "a reported device the cloud did not pick is not added");
  });

  test("the added device is a sub-device again after a restart", async () => {
    await daemon!.stop("SIGTERM");
    const before = rig.emu.logins.filter((l) => l.deviceKey === `${FOUND}/line-1-u2` && l.code === 200).length;
    start();
    await until(() => rig.emu.logins.filter((l) => l.deviceKey === `${FOUND}/line-1-u2` && l.code === 200).length > before, 20_000, "logged in after the restart");
  });

  test("a report the cloud refuses (unknown product) is said so", async () => {
    const r = await scan("--units", "1", "--report", "a1NoSuchProduct");
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /not reported: refused: thing\.list\.found refused 6250: product not found\n$/);
  });
});
