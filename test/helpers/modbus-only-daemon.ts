/**
 * Runs a gateway with a Modbus-only config until values reach the emulator, then prints which packages were
 * loaded (node-opcua and modbus-serial are CommonJS, so they appear in the require cache when loaded).
 */
import { createRequire } from "node:module";
import { startHarness, until } from "./harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "./gwdoc.js";
import { GATEWAY } from "./daemon.js";
import { loadDriver } from "../../src/field/manager.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";

const sim = await ModbusTcpSimulator.start({ units: [1] });
sim.setHolding(1, 0, [0, 5]);
const h = await startHarness({ factory: loadDriver });
h.emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
h.emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
await until(() => h.alink.link.connected, 10_000, "connected");
await h.emu.pushConfig(GATEWAY, modbusDoc({ devices: 1, points: 2, port: sim.port, pollingTime: 200 }));
await h.emu.waitFor(() => h.emu.accepted.properties.some((p) => p.identifier === "P0"), 10_000, "values");
const cache = Object.keys(createRequire(import.meta.url).cache);
const result = {
  values: h.emu.accepted.properties.length,
  opcuaModules: cache.filter((f) => f.includes("/node_modules/node-opcua")).length,
  modbusModules: cache.filter((f) => f.includes("/node_modules/modbus-serial") || f.includes("/src/field/modbus/")).length,
};
await h.stop();
await sim.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
