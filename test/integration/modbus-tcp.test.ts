import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { defaultFieldOptions, type FieldChannel, type FieldOptions } from "../../src/field/driver.js";
import { createModbusChannel } from "../../src/field/modbus/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { TcpTransport } from "../../src/field/modbus/tcp-transport.js";
import { ModbusTimeoutError } from "../../src/field/modbus/errors.js";
import { rejectsFieldError } from "../helpers/field-errors.js";
import { modbusDevice, modbusPoint } from "../helpers/modbus-points.js";
import { RecordingSink } from "../helpers/recording-sink.js";
import { captureLogger, type LogLine } from "../helpers/log-capture.js";

interface Rig {
  sim: ModbusTcpSimulator;
  sink: RecordingSink;
  channel: FieldChannel;
  lines: LogLine[];
}

async function rig(t: TestContext, units: number[], options: Partial<FieldOptions> = {}, simOptions = {}): Promise<Rig> {
  const sim = await ModbusTcpSimulator.start({ units, ...simOptions });
  const sink = new RecordingSink();
  const log = captureLogger("info");
  const channel = createModbusChannel(
    { protocol: "modbus-tcp", serverId: "tcp1", name: "line", host: "127.0.0.1", port: sim.port },
    sink,
    { logger: log.logger, dataDir: "/nonexistent", options: { ...defaultFieldOptions, modbusTimeoutMs: 300, ...options } },
  );
  t.after(async () => {
    await channel.stop();
    await sim.close();
  });
  return { sim, sink, channel, lines: log.lines() };
}

