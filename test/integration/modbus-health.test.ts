/**
 * Device and channel health of the Modbus driver against the real simulators: every unhealthy report
 * says why, and a device that comes back is found quickly on TCP while an RTU line is probed sparingly.
 */
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { defaultFieldOptions, type FieldChannel, type FieldOptions } from "../../src/field/driver.js";
import { createModbusChannel } from "../../src/field/modbus/index.js";
import { createLogger } from "../../src/ops/logger.js";
import { ModbusRtuSimulator, ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { modbusDevice, modbusPoint } from "../helpers/modbus-points.js";
import { RecordingSink } from "../helpers/recording-sink.js";
import { startPtyPair } from "../helpers/socat.js";

function tcpChannel(t: TestContext, port: number, sink: RecordingSink, options: Partial<FieldOptions> = {}): FieldChannel {
  const channel = createModbusChannel(
    { protocol: "modbus-tcp", serverId: "tcp1", name: "line", host: "127.0.0.1", port },
    sink,
    { logger: createLogger("silent"), dataDir: "/nonexistent", options: { ...defaultFieldOptions, modbusTimeoutMs: 150, ...options } },
  );
  t.after(() => channel.stop());
  return channel;
}

/** Every report of a device or channel going unhealthy carries a non-empty reason. */
function assertReasons(sink: RecordingSink): void {
  for (const h of [...sink.deviceHealthLog, ...sink.channelHealthLog]) {
    if (!h.up) assert.ok(typeof h.reason === "string" && h.reason.trim().length > 0, `no reason: ${JSON.stringify(h)}`);
  }
}

/**
 * A TCP relay in front of the simulator that, while `mangle` is set, changes the transaction id of every
 * answer (a device or gateway that does not echo the id it was sent).
 */
async function tidMangler(t: TestContext, target: number): Promise<{ port: number; mangle: boolean }> {
  const state = { port: 0, mangle: false };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: target });
    sockets.add(client).add(upstream);
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d: Buffer) => {
      // The simulator answers whole frames in one write; loopback keeps them whole.
      for (let at = 0; at + 7 <= d.length; at += 6 + d.readUInt16BE(at + 4)) {
        if (state.mangle) d.writeUInt16BE((d.readUInt16BE(at) + 0x100) & 0xffff, at);
      }
      client.write(d);
    });
    for (const s of [client, upstream]) {
      s.on("error", () => undefined);
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  state.port = (server.address() as net.AddressInfo).port;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return state;
}

describe("Modbus health reasons", () => {
  it("a silent unit, a unit that refuses every read, and answers with a wrong transaction id each say why", async (t) => {
    const sim = await ModbusTcpSimulator.start({ units: [1, 2, 3] });
    t.after(() => sim.close());
    const sink = new RecordingSink();
    const channel = tcpChannel(t, sim.port, sink);
    const point = (address: number) => [modbusPoint("v", "holdingRegister", address, "uint16", { pollingMs: 100 })];
    const silent = modbusDevice("tcp1", "silent", 1, point(0));
    const refusing = modbusDevice("tcp1", "refusing", 2, point(40));
    const fine = modbusDevice("tcp1", "fine", 3, point(0));
    sim.setIllegal(2, "holding", 40, 1);
    for (const d of [silent, refusing, fine]) channel.addDevice(d);
    await channel.start();
    await sink.waitFor("fine online", () => sink.of(fine.key, "v").length > 0);
    sim.setDead(1, true);
    await sink.waitFor("silent offline", () => sink.device(silent.key)?.up === false);
    await sink.waitFor("refusing offline", () => sink.device(refusing.key)?.up === false);
    assert.match(sink.device(silent.key)!.reason!, /^no response from unit 1: timeout after 150 ms$/);
    assert.match(sink.device(refusing.key)!.reason!, /^unit 2 refuses every read: modbus exception 2 \(illegal data address\)$/);
    assert.equal(sink.device(fine.key)?.up, true);
    assertReasons(sink);
  });

  it("answers with a wrong transaction id are named in the reason", async (t) => {
    const sim = await ModbusTcpSimulator.start({ units: [1] });
    t.after(() => sim.close());
    const relay = await tidMangler(t, sim.port);
    const sink = new RecordingSink();
    const channel = tcpChannel(t, relay.port, sink);
    const dev = modbusDevice("tcp1", "meter", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("online", () => sink.device(dev.key)?.up === true);
    relay.mangle = true;
    await sink.waitFor("offline", () => sink.device(dev.key)?.up === false);
    assert.match(sink.device(dev.key)!.reason!, /^no response from unit 1: timeout after 150 ms; an answer with the wrong transaction id \d+ \(expected \d+\) was dropped$/);
    relay.mangle = false;
    await sink.waitFor("online again", () => sink.device(dev.key)?.up === true, 5000);
    assertReasons(sink);
  });

  it("a channel that goes down says why, and so do its devices", async (t) => {
    const sim = await ModbusTcpSimulator.start({ units: [1] });
    t.after(() => sim.close());
    const sink = new RecordingSink();
    const channel = tcpChannel(t, sim.port, sink);
    const dev = modbusDevice("tcp1", "meter", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 100 })]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("online", () => sink.device(dev.key)?.up === true);
    await sim.close();
    await sink.waitFor("channel down", () => sink.channel("tcp1")?.up === false);
    await sink.waitFor("device offline", () => sink.device(dev.key)?.up === false);
    assert.ok(sink.channel("tcp1")!.reason);
    assert.match(sink.device(dev.key)!.reason!, /^channel down: /);
    assertReasons(sink);
  });
});

