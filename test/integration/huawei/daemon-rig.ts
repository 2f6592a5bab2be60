/**
 * The pieces of the Huawei end-to-end test through the shipped CLI: the emulator with the gateway and two field
 * devices registered (one connects by deviceId, one by nodeId; a third has no credentials on the gateway), the
 * Modbus TCP simulator with their registers, the gateway config document and the daemon's bootstrap file.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HuaweiEmulator } from "../../../src/sim/cloud/huawei/index.js";
import { ModbusTcpSimulator } from "../../../src/sim/modbus/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";
import { DEV1, DEV2, DEV3, GW_ID, GW_SECRET, PID, key } from "./rig.js";

export { DEV1, DEV2, DEV3, GW_ID, PID };
export const D1 = key(DEV1.nodeId);
export const D2 = key(DEV2.nodeId);
export const D3 = key(DEV3.nodeId);

/** Register layout of every field device (slave id 1, 2, 3 in document order). */
export const REG = { temp: 0, count: 1, sp: 10, coil: 0 } as const;
export const SP_MAX = 1000;

export const E2E_TSL: TslDocument = {
  profile: { productKey: PID },
  properties: [
    { identifier: "temp_i16", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
    { identifier: "count_u16", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
    { identifier: "sp_int", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: String(SP_MAX) } } },
    { identifier: "running_coil", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
  ],
  events: [],
  services: [],
};

/** The document: three devices of one product on one Modbus TCP channel, every point polled every 300 ms, on change. */
export function e2eDocument(modbusPort: number): Buffer {
  const point = (identifier: string, operateType: string, address: number, type: string, scaling = 1) => ({
    identifier, operateType, registerAddress: String(address), scaling, pollingTime: 300, trigger: 2,
    originalDataType: { type, specs: { registerCount: 1, swap16: 0, reverseRegister: 0 } },
  });
  return Buffer.from(JSON.stringify({
    serverList: [{ serverId: "HWMODBUSTCP01", protocol: "TCP", ip: "127.0.0.1", port: modbusPort, name: "huawei-e2e" }],
    deviceList: [DEV1, DEV2, DEV3].map((d, i) => ({ productKey: PID, deviceName: d.nodeId, deviceConfig: { serverId: "HWMODBUSTCP01", slaveId: i + 1 } })),
    modelList: [{
      profile: { productKey: PID },
      properties: [
        point("temp_i16", "inputRegister", REG.temp, "int16", 0.1),
        point("count_u16", "holdingRegister", REG.count, "uint16"),
        point("sp_int", "holdingRegister", REG.sp, "uint16"),
        point("running_coil", "coilStatus", REG.coil, "bool"),
      ],
    }],
    tslList: [E2E_TSL],
  }));
}

export async function startWorld(): Promise<{ emu: HuaweiEmulator; sim: ModbusTcpSimulator }> {
  const sim = await ModbusTcpSimulator.start({ units: [1, 2, 3] });
  // Device 1: -21.5 °C (raw -215, scaling 0.1), 50000, setpoint 7, running; device 2: 20.0, 2, 9, stopped.
  sim.setInput(1, REG.temp, [0x10000 - 215]);
  sim.setHolding(1, REG.count, [50000]);
  sim.setHolding(1, REG.sp, [7]);
  sim.setCoils(1, REG.coil, [true]);
  sim.setInput(2, REG.temp, [200]);
  sim.setHolding(2, REG.count, [2]);
  sim.setHolding(2, REG.sp, [9]);
  const emu = await HuaweiEmulator.start({ tls: true });
  emu.addProduct(PID, E2E_TSL);
  emu.addDevice({ productId: "5f1e2d3c4b5a69788796a000", nodeId: "fb-gateway-01", deviceId: GW_ID, secret: GW_SECRET, gateway: true });
  emu.addDevice({ productId: PID, nodeId: DEV1.nodeId, deviceId: DEV1.deviceId, secret: DEV1.secret });
  emu.addDevice({ productId: PID, nodeId: DEV2.nodeId, secret: DEV2.secret });
  emu.addDevice({ productId: PID, nodeId: DEV3.nodeId, secret: "3c5e7a9b1d2f4a6c8e0b" });
  return { emu, sim };
}

export interface DaemonConfigOptions {
  wrongSecret?: boolean;
  /** A document applied at start (bootstrap `gatewayConfig.file`). */
  document?: Buffer;
  maxConnections?: number;
}

/** Writes a bootstrap file in a fresh directory; its data dir is inside it. */
export function writeDaemonConfig(emu: HuaweiEmulator, o: DaemonConfigOptions = {}): { dir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "fb-huawei-e2e-"));
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, emu.caPem);
  let gatewayConfig: { file: string } | undefined;
  if (o.document) {
    gatewayConfig = { file: join(dir, "gateway-config.json") };
    writeFileSync(gatewayConfig.file, o.document);
  }
  const config = {
    gateway: { platform: "huawei", deviceId: GW_ID, deviceSecret: o.wrongSecret ? "fedcba9876543210fedc" : GW_SECRET },
    mqtt: { host: emu.host, port: emu.port, tls: true, caFile, keepaliveSeconds: 120, reconnectMinSeconds: 0.5, reconnectMaxSeconds: 1.5 },
    huawei: { connectsPerSecond: 50, ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}) },
    subDevices: [
      { productKey: PID, deviceName: DEV1.nodeId, deviceId: DEV1.deviceId, deviceSecret: DEV1.secret },
      { productKey: PID, deviceName: DEV2.nodeId, deviceSecret: DEV2.secret },
    ],
    dataDir: join(dir, "data"),
    download: { caFile },
    uplink: { batchWindowMs: 50 },
    log: { level: "debug" },
    ...(gatewayConfig ? { gatewayConfig } : {}),
  };
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dir, configFile };
}

/** Modbus write requests (function codes 5, 6, 15, 16) the simulator received, per unit. */
export function recordWrites(sim: ModbusTcpSimulator): Array<{ unit: number; fc: number }> {
  const writes: Array<{ unit: number; fc: number }> = [];
  sim.onRequest = (unit, pdu) => {
    const fc = pdu[0]!;
    if (fc === 5 || fc === 6 || fc === 15 || fc === 16) writes.push({ unit, fc });
  };
  return writes;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
