/** From a pushed gateway config to values accepted by the cloud, with real Modbus servers (TCP and RTU). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, until, type Harness } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER, type ModbusDocOptions } from "../helpers/gwdoc.js";
import { GATEWAY } from "../helpers/daemon.js";
import { ModbusTcpSimulator, ModbusRtuSimulator } from "../../src/sim/modbus/index.js";
import { startPtyPair } from "../helpers/socat.js";
import { loadDriver } from "../../src/field/manager.js";

const gw = GATEWAY;
const key = (i: number) => `${METER}/${deviceName("meter", i)}`;

function f32(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

/** Unit u: P0 = 1000*u + 7 (uint32), P1 = 123456, Setpoint = 10, Level = 2.5, Status = 3. */
function fill(sim: { setHolding(u: number, a: number, v: number[]): void; setInput(u: number, a: number, v: number[]): void }, units: number[]) {
  for (const u of units) {
    sim.setHolding(u, 0, [0, 1000 * u + 7, 1, 57920]);
    sim.setHolding(u, 500, [10]);
    sim.setHolding(u, 502, f32(2.5));
    sim.setInput(u, 0, [3]);
  }
}

async function daemon(doc: Partial<ModbusDocOptions> & { devices: number }, config: Record<string, unknown> = {}): Promise<Harness> {
  const h = await startHarness({ factory: loadDriver, config });
  h.emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  for (let i = 0; i < doc.devices; i++) h.emu.addDevice({ productKey: METER, deviceName: deviceName("meter", i) });
  await until(() => h.alink.link.connected, 10_000, "connected");
  const r = await h.emu.pushConfig(gw, modbusDoc({ points: 2, ...doc }));
  assert.equal(r.reply.code, 200, r.reply.message);
  return h;
}

const latest = (h: Harness, k: string, id: string) => h.emu.accepted.properties.filter((p) => p.deviceKey === k && p.identifier === id).at(-1)?.value;
const count = (h: Harness, k: string, id: string, since = 0) => h.emu.accepted.properties.filter((p) => p.deviceKey === k && p.identifier === id && p.time >= since).length;

test("Modbus TCP: pushed config → decoded values accepted by the cloud; trigger 1 reports every poll; a property set writes the register", async (t) => {
  const sim = await ModbusTcpSimulator.start({ units: [1, 2] });
  fill(sim, [1, 2]);
  const h = await daemon({ devices: 2, port: sim.port, pollingTime: 200, trigger: 1 });
  t.after(async () => {
    await h.stop();
    await sim.close();
  });
  await h.emu.waitFor(() => latest(h, key(1), "Level") !== undefined && latest(h, key(0), "Status") !== undefined, 10_000, "values");
  assert.equal(latest(h, key(0), "P0"), 1007);
  assert.equal(latest(h, key(1), "P0"), 2007);
  assert.equal(latest(h, key(0), "P1"), 123456);
  assert.equal(latest(h, key(0), "Setpoint"), 10);
  assert.equal(latest(h, key(0), "Level"), 2.5);
  assert.equal(latest(h, key(0), "Status"), 3);
  const since = Date.now();
  await new Promise((r) => setTimeout(r, 1200));
  assert.ok(count(h, key(0), "P0", since) >= 4, `trigger 1 reports every poll: ${count(h, key(0), "P0", since)}`);

  const set = await h.emu.setProperty({ productKey: METER, deviceName: deviceName("meter", 0) }, { Setpoint: 42, Level: "7.25" });
  assert.equal(set.code, 200, set.message);
  assert.deepEqual(sim.getHolding(1, 500, 1), [42]);
  assert.deepEqual(sim.getHolding(1, 502, 2), f32(7.25));
  await h.emu.waitFor(() => latest(h, key(0), "Setpoint") === 42 && latest(h, key(0), "Level") === 7.25, 5000, "written values read back and reported");
  const ro = await h.emu.setProperty({ productKey: METER, deviceName: deviceName("meter", 0) }, { Status: 1 });
  assert.equal(ro.code, 460);
  assert.deepEqual(sim.getInput(1, 0, 1), [3]);
});

