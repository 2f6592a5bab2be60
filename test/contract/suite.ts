/**
 * The platform-neutral behaviours every cloud adapter must show, run against each platform's emulator through the
 * shipped CLI (`dist/cli.js run`) with the real Modbus TCP simulator. The suite speaks no protocol: the world
 * (src/sim/cloud/<platform>/world.ts) does.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import type { TslDocument } from "../../src/things/tsl-types.js";
import { DaemonProcess } from "../helpers/cli.js";
import type { AcceptedValue, CloudWorld as ContractWorld, WorldFactory, WorldNaming } from "../../src/sim/world.js";

const SETPOINT = 500;
const COUNTER = 0;

function tsl(product: string): TslDocument {
  return {
    profile: { productKey: product },
    properties: [
      { identifier: "Counter", name: "Counter", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "100000" } } },
      { identifier: "Setpoint", name: "Setpoint", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "100" } } },
    ],
    events: [],
    services: [],
  };
}

function document(naming: WorldNaming, port: number): Buffer {
  const point = (identifier: string, address: number) => ({
    identifier, operateType: "holdingRegister", registerAddress: String(address), scaling: 1, pollingTime: 200, trigger: 2,
    originalDataType: { type: "uint16", specs: { registerCount: 1, swap16: 0, reverseRegister: 0 } },
  });
  return Buffer.from(JSON.stringify({
    serverList: [{ serverId: "CTMODBUSTCP01", protocol: "TCP", ip: "127.0.0.1", port, name: "contract-tcp" }],
    deviceList: naming.devices.map((deviceName, i) => ({ productKey: naming.product, deviceName, deviceConfig: { serverId: "CTMODBUSTCP01", slaveId: i + 1 } })),
    modelList: [{ profile: { productKey: naming.product }, properties: [point("Counter", COUNTER), point("Setpoint", SETPOINT)] }],
    tslList: [tsl(naming.product)],
  }));
}

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rig {
  dir: string;
  configFile: string;
}

function writeConfig(world: ContractWorld, opts: { wrongSecret?: boolean } = {}): Rig {
  const dir = mkdtempSync(join(tmpdir(), `fb-contract-${world.platform}-`));
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, world.caPem);
  const base = world.bootstrap(opts) as { mqtt?: Record<string, unknown>; download?: Record<string, unknown> } & Record<string, unknown>;
  const mqtt = { ...base.mqtt };
  if (mqtt["tls"] !== false && mqtt["caFile"] === undefined) mqtt["caFile"] = caFile;
  const config = {
    ...base,
    mqtt,
    dataDir: join(dir, "data"),
    download: { caFile, ...base.download },
    uplink: { batchWindowMs: 50 },
    log: { level: "debug" },
  };
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dir, configFile };
}

/** Values of one device and identifier in arrival order. */
const valuesOf = (world: ContractWorld, device: string, identifier: string): AcceptedValue[] =>
  world.accepted().filter((v) => v.device === device && v.identifier === identifier);