describe("Modbus TCP channel against the TCP simulator", () => {
  it("decodes every raw type, with one request per function code and period", async (t) => {
    const { sim, sink, channel } = await rig(t, [1]);
    sim.setHolding(1, 0, [0x4148, 0x0000]); // float 12.5
    sim.setHolding(1, 2, [0xfffe, 0xffff]); // int32 -2, word-swapped
    sim.setHolding(1, 4, [0x00fa]); // 250 x 0.1
    sim.setHolding(1, 6, [0, 0, 1, 0]); // uint64 65536
    sim.setHolding(1, 12, [0x4142, 0x4300, 0x0000]); // "ABC"
    sim.setHolding(1, 15, [0x0100]); // bool on a register
    sim.setHolding(1, 16, [0x00ab, 0xcd01]); // customized data
    sim.setInput(1, 0, [0x3412]); // 0x1234 byte-swapped
    sim.setCoils(1, 3, [true]);
    sim.setDiscrete(1, 5, [true, false]);
    const slow = { pollingMs: 1000 };
    const dev = modbusDevice("tcp1", "meter", 1, [
      modbusPoint("temp", "holdingRegister", 0, "float", slow),
      modbusPoint("energy", "holdingRegister", 2, "int32", { ...slow, reverseRegister: true }),
      modbusPoint("setpoint", "holdingRegister", 4, "int16", { ...slow, scaling: 0.1 }),
      modbusPoint("counter", "holdingRegister", 6, "uint64", slow),
      modbusPoint("name", "holdingRegister", 12, "string", { ...slow, registerCount: 3 }),
      modbusPoint("flag", "holdingRegister", 15, "bool", slow),
      modbusPoint("raw", "holdingRegister", 16, "customized data", { ...slow, registerCount: 2 }),
      modbusPoint("voltage", "inputRegister", 0, "uint16", { ...slow, swap16: true, scaling: 0.01 }),
      modbusPoint("relay", "coilStatus", 3, "bool", slow),
      modbusPoint("door", "inputStatus", 5, "bool", slow),
      modbusPoint("alarm", "inputStatus", 6, "bool", slow),
    ]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("the first cycle", () => sink.received.length >= 11);
    const values = Object.fromEntries(sink.received.slice(0, 11).map((s) => [s.identifier, s.value]));
    assert.deepEqual(values, {
      temp: 12.5,
      energy: -2,
      setpoint: 25,
      counter: 65536n,
      name: "ABC",
      flag: true,
      raw: "00ABCD01",
      voltage: 46.6,
      relay: true,
      door: true,
      alarm: false,
    });
    // holding 0..17 in one read (gaps of 1 and 2 registers read through), input, coils, discrete inputs
    assert.equal(sim.requests, 4);
    assert.ok(sink.received.every((s) => s.deviceKey === "pk/meter" && Math.abs(s.time - Date.now()) < 5000));
    assert.deepEqual(sink.channelHealthLog.map((c) => c.up), [true]);
    assert.equal(sink.device("pk/meter")?.up, true);
    const stats = channel.stats();
    assert.equal(stats.up, true);
    assert.equal(stats.protocol, "modbus-tcp");
    assert.ok(stats.requests >= 4);
    assert.equal(stats.errors, 0);
  });

  it("a write lands in the register and the next poll reads it back, never the old value", async (t) => {
    // two requests in flight and slow answers, so that polls and writes overlap on the connection
    const { sim, sink, channel } = await rig(t, [1], { modbusTcpInFlight: 2 });
    sim.setDelay(1, 40);
    sim.setHolding(1, 0, [0x4148, 0x0000]);
    sim.setHolding(1, 4, [100]);
    sim.setCoils(1, 3, [true]);
    const dev = modbusDevice("tcp1", "meter", 1, [
      modbusPoint("temp", "holdingRegister", 0, "float", { pollingMs: 150 }),
      modbusPoint("setpoint", "holdingRegister", 4, "int16", { pollingMs: 150, scaling: 0.1 }),
      modbusPoint("volts", "inputRegister", 0, "uint16", { pollingMs: 150 }),
      modbusPoint("relay", "coilStatus", 3, "bool", { pollingMs: 150 }),
    ]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("first samples", () => sink.of(dev.key, "setpoint").length >= 2);
    assert.equal(sink.of(dev.key, "setpoint")[0]!.value, 10);

    // Write the moment the device has taken a poll of the setpoint register: that poll carries the old
    // value and its cycle (three reads, two at a time) ends only after the write has been answered.
    let writing: Promise<void> | undefined;
    sim.onRequest = (_unit, pdu) => {
      if (!writing && pdu[0] === 3) writing = channel.write(dev.key, { setpoint: 42.5 }); // FC6
    };
    await sink.waitFor("a poll of the holding registers", () => writing !== undefined);
    sim.onRequest = undefined;
    await writing;
    const from = sink.of(dev.key, "setpoint").length;
    assert.deepEqual(sim.getHolding(1, 4), [425]);
    await sink.waitFor("setpoint read back", () => sink.of(dev.key, "setpoint").length >= from + 2);
    const after = sink.of(dev.key, "setpoint").slice(from).map((s) => s.value);
    assert.ok(after.every((v) => v === 42.5), `setpoint after the write: ${after}`);
    // the other point of that read was still reported
    assert.ok(sink.of(dev.key, "temp").length >= sink.of(dev.key, "setpoint").length);

    const checks: Array<[string, unknown, () => unknown, unknown]> = [
      ["temp", -1.5, () => sim.getHolding(1, 0, 2), [0xbfc0, 0x0000]], // FC16
      ["relay", false, () => sim.getCoils(1, 3), [false]], // FC5
    ];
    for (const [identifier, value, register, raw] of checks) {
      await channel.write(dev.key, { [identifier]: value });
      const n = sink.of(dev.key, identifier).length;
      assert.deepEqual(register(), raw, `${identifier} in the device`);
      await sink.waitFor(`${identifier} read back`, () => sink.of(dev.key, identifier).length >= n + 2);
      const values = sink.of(dev.key, identifier).slice(n).map((s) => s.value);
      assert.ok(values.every((v) => v === value), `${identifier} after the write: ${values}`);
    }
  });

  it("rejects writes it cannot perform with the right reply code", async (t) => {
    const { sim, channel, sink } = await rig(t, [1, 2], { modbusTimeoutMs: 150 });
    sim.setInput(1, 0, [7]);
    sim.setIllegal(1, "holding", 50, 1);
    const dev = modbusDevice("tcp1", "meter", 1, [
      modbusPoint("voltage", "inputRegister", 0, "uint16", { pollingMs: 200 }),
      modbusPoint("door", "inputStatus", 0, "bool", { pollingMs: 200 }),
      modbusPoint("small", "holdingRegister", 10, "uint16", { pollingMs: 200 }),
      modbusPoint("locked", "holdingRegister", 50, "uint16", { pollingMs: 60_000 }),
    ]);
    const dead = modbusDevice("tcp1", "dead", 2, [modbusPoint("x", "holdingRegister", 0, "uint16", { pollingMs: 60_000 })]);
    channel.addDevice(dev);
    channel.addDevice(dead);
    await channel.start();
    await sink.waitFor("first poll", () => sink.of(dev.key, "small").length > 0);
    sim.setDead(2, true);
    const before = sim.getHolding(1, 10);

    await rejectsFieldError(channel.write(dev.key, { voltage: 1 }), "readOnly", /inputRegister is read-only/);
    await rejectsFieldError(channel.write(dev.key, { door: true }), "readOnly", /inputStatus is read-only/);
    await rejectsFieldError(channel.write(dev.key, { nothere: 1 }), "badRequest", /no Modbus mapping/);
    await rejectsFieldError(channel.write(dev.key, { small: 70000 }), "badRequest", /does not fit uint16/);
    // a bad value anywhere rejects the whole set before anything is written
    await rejectsFieldError(channel.write(dev.key, { small: 5, voltage: 1 }), "readOnly");
    assert.deepEqual(sim.getHolding(1, 10), before);
    await rejectsFieldError(channel.write(dev.key, { locked: 1 }), "modbusException", /^modbus exception 2 /);
    await rejectsFieldError(channel.write(dead.key, { x: 1 }), "timeout", /timeout/);
    await rejectsFieldError(channel.write("pk/unknown", { x: 1 }), "unsupported");
    await rejectsFieldError(channel.call(dev.key, "reboot", {}), "unsupported", /service not supported by Modbus devices/);

    await sim.close();
    await sink.waitFor("channel down", () => channel.stats().up === false);
    await rejectsFieldError(channel.write(dev.key, { small: 5 }), "notConnected");
  });

  it("splits a block the device refuses, and logs a refused point once, not per poll", async (t) => {
    const { sim, sink, channel, lines } = await rig(t, [1]);
    sim.setHolding(1, 0, [11, 0, 0, 0, 44]);
    sim.setHolding(1, 20, [99]);
    sim.setIllegal(1, "holding", 2, 1); // inside the gap between the two points below
    sim.setIllegal(1, "holding", 20, 1); // a mapped point the device rejects
    const dev = modbusDevice("tcp1", "meter", 1, [
      modbusPoint("a", "holdingRegister", 0, "uint16", { pollingMs: 100 }),
      modbusPoint("b", "holdingRegister", 4, "uint16", { pollingMs: 100 }),
      modbusPoint("c", "holdingRegister", 20, "uint16", { pollingMs: 100 }),
    ]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("five cycles", () => sink.of(dev.key, "b").length >= 5);
    assert.ok(sink.of(dev.key, "a").every((s) => s.value === 11));
    assert.ok(sink.of(dev.key, "b").every((s) => s.value === 44));
    assert.equal(sink.of(dev.key, "c").length, 0);
    const refused = lines.filter((l) => l.level === "warn" && l.exceptionCode === 2);
    assert.equal(refused.length, 1, JSON.stringify(refused));
    assert.equal(refused[0]!.address, 20);
    assert.equal(refused[0]!.device, dev.key);
    assert.deepEqual(refused[0]!.identifiers, ["c"]);
    // the device answers exceptions, so it is online
    assert.equal(sink.device(dev.key)?.up, true);
    const splits = lines.filter((l) => typeof l.msg === "string" && /reading its parts separately/.test(l.msg as string));
    assert.equal(splits.length, 1);
    // a recovered point is read again
    sim.setIllegal(1, "holding", 20, 1, false);
    await sink.waitFor("c readable again", () => sink.of(dev.key, "c").length > 0);
    assert.equal(sink.of(dev.key, "c")[0]!.value, 99);
  });

  it("devices of one model share their read plan until one of them splits a refused block: only that device reads in parts", async (t) => {
    const { sim, sink, channel, lines } = await rig(t, [1, 2]);
    for (const unit of [1, 2]) sim.setHolding(unit, 0, [10 + unit, 0, 0, 0, 40 + unit]);
    sim.setIllegal(1, "holding", 2, 1); // unit 1 refuses the gap inside the block, unit 2 does not
    // One point list for both devices, as the parsed document gives devices of one model and polling time.
    const points = [
      modbusPoint("a", "holdingRegister", 0, "uint16", { pollingMs: 100 }),
      modbusPoint("b", "holdingRegister", 4, "uint16", { pollingMs: 100 }),
    ];
    const one = modbusDevice("tcp1", "one", 1, points);
    const two = modbusDevice("tcp1", "two", 2, points);
    channel.addDevice(one);
    channel.addDevice(two);
    await channel.start();
    await sink.waitFor("both devices polled five times", () => sink.of(one.key, "b").length >= 5 && sink.of(two.key, "b").length >= 5);
    const before = { one: sim.requestsByUnit.get(1) ?? 0, two: sim.requestsByUnit.get(2) ?? 0 };
    const cyclesBefore = { one: sink.of(one.key, "b").length, two: sink.of(two.key, "b").length };
    await sink.waitFor("five more cycles each", () => sink.of(one.key, "b").length >= cyclesBefore.one + 5 && sink.of(two.key, "b").length >= cyclesBefore.two + 5);
    const perCycle = (unit: 1 | 2, key: string, name: "one" | "two") =>
      ((sim.requestsByUnit.get(unit) ?? 0) - before[name]) / (sink.of(key, "b").length - cyclesBefore[name]);
    assert.ok(Math.round(perCycle(1, one.key, "one")) === 2, `unit 1 reads its two points apart (${perCycle(1, one.key, "one")} requests per cycle)`);
    assert.ok(Math.round(perCycle(2, two.key, "two")) === 1, `unit 2 still reads one block (${perCycle(2, two.key, "two")} requests per cycle)`);
    assert.ok(sink.of(two.key, "a").every((s) => s.value === 12) && sink.of(two.key, "b").every((s) => s.value === 42));
    assert.ok(sink.of(one.key, "a").every((s) => s.value === 11) && sink.of(one.key, "b").every((s) => s.value === 41));
    const splits = lines.filter((l) => typeof l.msg === "string" && /reading its parts separately/.test(l.msg as string));
    assert.deepEqual(splits.map((l) => l.device), [one.key]);
  });

  it("server outage: channel down and devices offline, then back on the same port: online, samples resume", async (t) => {
    const { sim, sink, channel } = await rig(t, [1]);
    sim.setHolding(1, 0, [1]);
    const dev = modbusDevice("tcp1", "meter", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("samples", () => sink.of(dev.key, "v").length >= 2);

    await sim.close();
    await sink.waitFor("device offline", () => sink.device(dev.key)?.up === false);
    assert.equal(sink.channelHealthLog.at(-1)!.up, false);
    assert.match(sink.deviceHealthLog.at(-1)!.reason!, /channel down/);
    await sleep(300);
    const during = sink.of(dev.key, "v").length;
    await sleep(300);
    assert.equal(sink.of(dev.key, "v").length, during, "no samples while down");

    sim.setHolding(1, 0, [2]);
    await sim.listen();
    await sink.waitFor("device online again", () => sink.device(dev.key)?.up === true, 10_000);
    await sink.waitFor("samples resume", () => sink.of(dev.key, "v").at(-1)?.value === 2);
    assert.deepEqual(sink.channelHealthLog.map((c) => c.up), [true, false, true]);
    assert.ok(sim.connections >= 2);
    assert.deepEqual(
      sink.deviceHealthLog.map((d) => d.up),
      [true, false, true],
    );
  });

  it("a silent unit goes offline after three failed cycles, the others keep polling, and it comes back at once", async (t) => {
    const { sim, sink, channel } = await rig(t, [1, 2], { modbusTimeoutMs: 150 });
    const a = modbusDevice("tcp1", "a", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    const b = modbusDevice("tcp1", "b", 2, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(a);
    channel.addDevice(b);
    await channel.start();
    await sink.waitFor("both online", () => sink.device(b.key)?.up === true && sink.of(a.key, "v").length > 0);

    sim.setDead(2, true);
    const deadAt = performance.now();
    await sink.waitFor("b offline", () => sink.device(b.key)?.up === false);
    assert.match(sink.deviceHealthLog.at(-1)!.reason!, /no response from unit 2/);
    // 3 cycles of (1 + 1 retry) x 150 ms: no sooner than ~900 ms
    assert.ok(performance.now() - deadAt >= 800);
    const aBefore = sink.of(a.key, "v").length;
    await sleep(500);
    assert.ok(sink.of(a.key, "v").length - aBefore >= 3, "a keeps its schedule");
    const stats = channel.stats();
    assert.ok(stats.timeouts >= 6 && stats.errors >= stats.timeouts, JSON.stringify(stats));

    sim.setDead(2, false);
    sim.setHolding(2, 0, [77]);
    await sink.waitFor("b online again", () => sink.device(b.key)?.up === true, 10_000);
    await sink.waitFor("b polled", () => sink.of(b.key, "v").at(-1)?.value === 77);
    assert.equal(sink.device(a.key)?.up, true);
    assert.deepEqual(sink.deviceHealthLog.filter((d) => d.key === a.key).map((d) => d.up), [true]);
  });

  it("a TCP gateway's 'target device failed to respond' (exception 11) counts as silence", async (t) => {
    const { sink, channel } = await rig(t, [1], { modbusTimeoutMs: 150 }, { unknownUnit: "exception" });
    const ghost = modbusDevice("tcp1", "ghost", 9, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(ghost);
    await channel.start();
    await sink.waitFor("ghost offline", () => sink.device(ghost.key)?.up === false);
    assert.match(sink.deviceHealthLog.at(-1)!.reason!, /exception 11/);
    assert.deepEqual(sink.deviceHealthLog.map((d) => d.up), [false]);
  });

  it("keeps up to modbusTcpInFlight requests on the connection", async (t) => {
    for (const inFlight of [1, 4]) {
      const { sim, sink, channel } = await rig(t, [1, 2, 3, 4], { modbusTcpInFlight: inFlight });
      const devices = [1, 2, 3, 4].map((u) => {
        sim.setDelay(u, 40);
        return modbusDevice("tcp1", `d${u}`, u, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
      });
      devices.forEach((d) => channel.addDevice(d));
      await channel.start();
      await sink.waitFor("three samples each", () => devices.every((d) => sink.of(d.key, "v").length >= 3));
      if (inFlight === 1) assert.equal(sim.peakPendingAnswers, 1);
      else assert.ok(sim.peakPendingAnswers >= 2 && sim.peakPendingAnswers <= 4, `peak ${sim.peakPendingAnswers}`);
      await channel.stop();
    }
  });

  it("removeDevice stops its polling; stop() releases the connection", async (t) => {
    const { sim, sink, channel } = await rig(t, [1, 2]);
    const a = modbusDevice("tcp1", "a", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 50 })]);
    const b = modbusDevice("tcp1", "b", 2, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 50 })]);
    channel.addDevice(a);
    channel.addDevice(b);
    await channel.start();
    await sink.waitFor("b polled", () => sink.of(b.key, "v").length >= 2);
    await channel.removeDevice(b.key);
    const count = sink.of(b.key, "v").length;
    const requests = sim.requestsByUnit.get(2);
    await sleep(300);
    assert.equal(sink.of(b.key, "v").length, count);
    assert.equal(sim.requestsByUnit.get(2), requests);
    assert.ok(sink.of(a.key, "v").length >= 4);
    await channel.stop();
    await sink.waitFor("connection closed", () => sim.connectionCount === 0);
    const total = sim.requests;
    await sleep(200);
    assert.equal(sim.requests, total);
  });

  it("disables an unusable point with one warning and polls the rest", async (t) => {
    const { sim, sink, channel, lines } = await rig(t, [1]);
    sim.setHolding(1, 0, [9]);
    const dev = modbusDevice("tcp1", "meter", 1, [
      modbusPoint("ok", "holdingRegister", 0, "uint16", { pollingMs: 50 }),
      modbusPoint("bad", "coilStatus", 0, "int16", { pollingMs: 50 }),
    ]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("samples", () => sink.of(dev.key, "ok").length >= 3);
    assert.equal(sink.of(dev.key, "bad").length, 0);
    const warnings = lines.filter((l) => l.msg === "Modbus point disabled");
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.identifier, "bad");
    await rejectsFieldError(channel.write(dev.key, { bad: 1 }), "badRequest", /no Modbus mapping/);
  });

  it("stop() then start() resumes polling", async (t) => {
    const { sim, sink, channel } = await rig(t, [1]);
    sim.setHolding(1, 0, [5]);
    const dev = modbusDevice("tcp1", "meter", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 50 })]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("samples", () => sink.of(dev.key, "v").length >= 2);
    await channel.stop();
    const n = sink.of(dev.key, "v").length;
    await channel.start();
    await sink.waitFor("samples after restart", () => sink.of(dev.key, "v").length >= n + 2);
  });
});