test("Modbus TCP: trigger 2 reports only changes; a device outage logs it out and recovery logs it in again", async (t) => {
  const sim = await ModbusTcpSimulator.start({ units: [1, 2] });
  fill(sim, [1, 2]);
  const h = await daemon({ devices: 2, port: sim.port, pollingTime: 150, trigger: 2 }, { field: { modbusTimeoutMs: 300, modbusRetries: 0 } });
  t.after(async () => {
    await h.stop();
    await sim.close();
  });
  await h.emu.waitFor(() => latest(h, key(0), "P0") === 1007 && latest(h, key(1), "P0") === 2007, 10_000, "first values");
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(count(h, key(0), "P0"), 1, "unchanged value reported once");
  sim.setHolding(1, 0, [0, 1008]);
  await h.emu.waitFor(() => latest(h, key(0), "P0") === 1008, 5000, "changed value");
  assert.equal(count(h, key(0), "P0"), 2);

  // Unit 1 stops answering: offline → logout; unit 2 is unaffected.
  sim.setDead(1, true);
  await h.emu.waitFor(() => !h.emu.onlineSessions(gw).some((s) => s.deviceKey === key(0)), 10_000, "logout of the dead device");
  assert.ok(h.emu.onlineSessions(gw).some((s) => s.deviceKey === key(1)));
  assert.equal(h.alink.subs.state(key(0))?.status, "offline");
  sim.setDead(1, false);
  await h.emu.waitFor(() => h.emu.onlineSessions(gw).some((s) => s.deviceKey === key(0)), 15_000, "login after recovery");
  // After recovery the first value is reported again even though it did not change (trigger 2).
  await h.emu.waitFor(() => count(h, key(0), "P0") === 3, 5000, "value reported after recovery");

  // The whole server goes away (TCP outage): both devices are logged out, then back.
  await sim.close();
  await h.emu.waitFor(() => h.emu.onlineSessions(gw).length === 0, 10_000, "all logged out");
  await sim.listen();
  await h.emu.waitFor(() => h.emu.onlineSessions(gw).length === 2, 20_000, "both back");
});

test("Modbus RTU over a pty pair: values accepted; a dead slave does not delay the other beyond its timeout", async (t) => {
  const pty = await startPtyPair();
  const sim = await ModbusRtuSimulator.start({ path: pty.server, units: [1, 2] });
  fill(sim, [1, 2]);
  const h = await daemon(
    { devices: 2, pollingTime: 200, trigger: 1, server: { protocol: "RTU", serialPort: "7", baudRate: 9600, byteSize: 8, stopBits: 1, parity: "N", name: "rs485" } },
    { serialPorts: { "7": pty.client }, field: { modbusTimeoutMs: 300, modbusRetries: 0 } },
  );
  t.after(async () => {
    await h.stop();
    await sim.close();
    await pty.stop();
  });
  await h.emu.waitFor(() => latest(h, key(0), "P0") === 1007 && latest(h, key(1), "Level") === 2.5, 15_000, "RTU values");
  sim.setDead(2, true);
  const since = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  const times = [...new Set(h.emu.accepted.properties.filter((p) => p.deviceKey === key(0) && p.identifier === "P0" && p.time >= since).map((p) => p.time))].sort((a, b) => a - b);
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  assert.ok(times.length >= 8, `healthy slave samples in 3 s: ${times.length}`);
  // Period 200 ms: once the dead slave is found offline it is only probed now and then, so the healthy one keeps
  // its period; no gap is longer than one period plus one timeout (300 ms), with an allowance for a loaded machine.
  const sorted = [...gaps].sort((a, b) => a - b);
  assert.ok(sorted[Math.floor(sorted.length / 2)]! <= 260, `median gap ${sorted[Math.floor(sorted.length / 2)]} ms`);
  assert.ok(Math.max(...gaps) <= 200 + 300 + 400, `largest gap ${Math.max(...gaps)} ms`);
  const set = await h.emu.setProperty({ productKey: METER, deviceName: deviceName("meter", 0) }, { Setpoint: 77 });
  assert.equal(set.code, 200, set.message);
  assert.deepEqual(sim.getHolding(1, 500, 1), [77]);
});
