import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { defaultFieldOptions, type FieldChannel, type FieldOptions, type FieldSink } from "../../src/field/driver.js";
import { createModbusChannel, interFrameGapMs } from "../../src/field/modbus/index.js";
import { createLogger } from "../../src/ops/logger.js";
import { ModbusRtuSimulator } from "../../src/sim/modbus/index.js";
import { rejectsFieldError } from "../helpers/field-errors.js";
import { modbusDevice, modbusPoint } from "../helpers/modbus-points.js";
import { RecordingSink } from "../helpers/recording-sink.js";
import { startPtyPair, type PtyPair } from "../helpers/socat.js";

function rtuChannel(t: TestContext, path: string, sink: FieldSink, options: Partial<FieldOptions> = {}): FieldChannel {
  const channel = createModbusChannel(
    { protocol: "modbus-rtu", serverId: "rtu1", name: "line", path, baudRate: 9600, dataBits: 8, stopBits: 1, parity: "none" },
    sink,
    { logger: createLogger("silent"), dataDir: "/nonexistent", options: { ...defaultFieldOptions, modbusTimeoutMs: 500, ...options } },
  );
  t.after(() => channel.stop());
  return channel;
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
    const dev = modbusDevice("rtu1", "meter", 1, [
      modbusPoint("temp", "holdingRegister", 0, "float", { pollingMs: 1000 }),
      modbusPoint("setpoint", "holdingRegister", 2, "int16", { pollingMs: 1000, scaling: 0.1 }),
      modbusPoint("energy", "holdingRegister", 3, "int32", { pollingMs: 1000 }),
      modbusPoint("volts", "inputRegister", 3, "uint16", { pollingMs: 1000, swap16: true }),
      modbusPoint("relay", "coilStatus", 1, "bool", { pollingMs: 1000 }),
      modbusPoint("door", "inputStatus", 2, "bool", { pollingMs: 1000 }),
      modbusPoint("alarm", "inputStatus", 3, "bool", { pollingMs: 1000 }),
    ]);
    const before = sim.requests;
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("the first cycle", () => sink.received.length >= 7);
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
    assert.equal(sink.device(dev.key)?.up, true);
    assert.deepEqual(sink.channelHealthLog.map((c) => c.up), [true]);
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
    const dev = modbusDevice("rtu1", "meter", 1, [
      modbusPoint("setpoint", "holdingRegister", 10, "int16", { pollingMs: 150, scaling: 0.1 }),
      modbusPoint("limit", "holdingRegister", 11, "uint32", { pollingMs: 150 }),
      modbusPoint("relay", "coilStatus", 4, "bool", { pollingMs: 150 }),
      modbusPoint("volts", "inputRegister", 0, "uint16", { pollingMs: 150 }),
    ]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("first poll", () => sink.of(dev.key, "setpoint").length > 0);

    const checks: Array<[string, unknown, () => unknown, unknown]> = [
      ["setpoint", -12.5, () => sim.getHolding(1, 10), [0xff83]], // FC6, -125
      ["limit", 305419896, () => sim.getHolding(1, 11, 2), [0x1234, 0x5678]], // FC16
      ["relay", true, () => sim.getCoils(1, 4), [true]], // FC5
    ];
    for (const [identifier, value, register, raw] of checks) {
      await channel.write(dev.key, { [identifier]: value });
      const n = sink.of(dev.key, identifier).length;
      assert.deepEqual(register(), raw, `${identifier} in the device`);
      await sink.waitFor(`${identifier} read back`, () => sink.of(dev.key, identifier).length > n);
      assert.equal(sink.of(dev.key, identifier)[n]!.value, value);
    }
    await rejectsFieldError(channel.write(dev.key, { volts: 1 }), "readOnly", /read-only/);
    assert.deepEqual(sim.getInput(1, 0), [5]);
  });

  it("a dead slave does not delay the other slave beyond its own timeout", async (t) => {
    reset();
    // a period well below the timeout, so that one timeout and two are told apart
    const timeoutMs = 500;
    const periodMs = 100;
    const sink = new RecordingSink();
    const channel = rtuChannel(t, pty.client, sink, { modbusTimeoutMs: timeoutMs, modbusRetries: 1 });
    const healthy = modbusDevice("rtu1", "healthy", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: periodMs })]);
    // two reads per cycle on the slave that will die
    const dying = modbusDevice("rtu1", "dying", 2, [
      modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: periodMs }),
      modbusPoint("c", "coilStatus", 0, "bool", { pollingMs: periodMs }),
    ]);
    channel.addDevice(healthy);
    channel.addDevice(dying);
    await channel.start();
    await sink.waitFor("both online", () => sink.device(dying.key)?.up === true && sink.of(healthy.key, "v").length >= 2);

    sim.setDead(2, true);
    const deadAt = Date.now();
    await sink.waitFor("the dead slave reported offline", () => sink.device(dying.key)?.up === false, 10_000);
    const offlineAt = sink.device(dying.key)!.at;
    assert.match(sink.device(dying.key)!.reason!, /no response from unit 2/);
    // keep measuring while the dead slave is probed with backoff
    await sleep(1000);

    const times = sink.of(healthy.key, "v").map((s) => s.at).filter((at) => at >= deadAt - periodMs);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    const worst = Math.max(...gaps);
    // one period plus at most one of the dead slave's timeouts, plus scheduling slack on a shared machine;
    // retrying the dead slave back to back (or draining its whole cycle) would take >= 2 timeouts
    assert.ok(worst <= periodMs + timeoutMs + 200, `healthy sample gaps: ${gaps.map((g) => g.toFixed(0)).join(",")}`);
    assert.ok(times.filter((at) => at > deadAt && at < offlineAt).length >= 2, "healthy device sampled while the other died");
    assert.equal(sink.device(healthy.key)!.up, true);
    assert.ok(channel.stats().timeouts >= 6);

    sim.setDead(2, false);
    sim.setHolding(2, 0, [321]);
    await sink.waitFor("the slave back online", () => sink.device(dying.key)?.up === true, 10_000);
    await sink.waitFor("its samples resume", () => sink.of(dying.key, "v").at(-1)?.value === 321);
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
    const dev = modbusDevice("rtu1", "meter", 3, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("samples", () => sink.of(dev.key, "v").length >= 2);

    await sim.close();
    await pty.unplug();
    await sink.waitFor("channel down", () => sink.channelHealthLog.at(-1)?.up === false);
    await sink.waitFor("device offline", () => sink.device(dev.key)?.up === false);
    assert.match(sink.device(dev.key)!.reason!, /channel down/);
    assert.equal(channel.stats().up, false);

    await pty.plugIn();
    sim = await ModbusRtuSimulator.start({ path: pty.server, units: [3] });
    sim.setHolding(3, 0, [2]);
    await sink.waitFor("channel up again", () => sink.channelHealthLog.at(-1)?.up === true, 12_000);
    await sink.waitFor("samples resume", () => sink.of(dev.key, "v").at(-1)?.value === 2);
    assert.equal(sink.device(dev.key)?.up, true);
    assert.deepEqual(sink.channelHealthLog.map((c) => c.up), [true, false, true]);
  });

  it("a port that does not exist yet is retried without an unhandled rejection", async (t) => {
    const sink = new RecordingSink();
    const channel = rtuChannel(t, "/nonexistent/ttyUSB9", sink);
    channel.addDevice(modbusDevice("rtu1", "meter", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 200 })]));
    await channel.start();
    await sink.waitFor("channel health", () => sink.channelHealthLog.length > 0);
    assert.equal(sink.channelHealthLog[0]!.up, false);
    assert.match(sink.channelHealthLog[0]!.reason!, /cannot open \/nonexistent\/ttyUSB9/);
    assert.equal(sink.device("pk/meter")?.up, false);
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