describe("TcpTransport", () => {
  async function transport(t: TestContext, port: number, o: { staleAfterTimeouts?: number; staleAfterMs?: number } = {}) {
    const tr = new TcpTransport({
      host: "127.0.0.1",
      port,
      connectTimeoutMs: 2000,
      staleAfterTimeouts: o.staleAfterTimeouts ?? 5,
      staleAfterMs: o.staleAfterMs ?? 30_000,
    });
    t.after(() => tr.close());
    await tr.open();
    return tr;
  }

  it("a late answer to a timed-out request is not taken for the next request's answer", async (t) => {
    const sim = await ModbusTcpSimulator.start({ units: [1] });
    t.after(() => sim.close());
    sim.setHolding(1, 0, [1, 2]);
    const tr = await transport(t, sim.port);
    sim.setDelay(1, 150);
    await assert.rejects(tr.execute(1, { fc: 3, address: 0, count: 1 }, 100), ModbusTimeoutError);
    sim.setDelay(1, 100);
    // the answer [1] to the first request arrives while this one waits for [2]
    assert.deepEqual(await tr.execute(1, { fc: 3, address: 1, count: 1 }, 1000), { registers: [2] });
  });

  it("drops a connection on which nothing answers any more (half-open)", async (t) => {
    const sim = await ModbusTcpSimulator.start({ units: [1] });
    t.after(() => sim.close());
    const tr = await transport(t, sim.port, { staleAfterTimeouts: 3, staleAfterMs: 200 });
    let lost: string | undefined;
    tr.onLost((reason) => (lost = reason));
    await tr.execute(1, { fc: 3, address: 0, count: 1 }, 100);
    sim.setDead(1, true);
    for (let i = 0; i < 2; i++) await assert.rejects(tr.execute(1, { fc: 3, address: 0, count: 1 }, 100), ModbusTimeoutError);
    assert.equal(lost, undefined, "two timeouts are not enough");
    await assert.rejects(tr.execute(1, { fc: 3, address: 0, count: 1 }, 100), ModbusTimeoutError);
    assert.match(lost ?? "", /no response to 3 requests/);
    assert.equal(tr.isOpen, false);
  });
});
