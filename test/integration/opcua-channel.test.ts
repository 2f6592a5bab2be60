/**
 * The OPC UA channel against a real node-opcua server (None/None, anonymous) that advertises tiny
 * OperationLimits (one node per browse, read and monitored-item call), so every request must be batched.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { DeviceSpec, OpcuaChannelSpec, OpcuaPropertySpec } from "../../src/config/gateway/model.js";
import { defaultFieldOptions, FieldError, type FieldChannel } from "../../src/field/driver.js";
import { createOpcuaChannel } from "../../src/field/opcua/index.js";
import { createLogger } from "../../src/ops/logger.js";
import { startOpcuaSimulator, type OpcuaSimulator } from "../../src/sim/opcua/index.js";
import { RecordingSink } from "../helpers/recording-sink.js";

const BOILER = "Plant/Area 1/Boiler1";
const PUMP = "Plant/Area 1/Pump";

let dir: string;
let sim: OpcuaSimulator;
let channel: FieldChannel;
const rec = new RecordingSink();

const prop = (identifier: string, displayName: string, extra: Partial<OpcuaPropertySpec> = {}): OpcuaPropertySpec => ({
  identifier,
  displayName,
  trigger: 2,
  tslType: "double",
  ...extra,
});

const boiler: DeviceSpec = {
  key: "pkB/boiler1",
  productKey: "pkB",
  deviceName: "boiler1",
  serverId: "OPC1",
  opcua: {
    displayNamePath: `Objects/${BOILER}`,
    properties: [
      prop("temp", "Temperature"),
      prop("count", "Counter", { tslType: "int" }),
      prop("running", "Running", { tslType: "bool" }),
      prop("label", "Label", { tslType: "text" }),
      prop("stamp", "Stamp", { tslType: "date" }),
      prop("setpoint", "Setpoint", { tslType: "float" }),
      prop("level", "Level", { tslType: "int" }),
      prop("serial", "Serial", { tslType: "int" }),
      prop("pulse", "Pulse", { trigger: 1, samplingMs: 200 }),
      prop("absent", "NoSuchVariable"),
    ],
    services: [
      { identifier: "add", displayName: "Add", inputs: [{ identifier: "x", index: 0 }, { identifier: "y", index: 1 }], outputs: [{ identifier: "total", index: 0 }] },
      { identifier: "fail", displayName: "Fail", inputs: [], outputs: [] },
    ],
    events: [{ identifier: "overTemp", displayName: "OverTemperature", outputs: [{ identifier: "limit", index: 1 }, { identifier: "value", index: 0 }] }],
  },
};

const pump: DeviceSpec = {
  key: "pkP/pump",
  productKey: "pkP",
  deviceName: "pump",
  serverId: "OPC1",
  opcua: { displayNamePath: PUMP, properties: [prop("speed", "Speed")], services: [], events: [] },
};

const ghost: DeviceSpec = {
  key: "pkP/ghost",
  productKey: "pkP",
  deviceName: "ghost",
  serverId: "OPC1",
  opcua: { displayNamePath: "Plant/Area 9/Ghost", properties: [prop("speed", "Speed")], services: [], events: [] },
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "fb-opcua-channel-"));
  sim = await startOpcuaSimulator({
    port: 0,
    pkiDir: path.join(dir, "server-pki"),
    securityPolicies: ["None"],
    securityModes: ["None"],
    operationLimits: { maxNodesPerBrowse: 1, maxNodesPerRead: 1, maxMonitoredItemsPerCall: 1, maxNodesPerWrite: 1 },
    devices: [
      {
        path: BOILER,
        variables: [
          { name: "Temperature", dataType: "Double", value: 20.5 },
          { name: "Counter", dataType: "Int64", value: 9007199254740993n },
          { name: "Running", dataType: "Boolean", value: true },
          { name: "Label", dataType: "String", value: "north" },
          { name: "Stamp", dataType: "DateTime", value: new Date(1_700_000_000_000) },
          { name: "Setpoint", dataType: "Float", value: 1.5 },
          { name: "Level", dataType: "Int16", value: 7 },
          { name: "Serial", dataType: "UInt32", value: 12345, writable: false },
          { name: "Pulse", dataType: "Double", value: 1 },
        ],
        methods: [
          { name: "Add", inputs: [{ name: "a", dataType: "Double" }, { name: "b", dataType: "Int32" }], outputs: [{ name: "sum", dataType: "Double" }], run: ([a, b]) => [Number(a) + Number(b)] },
          {
            name: "Fail",
            inputs: [],
            outputs: [],
            run: () => {
              throw new Error("refused");
            },
          },
        ],
        events: [{ name: "OverTemperature", fields: [{ name: "Value", dataType: "Double" }, { name: "Limit", dataType: "Double" }] }],
      },
      { path: PUMP, variables: [{ name: "Speed", dataType: "Double", value: 1450 }] },
    ],
  });
  const spec: OpcuaChannelSpec = {
    protocol: "opcua",
    serverId: "OPC1",
    name: "line-1",
    url: sim.endpointUrl,
    securityPolicy: "None",
    securityMode: "None",
    timeoutMs: 5000,
  };
  channel = createOpcuaChannel(spec, rec, {
    logger: createLogger("silent"),
    dataDir: path.join(dir, "data"),
    options: { ...defaultFieldOptions, opcuaSamplingMs: 100 },
  });
  await channel.start();
  channel.addDevice(boiler);
  channel.addDevice(pump);
  channel.addDevice(ghost);
  await rec.waitFor("both devices online", () => rec.device(boiler.key)?.up && rec.device(pump.key)?.up, 20_000);
});

after(async () => {
  await channel?.stop();
  await sim?.shutdown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function fieldError(p: Promise<unknown>): Promise<FieldError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FieldError, `expected a FieldError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the operation to fail");
}

describe("OPC UA channel, None/None anonymous", () => {
  test("devices resolve through nested folders within OperationLimits; initial values reach the sink", async () => {
    assert.equal(rec.channel("OPC1")?.up, true);
    const first = (id: string) => rec.waitFor(`first ${id}`, () => rec.of(boiler.key, id)[0], 5000);
    assert.equal((await first("temp")).value, 20.5);
    assert.equal((await first("count")).value, 9007199254740993n);
    assert.equal((await first("running")).value, true);
    assert.equal((await first("label")).value, "north");
    assert.equal((await first("stamp")).value, 1_700_000_000_000);
    assert.equal((await first("level")).value, 7);
    const speed = await rec.waitFor("pump speed", () => rec.of(pump.key, "speed")[0], 5000);
    assert.equal(speed.value, 1450);
    // samples carry a time (the server's source timestamp or now), never before the server started
    assert.ok(speed.time > Date.now() - 120_000 && speed.time <= Date.now() + 1000);
    // the device went online before its first sample was handed over
    assert.ok(rec.device(boiler.key)!.at <= rec.of(boiler.key, "temp")[0]!.at);
  });

  test("a device whose path does not resolve is offline with a reason; the others proceed", async () => {
    const h = await rec.waitFor("ghost health", () => rec.device(ghost.key), 5000);
    assert.equal(h.up, false);
    assert.match(h.reason ?? "", /Plant\/Area 9\/Ghost/);
    assert.match(h.reason ?? "", /no node "Area 9" under Plant/);
    assert.equal(rec.device(boiler.key)?.up, true);
    assert.equal(rec.device(pump.key)?.up, true);
    assert.equal(rec.of(ghost.key, "speed").length, 0);
    // a write to it is refused as "not connected", not attempted
    assert.equal((await fieldError(channel.write(ghost.key, { speed: 1 }))).code, "notConnected");
  });

  test("a device whose node appears later on the server comes online without a reconnect", async () => {
    assert.equal(rec.device(ghost.key)?.up, false);
    sim.addDevice({ path: "Plant/Area 9/Ghost", variables: [{ name: "Speed", dataType: "Double", value: 3 }] });
    await rec.waitFor("ghost online", () => rec.device(ghost.key)?.up, 20_000);
    const s = await rec.waitFor("ghost sample", () => rec.of(ghost.key, "speed")[0], 5000);
    assert.equal(s.value, 3);
    assert.equal(rec.channelHealthLog.filter((h) => h.key === "OPC1").length, 1, "the channel stayed up throughout");
  });

  test("a server-side change reaches the sink within 1 s", async () => {
    const t0 = Date.now();
    sim.set(BOILER, "Temperature", 81.25);
    const s = await rec.waitFor("changed temperature", () => rec.of(boiler.key, "temp", t0).find((x) => x.value === 81.25), 3000);
    assert.ok(s.at - t0 < 1000, `change took ${s.at - t0} ms`);
    assert.ok(Math.abs(s.time - t0) < 1000, "the sample time is the server's source timestamp of the change");
  });

  test("trigger 1 yields a sample every sampling period even without changes", async () => {
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 1300));
    const n = rec.of(boiler.key, "pulse", t0).length;
    // 200 ms period over 1.3 s: about 6; a change-only subscription would give 0
    assert.ok(n >= 4 && n <= 9, `expected about 6 periodic samples, got ${n}`);
    // trigger 2 properties stay change-based
    assert.equal(rec.of(pump.key, "speed", t0).length, 0);
  });

  test("write coerces each value to the variable's DataType", async () => {
    await channel.write(boiler.key, { setpoint: 42.5, level: -3, count: 2n ** 40n + 1n, running: false, label: "south", stamp: 1_700_000_123_000 });
    assert.equal(sim.get(BOILER, "Setpoint"), 42.5);
    assert.equal(sim.get(BOILER, "Level"), -3);
    assert.equal(sim.get(BOILER, "Counter"), 2n ** 40n + 1n);
    assert.equal(sim.get(BOILER, "Running"), false);
    assert.equal(sim.get(BOILER, "Label"), "south");
    assert.equal(sim.get(BOILER, "Stamp"), 1_700_000_123_000);
    // and the change comes back through the subscription
    await rec.waitFor("written setpoint", () => rec.of(boiler.key, "setpoint").find((s) => s.value === 42.5), 3000);
  });

  test("write errors: value out of the variable's range 460, read-only 100003, unmapped 460, unknown device 460", async () => {
    const range = await fieldError(channel.write(boiler.key, { level: 40000 }));
    assert.equal(range.code, "badRequest");
    assert.match(range.message, /out of range for OPC UA Int16/);
    assert.equal(sim.get(BOILER, "Level"), -3);

    const readOnly = await fieldError(channel.write(boiler.key, { serial: 1 }));
    assert.equal(readOnly.code, "opcuaBadStatus");
    assert.equal(readOnly.message, "BadNotWritable");

    const unmapped = await fieldError(channel.write(boiler.key, { nonsense: 1 }));
    assert.equal(unmapped.code, "badRequest");
    const missingNode = await fieldError(channel.write(boiler.key, { absent: 1 }));
    assert.equal(missingNode.code, "badRequest");
    assert.match(missingNode.message, /NoSuchVariable/);
    assert.equal((await fieldError(channel.write("pk/none", { temp: 1 }))).code, "badRequest");
  });

  test("call passes inputs by index, coerced to the argument types, and keys the outputs by identifier", async () => {
    assert.deepEqual(await channel.call(boiler.key, "add", { y: 3, x: 2.5 }), { total: 5.5 });
    const notInt = await fieldError(channel.call(boiler.key, "add", { x: 1, y: 1.5 }));
    assert.equal(notInt.code, "badRequest");
    const missing = await fieldError(channel.call(boiler.key, "add", { x: 1 }));
    assert.equal(missing.code, "badRequest");
    assert.match(missing.message, /input y missing/);
    const bad = await fieldError(channel.call(boiler.key, "fail", {}));
    assert.equal(bad.code, "opcuaBadStatus");
    assert.equal(bad.message, "BadInvalidArgument");
    assert.equal((await fieldError(channel.call(boiler.key, "nosuch", {}))).code, "badRequest");
  });

  test("events emitted on the device node map their fields by index to sink.event", async () => {
    const t0 = Date.now();
    sim.raiseEvent(BOILER, "OverTemperature", { Value: 99.5, Limit: 90 });
    const e = await rec.waitFor("event", () => rec.events.find((x) => x.at >= t0), 3000);
    assert.equal(e.deviceKey, boiler.key);
    assert.equal(e.identifier, "overTemp");
    assert.deepEqual(e.value, { limit: 90, value: 99.5 });
    assert.ok(Math.abs(e.time - t0) < 2000);
  });

  test("removeDevice stops its samples and leaves the others running", async () => {
    await channel.removeDevice(pump.key);
    const t0 = Date.now();
    sim.set(PUMP, "Speed", 10);
    sim.set(BOILER, "Temperature", 12.5);
    await rec.waitFor("boiler still reported", () => rec.of(boiler.key, "temp", t0).find((s) => s.value === 12.5), 3000);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(rec.of(pump.key, "speed", t0).length, 0);
    assert.equal((await fieldError(channel.write(pump.key, { speed: 1 }))).code, "badRequest");
  });

  test("stats count the requests of the channel", () => {
    const s = channel.stats();
    assert.equal(s.serverId, "OPC1");
    assert.equal(s.protocol, "opcua");
    assert.equal(s.up, true);
    // one-node batches: at least one browse per path level and device, one CreateMonitoredItems per item
    assert.ok(s.requests > 20, `requests ${s.requests}`);
    assert.ok(s.errors >= 1, "the refused method call counts as an error");
    assert.equal(s.timeouts, 0);
  });
});