export function contractSuite(platform: string, createWorld: WorldFactory): void {
  describe(`contract: ${platform}`, () => {
    let sim: ModbusTcpSimulator;
    let world: ContractWorld;
    let naming: WorldNaming;
    let rig: Rig;
    let daemon: DaemonProcess | undefined;
    let devices: string[];
    const start = () => (daemon = new DaemonProcess(["run", "--config", rig.configFile]));

    before(async () => {
      sim = await ModbusTcpSimulator.start({ units: [1, 2] });
      world = await createWorld({ tls: true });
      naming = world.naming(2);
      devices = naming.devices.map((d) => `${naming.product}/${d}`);
      await world.provision(naming, tsl(naming.product));
      rig = writeConfig(world);
    });
    after(async () => {
      await daemon?.stop("SIGKILL");
      await world?.close();
      await sim?.close();
      if (rig) rmSync(rig.dir, { recursive: true, force: true });
    });

    test("connects, takes the document delivered the platform's way, and every device comes online", async () => {
      start();
      const deadline = Date.now() + 20_000;
      let result;
      for (;;) {
        try {
          result = await world.deliverDocument(document(naming, sim.port), 15_000);
          break;
        } catch (err) {
          // The gateway may not be connected and subscribed yet.
          if (Date.now() > deadline) throw err;
          await sleep(200);
        }
      }
      assert.equal(result.ok, true, `document refused: ${String(result.code)} ${result.message ?? ""}`);
      await until(() => world.allOnline(), 20_000, "every device online");
    });

    test("every device posts its decoded values with their sample times", async () => {
      const t0 = Date.now();
      sim.setHolding(1, COUNTER, [7]);
      sim.setHolding(2, COUNTER, [9]);
      await until(() => valuesOf(world, devices[0]!, "Counter").some((v) => v.value === 7) && valuesOf(world, devices[1]!, "Counter").some((v) => v.value === 9), 10_000, "values of both devices");
      for (const [device, value] of [[devices[0]!, 7], [devices[1]!, 9]] as const) {
        const v = valuesOf(world, device, "Counter").find((x) => x.value === value)!;
        // Some platforms carry sample times in whole seconds.
        assert.ok(v.time >= t0 - 1000 && v.time <= Date.now(), `sample time ${v.time} of ${device} within the test (${t0}..)`);
      }
    });

    test("a property set writes the register; an out-of-range value is refused and writes nothing", async () => {
      const ok = await world.setProperty(devices[0]!, { Setpoint: 42 }, 10_000);
      assert.equal(ok.ok, true, `set refused: ${String(ok.code)}`);
      assert.deepEqual(sim.getHolding(1, SETPOINT, 1), [42]);
      const refused = await world.setProperty(devices[0]!, { Setpoint: 500 }, 10_000);
      assert.equal(refused.ok, false, "an out-of-range set must be refused");
      assert.deepEqual(sim.getHolding(1, SETPOINT, 1), [42], "nothing written");
    });

    test("a 20 s outage: 20 changes arrive afterwards, complete, in order, with their sample times, before any later value", async () => {
      const device = devices[0]!;
      const base = 1000;
      sim.setHolding(1, COUNTER, [base]);
      await until(() => valuesOf(world, device, "Counter").some((v) => v.value === base), 10_000, "the base value");
      await world.outage();
      const changes: Array<{ value: number; at: number }> = [];
      for (let i = 1; i <= 20; i++) {
        await sleep(1000);
        sim.setHolding(1, COUNTER, [base + i]);
        changes.push({ value: base + i, at: Date.now() });
      }
      await sleep(300);
      const restoredAt = Date.now();
      await world.restore();
      // A value sampled after the reconnect: it must arrive after the whole backlog of this device.
      await sleep(500);
      sim.setHolding(1, COUNTER, [base + 100]);
      await until(() => valuesOf(world, device, "Counter").some((v) => v.value === base + 100), 60_000, "the backlog and the value after it");
      const seen = valuesOf(world, device, "Counter").filter((v) => typeof v.value === "number" && (v.value as number) > base);
      const firsts = new Map<number, AcceptedValue>();
      for (const v of seen) if (!firsts.has(v.value as number)) firsts.set(v.value as number, v);
      for (const c of changes) {
        const v = firsts.get(c.value);
        assert.ok(v, `value ${c.value} arrived`);
        assert.ok(Math.abs(v.time - c.at) <= 1500, `value ${c.value}: sample time ${v.time} within 1.5 s of the change at ${c.at}`);
      }
      const order = seen.map((v) => v.value as number).filter((v, i, a) => a.indexOf(v) === i);
      assert.deepEqual(order, [...changes.map((c) => c.value), base + 100], "arrival order is change order, the later value last");
      const later = seen.find((v) => v.value === base + 100)!;
      // Some platforms carry sample times in whole seconds.
      assert.ok(later.time > restoredAt - 1000, "the later value was sampled after the reconnect");
      await until(() => world.allOnline(), 20_000, "every device online again");
    });

    test("kill -9 during an outage, then a restart: the values stored before the crash arrive", async () => {
      const device = devices[1]!;
      await world.outage();
      const values = [2001, 2002, 2003];
      for (const v of values) {
        sim.setHolding(2, COUNTER, [v]);
        await sleep(700);
      }
      await sleep(500);
      await daemon!.stop("SIGKILL");
      start();
      await sleep(1000);
      await world.restore();
      await until(() => values.every((x) => valuesOf(world, device, "Counter").some((v) => v.value === x)), 30_000, "the values stored before the crash");
      await until(() => world.allOnline(), 20_000, "every device online again");
    });

    test("SIGTERM: the devices go offline on the platform, DISCONNECT, exit 0 within 10 s", async () => {
      const stopped = await daemon!.stop("SIGTERM");
      assert.equal(stopped.code, 0, daemon!.stderr);
      assert.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`);
      await until(() => devices.every((d) => world.wentOffline().includes(d)), 6000, "every device announced offline");
    });

    test("wrong credentials: refused, retried at the backoff cap, the daemon stays up and stops cleanly", async () => {
      const bad = writeConfig(world, { wrongSecret: true });
      const d = new DaemonProcess(["run", "--config", bad.configFile]);
      try {
        const before = world.refusedConnects().length;
        await sleep(4500);
        const refused = world.refusedConnects().slice(before);
        assert.ok(refused.length >= 2 && refused.length <= 6, `refused attempts in 4.5 s: ${refused.length}`);
        const gaps = refused.slice(1).map((t, i) => t - refused[i]!);
        assert.ok(gaps.every((g) => g >= 800), `retried at the cap (1 s): gaps ${gaps.join(", ")}`);
        assert.equal(d.child.exitCode, null, "the daemon keeps running");
        const stopped = await d.stop("SIGTERM");
        assert.equal(stopped.code, 0, d.stderr);
      } finally {
        await d.stop("SIGKILL");
        rmSync(bad.dir, { recursive: true, force: true });
      }
    });
  });
}
