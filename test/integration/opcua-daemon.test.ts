/** OPC UA end to end: a pushed config with an AES-encrypted password → a secure session → values in the cloud. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { startHarness, until } from "../helpers/harness.js";
import { GATEWAY, secretsIn } from "../helpers/daemon.js";
import { ROOT } from "../helpers/cli.js";
import { adderSimDevice } from "../helpers/opcua-device.js";
import { loadDriver } from "../../src/field/manager.js";
import { startOpcuaSimulator, type OpcuaSimulator } from "../../src/sim/opcua/index.js";
import type { OpcuaSimulatorOptions } from "../../src/sim/opcua/index.js";
import { encryptOpcuaPassword } from "../../src/config/gateway/crypto.js";
import { boilerTsl as boilerTslOf } from "../../src/sim/demo-config.js";

const BOILER_PRODUCT = "a1DemoBoiler";
const boilerTsl = boilerTslOf(BOILER_PRODUCT);

const gw = GATEWAY;
const PASSWORD = "Ua-S3cret-pass";

/** The adder device (Temperature and the method Add) with the boiler's other variables after Temperature. */
function boilerDevice(): OpcuaSimulatorOptions["devices"][number] {
  const adder = adderSimDevice({ path: "Plant/Boiler1", variable: "Temperature", property: "Temperature" }, 80.5);
  return {
    ...adder,
    variables: [
      ...(adder.variables ?? []),
      { name: "Pressure", dataType: "Double", value: 2.5 },
      { name: "Burner", dataType: "Boolean", value: true },
      { name: "TargetTemperature", dataType: "Double", value: 85 },
    ],
  };
}

function doc(url: string, wrongPassword: string) {
  const server = (serverId: string, name: string, password: string) => ({
    serverId, name, url, secPolicy: "Basic256Sha256", secMode: "SignAndEncrypt", userName: "gw", password: encryptOpcuaPassword(password, gw.deviceSecret), timeout: 5,
  });
  const props = ["Temperature", "Pressure", "Burner", "TargetTemperature"].map((id) => ({ identifier: id, displayName: id, pollingTime: 200 }));
  return {
    modelList: [{ profile: { productKey: BOILER_PRODUCT }, properties: props, services: [{ identifier: "Add", displayName: "Add", inputData: [{ identifier: "a", index: 0 }, { identifier: "b", index: 1 }], outputData: [{ identifier: "sum", index: 0 }] }], events: [] }],
    serverList: [server("UA0GOOD", "ua-good", PASSWORD), server("UA0BAD", "ua-bad", wrongPassword)],
    deviceList: [
      { productKey: BOILER_PRODUCT, deviceName: "boiler-01", deviceConfig: { displayNamePath: "Plant/Boiler1", serverId: "UA0GOOD" } },
      { productKey: BOILER_PRODUCT, deviceName: "boiler-02", deviceConfig: { displayNamePath: "Plant/Boiler1", serverId: "UA0BAD" } },
    ],
    tslList: [boilerTsl],
  };
}

test("Basic256Sha256 SignAndEncrypt with a pushed, AES-encrypted password: values, changes within 1 s, writes, calls, restart recovery; a wrong password is reported and nothing else stops", async (t) => {
  const pki = mkdtempSync(join(tmpdir(), "fb-ua-srv-"));
  const simOpts: OpcuaSimulatorOptions = { port: 0, pkiDir: pki, users: [{ userName: "gw", password: PASSWORD }], allowAnonymous: false, securityModes: ["SignAndEncrypt"], devices: [boilerDevice()] };
  let sim: OpcuaSimulator = await startOpcuaSimulator(simOpts);
  const h = await startHarness({ factory: loadDriver });
  t.after(async () => {
    await h.stop();
    await sim.shutdown();
    rmSync(pki, { recursive: true, force: true });
  });
  const { emu } = h;
  emu.addProduct(BOILER_PRODUCT, { tsl: boilerTsl, dynamicRegistration: true });
  emu.addDevice({ productKey: BOILER_PRODUCT, deviceName: "boiler-01" });
  emu.addDevice({ productKey: BOILER_PRODUCT, deviceName: "boiler-02" });
  await until(() => h.alink.link.connected, 10_000, "connected");
  const wrong = "not-the-password";
  const r = await emu.pushConfig(gw, doc(sim.endpointUrl, wrong));
  assert.equal(r.reply.code, 200, r.reply.message);
  const k1 = `${BOILER_PRODUCT}/boiler-01`;
  const latest = (id: string) => emu.accepted.properties.filter((p) => p.deviceKey === k1 && p.identifier === id).at(-1)?.value;
  await emu.waitFor(() => latest("Temperature") === 80.5 && latest("Burner") === 1, 20_000, "OPC UA values in the cloud");

  // A server-side change reaches the cloud within 1 s.
  const t0 = Date.now();
  sim.set("Plant/Boiler1", "Temperature", 91.25);
  await emu.waitFor(() => latest("Temperature") === 91.25, 3000, "change");
  assert.ok(Date.now() - t0 < 1000, `change took ${Date.now() - t0} ms`);

  // Property set writes the variable; a service call returns the method's output.
  const set = await emu.setProperty({ productKey: BOILER_PRODUCT, deviceName: "boiler-01" }, { TargetTemperature: "120.5" });
  assert.equal(set.code, 200, set.message);
  assert.equal(sim.get("Plant/Boiler1", "TargetTemperature"), 120.5);
  const call = await emu.callService({ productKey: BOILER_PRODUCT, deviceName: "boiler-01" }, "Add", { a: 2, b: 40.5 });
  assert.equal(call.code, 200, call.message);
  assert.deepEqual(call.data, { sum: 42.5 });

  // The channel with the wrong password is reported clearly; its device stays offline; the other one works.
  await until(() => /BadUserAccessDenied/.test(JSON.stringify(h.gw.things.channelHealthOf("UA0BAD") ?? {})), 10_000, "wrong password reported");
  assert.notEqual(h.alink.subs.state(`${BOILER_PRODUCT}/boiler-02`)?.status, "online");

  // Server restart: the device is logged out meanwhile and back after, without restarting the daemon.
  await sim.shutdown();
  await emu.waitFor(() => !emu.onlineSessions(gw).some((s) => s.deviceKey === k1), 20_000, "logout while the server is down");
  sim = await startOpcuaSimulator({ ...simOpts, port: Number(new URL(sim.endpointUrl.replace("opc.tcp", "http")).port) });
  await emu.waitFor(() => emu.onlineSessions(gw).some((s) => s.deviceKey === k1), 30_000, "login after the restart");
  sim.set("Plant/Boiler1", "Temperature", 66.5);
  await emu.waitFor(() => latest("Temperature") === 66.5, 5000, "values after the restart");

  assert.deepEqual(secretsIn(h.logText(), [PASSWORD, wrong, gw.deviceSecret]), []);
});

test("a daemon whose config has no OPC UA channel does not load node-opcua", () => {
  const script = join(ROOT, "test", "helpers", "modbus-only-daemon.ts");
  const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { values: number; opcuaModules: number; modbusModules: number };
  assert.ok(out.values > 0, "the Modbus values reached the cloud");
  assert.ok(out.modbusModules > 0, "the check sees loaded driver modules");
  assert.equal(out.opcuaModules, 0, "node-opcua was not loaded");
});
