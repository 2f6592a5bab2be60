import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { DeviceSpec, ModbusPointSpec, ModbusRawType, OperateType } from "../../src/config/gateway/model.js";
import { defaultFieldOptions, FieldError, type FieldChannel, type FieldOptions, type FieldSink, type Sample } from "../../src/field/driver.js";
import { createModbusChannel, interFrameGapMs } from "../../src/field/modbus/index.js";
import { createLogger } from "../../src/ops/logger.js";
import { ModbusRtuSimulator } from "../../src/sim/modbus/index.js";
import { startPtyPair, type PtyPair } from "../helpers/socat.js";

type Stamped<T> = T & { at: number };

class RecordingSink implements FieldSink {
  readonly received: Stamped<Sample>[] = [];
  readonly devices: Stamped<{ key: string; online: boolean; reason?: string }>[] = [];
  readonly channels: Stamped<{ serverId: string; up: boolean; reason?: string }>[] = [];

  samples(batch: Sample[]): void {
    const at = performance.now();
    for (const s of batch) this.received.push({ ...s, at });
  }
  deviceHealth(key: string, online: boolean, reason?: string): void {
    this.devices.push({ key, online, reason, at: performance.now() });
  }
  channelHealth(serverId: string, up: boolean, reason?: string): void {
    this.channels.push({ serverId, up, reason, at: performance.now() });
  }
  event(): void {}