describe("Dead-device probing", () => {
  it("TCP: a device back after a long or a short outage posts again within about two poll periods", async (t) => {
    const PERIOD = 200;
    const sim = await ModbusTcpSimulator.start({ units: [1, 2] });
    t.after(() => sim.close());
    const sink = new RecordingSink();
    const channel = tcpChannel(t, sim.port, sink);
    const dev = modbusDevice("tcp1", "meter", 1, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: PERIOD })]);
    channel.addDevice(dev);
    await channel.start();
    await sink.waitFor("online", () => sink.of(dev.key, "v").length > 0);
    for (const [i, outageMs] of [5000, 1500].entries()) {
      sim.setDead(1, true);
      await sink.waitFor("offline", () => sink.device(dev.key)?.up === false, 5000);
      await sleep(outageMs);
      sim.setHolding(1, 0, [100 + i]);
      const back = Date.now();
      sim.setDead(1, false);
      const first = await sink.waitFor("a sample after the outage", () => sink.of(dev.key, "v", back).find((s) => s.value === 100 + i), 10_000);
      const took = first.at - back;
      // a probe per poll period: at most one period to the next probe, then the answer; the rest is slack for
      // a loaded machine (probing with a growing interval took seconds here)
      assert.ok(took <= 2 * PERIOD + 200, `posted ${took} ms after a ${outageMs} ms outage`);
      assert.equal(sink.device(dev.key)?.up, true);
    }
  });

  it("RTU: a dead slave is probed with a growing interval, a timeout costs the line", async (t) => {
    const pty = await startPtyPair();
    t.after(() => pty.stop());
    const sim = await ModbusRtuSimulator.start({ path: pty.server, units: [1, 2] });
    t.after(() => sim.close());
    const sink = new RecordingSink();
    const channel = createModbusChannel(
      { protocol: "modbus-rtu", serverId: "rtu1", name: "line", path: pty.client, baudRate: 9600, dataBits: 8, stopBits: 1, parity: "none" },
      sink,
      { logger: createLogger("silent"), dataDir: "/nonexistent", options: { ...defaultFieldOptions, modbusTimeoutMs: 200 } },
    );
    t.after(() => channel.stop());
    const dead = modbusDevice("rtu1", "dead", 2, [modbusPoint("v", "holdingRegister", 0, "uint16", { pollingMs: 200 })]);
    channel.addDevice(dead);
    await channel.start();
    await sink.waitFor("online", () => sink.device(dead.key)?.up === true, 5000);
    sim.setDead(2, true);
    await sink.waitFor("offline", () => sink.device(dead.key)?.up === false, 10_000);
    assert.match(sink.device(dead.key)!.reason!, /^no response from unit 2: timeout after 200 ms$/);
    const before = sim.requestsByUnit.get(2) ?? 0;
    await sleep(4000);
    const probes = (sim.requestsByUnit.get(2) ?? 0) - before;
    // backoff 1 s, 2 s, (4 s): two or three probes in 4 s, where probing each period would send ~10
    assert.ok(probes >= 1 && probes <= 3, `${probes} probes in 4 s`);
    assertReasons(sink);
  });
});