  of(key: string, identifier: string): Stamped<Sample>[] {
    return this.received.filter((s) => s.deviceKey === key && s.identifier === identifier);
  }
  lastHealth(key: string): Stamped<{ online: boolean; reason?: string }> | undefined {
    return this.devices.filter((d) => d.key === key).at(-1);
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

const WIDTH: Record<string, number> = { bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float: 2, int64: 4, uint64: 4, double: 4 };

function point(identifier: string, operateType: OperateType, address: number, rawType: ModbusRawType, o: Partial<ModbusPointSpec> = {}): ModbusPointSpec {
  return {
    identifier,
    operateType,
    address,
    rawType,
    registerCount: WIDTH[rawType] ?? 1,
    swap16: false,
    reverseRegister: false,
    scaling: 1,
    pollingMs: 200,
    trigger: 1,
    tslType: "double",
    ...o,
  };
}

function device(name: string, slaveId: number, points: ModbusPointSpec[]): DeviceSpec {
  return { key: `pk/${name}`, productKey: "pk", deviceName: name, serverId: "rtu1", modbus: { slaveId, points } };
}

function rtuChannel(t: TestContext, path: string, sink: FieldSink, options: Partial<FieldOptions> = {}): FieldChannel {
  const channel = createModbusChannel(
    { protocol: "modbus-rtu", serverId: "rtu1", name: "line", path, baudRate: 9600, dataBits: 8, stopBits: 1, parity: "none" },
    sink,
    { logger: createLogger("silent"), dataDir: "/nonexistent", options: { ...defaultFieldOptions, modbusTimeoutMs: 500, ...options } },
  );
  t.after(() => channel.stop());
  return channel;
}

async function rejectsWith(p: Promise<unknown>, code: number, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FieldError, `expected FieldError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe("Modbus RTU channel against ServerSerial over a socat pty pair", () => {
  let pty: PtyPair;
  let sim: ModbusRtuSimulator;

  before(async () => {
    pty = await startPtyPair();
    sim = await ModbusRtuSimulator.start({ path: pty.server, units: [1, 2] });
  });
  after(async () => {
    await sim?.close();
    await pty?.stop();
  });

  function reset(): void {
    for (const unit of [1, 2]) {
      sim.setDead(unit, false);
      sim.setHolding(unit, 0, new Array(32).fill(0));
      sim.setInput(unit, 0, new Array(32).fill(0));
      sim.setCoils(unit, 0, new Array(16).fill(false));
      sim.setDiscrete(unit, 0, new Array(16).fill(false));
    }
  }

  it("decodes samples with one request per function code", async (t) => {
    reset();
    sim.setHolding(1, 0, [0x4148, 0x0000, 0x00fa, 0xffff, 0xfffe]);
    sim.setInput(1, 3, [0x3412]);
    sim.setCoils(1, 1, [true]);
    sim.setDiscrete(1, 2, [false, true]);
    const sink = new RecordingSink();
    const channel = rtuChannel(t, pty.client, sink);
    const dev = device("meter", 1, [
      point("temp", "holdingRegister", 0, "float", { pollingMs: 1000 }),
      point("setpoint", "holdingRegister", 2, "int16", { pollingMs: 1000, scaling: 0.1 }),
      point("energy", "holdingRegister", 3, "int32", { pollingMs: 1000 }),
      point("volts", "inputRegister", 3, "uint16", { pollingMs: 1000, swap16: true }),
      point("relay", "coilStatus", 1, "bool", { pollingMs: 1000 }),
      point("door", "inputStatus", 2, "bool", { pollingMs: 1000 }),
      point("alarm", "inputStatus", 3, "bool", { pollingMs: 1000 }),
    ]);
    const before = sim.requests;
    channel.addDevice(dev);
    await channel.start();
    await until(() => sink.received.length >= 7, "the first cycle");
    assert.deepEqual(Object.fromEntries(sink.received.map((s) => [s.identifier, s.value])), {
      temp: 12.5,
      setpoint: 25,
      energy: -2,
      volts: 0x1234,
      relay: true,
      door: false,
      alarm: true,
    });
    assert.equal(sim.requests - before, 4);
    assert.equal(sink.lastHealth(dev.key)?.online, true);
    assert.deepEqual(sink.channels.map((c) => c.up), [true]);
    const stats = channel.stats();
    assert.equal(stats.protocol, "modbus-rtu");
    assert.equal(stats.requests, 4);
    assert.ok(stats.busUtilisation > 0 && stats.busUtilisation <= 1, `utilisation ${stats.busUtilisation}`);
    assert.ok(stats.lastPollMs > 0);
  });

  it("a write lands in the register and is read back on the next poll; input registers reject writes", async (t) => {
    reset();
    sim.setHolding(1, 10, [100, 0, 0]);
    sim.setInput(1, 0, [5]);
    const sink = new RecordingSink();
    const channel = rtuChannel(t, pty.client, sink);
    const dev = device("meter", 1, [
      point("setpoint", "holdingRegister", 10, "int16", { pollingMs: 150, scaling: 0.1 }),
      point("limit", "holdingRegister", 11, "uint32", { pollingMs: 150 }),
      point("relay", "coilStatus", 4, "bool", { pollingMs: 150 }),
      point("volts", "inputRegister", 0, "uint16", { pollingMs: 150 }),
    ]);
    channel.addDevice(dev);
    await channel.start();
    await until(() => sink.of(dev.key, "setpoint").length > 0, "first poll");

    const checks: Array<[string, unknown, () => unknown, unknown]> = [
      ["setpoint", -12.5, () => sim.getHolding(1, 10), [0xff83]], // FC6, -125
      ["limit", 305419896, () => sim.getHolding(1, 11, 2), [0x1234, 0x5678]], // FC16
      ["relay", true, () => sim.getCoils(1, 4), [true]], // FC5
    ];
    for (const [identifier, value, register, raw] of checks) {
      await channel.write(dev.key, { [identifier]: value });
      const n = sink.of(dev.key, identifier).length;
      assert.deepEqual(register(), raw, `${identifier} in the device`);
      await until(() => sink.of(dev.key, identifier).length > n, `${identifier} read back`);
      assert.equal(sink.of(dev.key, identifier)[n]!.value, value);
    }
    await rejectsWith(channel.write(dev.key, { volts: 1 }), 460, /read-only/);
    assert.deepEqual(sim.getInput(1, 0), [5]);
  });

  it("a dead slave does not delay the other slave beyond its own timeout", async (t) => {
    reset();
    // a period well below the timeout, so that one timeout and two are told apart
    const timeoutMs = 500;
    const periodMs = 100;
    const sink = new RecordingSink();
    const channel = rtuChannel(t, pty.client, sink, { modbusTimeoutMs: timeoutMs, modbusRetries: 1 });
    const healthy = device("healthy", 1, [point("v", "holdingRegister", 0, "uint16", { pollingMs: periodMs })]);
    // two reads per cycle on the slave that will die
    const dying = device("dying", 2, [
      point("v", "holdingRegister", 0, "uint16", { pollingMs: periodMs }),
      point("c", "coilStatus", 0, "bool", { pollingMs: periodMs }),
    ]);
    channel.addDevice(healthy);
    channel.addDevice(dying);
    await channel.start();
    await until(() => sink.lastHealth(dying.key)?.online === true && sink.of(healthy.key, "v").length >= 2, "both online");

    sim.setDead(2, true);
    const deadAt = performance.now();
    await until(() => sink.lastHealth(dying.key)?.online === false, "the dead slave reported offline", 10_000);
    const offlineAt = sink.lastHealth(dying.key)!.at;
    assert.match(sink.lastHealth(dying.key)!.reason!, /no response from unit 2/);
    // keep measuring while the dead slave is probed with backoff
    await sleep(1000);

    const times = sink.of(healthy.key, "v").map((s) => s.at).filter((at) => at >= deadAt - periodMs);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    const worst = Math.max(...gaps);
    // one period plus at most one of the dead slave's timeouts, plus scheduling slack on a shared machine;
    // retrying the dead slave back to back (or draining its whole cycle) would take >= 2 timeouts
    assert.ok(worst <= periodMs + timeoutMs + 200, `healthy sample gaps: ${gaps.map((g) => g.toFixed(0)).join(",")}`);
    assert.ok(times.filter((at) => at > deadAt && at < offlineAt).length >= 2, "healthy device sampled while the other died");
    assert.equal(sink.lastHealth(healthy.key)!.online, true);
    assert.ok(channel.stats().timeouts >= 6);

    sim.setDead(2, false);
    sim.setHolding(2, 0, [321]);
    await until(() => sink.lastHealth(dying.key)?.online === true, "the slave back online", 10_000);
    await until(() => sink.of(dying.key, "v").at(-1)?.value === 321, "its samples resume");
  });
});

describe("Modbus RTU: the serial port disappears and comes back", () => {
  it("reports the channel down and the devices offline, then reopens the port and resumes", async (t) => {
    const pty = await startPtyPair();
    let sim = await ModbusRtuSimulator.start({ path: pty.server, units: [3] });
    t.after(async () => {
      await sim.close();
      await pty.stop();
    });
    sim.setHolding(3, 0, [1]);
    const sink = new RecordingSink();
    const channel = rtuChannel(t, pty.client, sink);
    const dev = device("meter", 3, [point("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(dev);
    await channel.start();
    await until(() => sink.of(dev.key, "v").length >= 2, "samples");

    await sim.close();
    await pty.unplug();
    await until(() => sink.channels.at(-1)?.up === false, "channel down");
    await until(() => sink.lastHealth(dev.key)?.online === false, "device offline");
    assert.match(sink.lastHealth(dev.key)!.reason!, /channel down/);
    assert.equal(channel.stats().up, false);

    await pty.plugIn();
    sim = await ModbusRtuSimulator.start({ path: pty.server, units: [3] });
    sim.setHolding(3, 0, [2]);
    await until(() => sink.channels.at(-1)?.up === true, "channel up again", 12_000);
    await until(() => sink.of(dev.key, "v").at(-1)?.value === 2, "samples resume");
    assert.equal(sink.lastHealth(dev.key)?.online, true);
    assert.deepEqual(sink.channels.map((c) => c.up), [true, false, true]);
  });

  it("a port that does not exist yet is retried without an unhandled rejection", async (t) => {
    const sink = new RecordingSink();
    const channel = rtuChannel(t, "/nonexistent/ttyUSB9", sink);
    channel.addDevice(device("meter", 1, [point("v", "holdingRegister", 0, "uint16")]));
    await channel.start();
    await until(() => sink.channels.length > 0, "channel health");
    assert.equal(sink.channels[0]!.up, false);
    assert.match(sink.channels[0]!.reason!, /cannot open \/nonexistent\/ttyUSB9/);
    assert.equal(sink.lastHealth("pk/meter")?.online, false);
  });
});

describe("interFrameGapMs", () => {
  it("is 3.5 character times, and 1.75 ms above 19200 baud", () => {
    // 9600 8N1: 10 bits per character -> 3.5 * 10 / 9600 s
    assert.equal(interFrameGapMs({ baudRate: 9600, dataBits: 8, stopBits: 1, parity: "none" }).toFixed(3), "3.646");
    // 9600 8E1: 11 bits per character
    assert.equal(interFrameGapMs({ baudRate: 9600, dataBits: 8, stopBits: 1, parity: "even" }).toFixed(3), "4.010");
    assert.equal(interFrameGapMs({ baudRate: 1200, dataBits: 8, stopBits: 2, parity: "none" }).toFixed(3), "32.083");
    assert.equal(interFrameGapMs({ baudRate: 38400, dataBits: 8, stopBits: 1, parity: "none" }), 1.75);
    assert.equal(interFrameGapMs({ baudRate: 115200, dataBits: 8, stopBits: 1, parity: "odd" }), 1.75);
  });
});
