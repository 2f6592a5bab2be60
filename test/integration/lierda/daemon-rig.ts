/**
 * The shipped daemon (`dist/cli.js run`) on the Lierda emulator with the Modbus TCP simulator: four field devices of
 * three products (a type-0 meter, two type-2 boilers, one of them with a wrong DeviceSecret, and a device of a product
 * without keys), their document, and the register values with what they decode to.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LierdaEmulator } from "../../../src/sim/cloud/lierda/index.js";
import { ModbusTcpSimulator } from "../../../src/sim/modbus/index.js";
import { TEST_PKI_DIR } from "../../../src/sim/cloud/tls-material.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";
import { GW, OPEN, T0, T2 } from "./fixture.js";

/** A product with no `lierda.products` entry: its device has no credentials. */
export const NOKEY = "D0D0D0D0";
export const WRONG_SECRET = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF";
export const PLATFORM_SECRET_BOILER02 = "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF";

export interface FieldDevice {
  key: string;
  productId: string;
  nodeEui: string;
  unit: number;
}

const dev = (productId: string, nodeEui: string, unit: number): FieldDevice => ({ key: `${productId}/${nodeEui}`, productId, nodeEui, unit });
export const METER = dev(T0.pid, "METER01", 1);
export const BOILER = dev(T2.pid, "BOILER01", 2);
export const NOCRED = dev(NOKEY, "NOCRED01", 3);
export const BADSECRET = dev(T2.pid, "BOILER02", 4);
export const FIELD = [METER, BOILER, NOCRED, BADSECRET];

/** Register addresses of every device. */
export const REG = { temp: 0, count: 2, flow: 4, sp: 10, onCoil: 0, statusInput: 0 };

export function tsl(productKey: string): TslDocument {
  const num = (type: "int" | "float", min: number, max: number) => ({ type, specs: { min: String(min), max: String(max) } });
  return {
    profile: { productKey },
    properties: [
      { identifier: "temp", name: "temp", accessMode: "r", dataType: num("float", -100, 100) },
      { identifier: "count", name: "count", accessMode: "r", dataType: num("int", 0, 10_000_000) },
      { identifier: "flow", name: "flow", accessMode: "r", dataType: num("float", 0, 1000) },
      { identifier: "sp", name: "sp", accessMode: "rw", dataType: num("int", 0, 1000) },
      { identifier: "on", name: "on", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
      { identifier: "status", name: "status", accessMode: "r", dataType: { type: "enum", specs: { "0": "off", "1": "run", "2": "fault" } } },
    ],
    events: [],
    services: [],
  };
}

function model(productKey: string): Record<string, unknown> {
  const point = (identifier: string, operateType: string, address: number, type: string, registerCount: number, scaling = 1) => ({
    identifier, operateType, registerAddress: String(address), scaling, pollingTime: 200, trigger: 2,
    originalDataType: { type, specs: { registerCount, swap16: 0, reverseRegister: 0 } },
  });
  return {
    profile: { productKey },
    properties: [
      point("temp", "holdingRegister", REG.temp, "int16", 1, 0.1),
      point("count", "holdingRegister", REG.count, "uint32", 2),
      point("flow", "holdingRegister", REG.flow, "float", 2),
      point("sp", "holdingRegister", REG.sp, "int16", 1),
      point("on", "coilStatus", REG.onCoil, "bool", 1),
      point("status", "inputRegister", REG.statusInput, "uint16", 1),
    ],
  };
}

/** The gateway config document: one Modbus TCP channel, `devices` on it (extra entries as given). */
export function document(port: number, devices: ReadonlyArray<{ productId: string; nodeEui: string; unit: number }> = FIELD): Buffer {
  const products = [...new Set(devices.map((d) => d.productId))];
  return Buffer.from(JSON.stringify({
    serverList: [{ serverId: "LDMODBUSTCP01", protocol: "TCP", ip: "127.0.0.1", port, name: "lierda-tcp" }],
    deviceList: devices.map((d) => ({ productKey: d.productId, deviceName: d.nodeEui, deviceConfig: { serverId: "LDMODBUSTCP01", slaveId: d.unit } })),
    modelList: products.map(model),
    tslList: products.map(tsl),
  }));
}

/** Two registers of a uint32 / float32, high word first (swap16 0, reverseRegister 0). */
export const words = (write: (b: Buffer) => void): number[] => {
  const b = Buffer.alloc(4);
  write(b);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
};

/** Puts values in a unit's registers; returns what each property decodes to on the wire (§7.1). */
export function setRegisters(sim: ModbusTcpSimulator, unit: number, v: { temp: number; count: number; flow: number; sp: number; on: boolean; status: number }): Record<string, unknown> {
  sim.setHolding(unit, REG.temp, [Math.round(v.temp * 10) & 0xffff]);
  sim.setHolding(unit, REG.count, words((b) => b.writeUInt32BE(v.count)));
  sim.setHolding(unit, REG.flow, words((b) => b.writeFloatBE(v.flow)));
  sim.setHolding(unit, REG.sp, [v.sp]);
  sim.setCoils(unit, REG.onCoil, [v.on]);
  sim.setInput(unit, REG.statusInput, [v.status]);
  return { temp: v.temp, count: v.count, flow: v.flow, sp: v.sp, on: v.on ? 1 : 0, status: v.status };
}

export interface Rig {
  sim: ModbusTcpSimulator;
  emu: LierdaEmulator;
  dir: string;
  configFile: string;
  dataDir: string;
  /** Modbus write requests (FC 5, 6, 15, 16) per unit, in arrival order. */
  writes: Array<{ unit: number; fc: number; at: number }>;
}

export async function startRig(): Promise<Rig> {
  const sim = await ModbusTcpSimulator.start({ units: FIELD.map((d) => d.unit) });
  const writes: Rig["writes"] = [];
  sim.onRequest = (unit, pdu) => {
    const fc = pdu[0] ?? 0;
    if (fc === 5 || fc === 6 || fc === 15 || fc === 16) writes.push({ unit, fc, at: Date.now() });
  };
  const emu = await LierdaEmulator.start({ openId: OPEN, tls: false, replyTimeoutMs: 8000 });
  emu.addProduct(GW.pid, { productKey: GW.pk, authType: 2 });
  emu.addDevice(GW.pid, GW.eui, { secret: GW.secret });
  emu.addProduct(T0.pid, { productKey: T0.pk, authType: 0, tsl: tsl(T0.pid) });
  emu.addProduct(T2.pid, { productKey: T2.pk, authType: 2, tsl: tsl(T2.pid) });
  emu.addDevice(T2.pid, BOILER.nodeEui, { secret: T2.secret });
  emu.addDevice(T2.pid, BADSECRET.nodeEui, { secret: PLATFORM_SECRET_BOILER02 });
  const dir = mkdtempSync(join(tmpdir(), "fb-lierda-daemon-"));
  const dataDir = join(dir, "data");
  const config = {
    gateway: { platform: "lierda", openId: OPEN, productId: GW.pid, nodeEui: GW.eui, productKey: GW.pk, authType: 2, deviceSecret: GW.secret, firmwareVersion: "1.4.0" },
    mqtt: { host: "127.0.0.1", port: emu.port, tls: false, reconnectMinSeconds: 1, reconnectMaxSeconds: 3, requestTimeoutSeconds: 5 },
    lierda: {
      connectsPerSecond: 50,
      products: { [T0.pid]: { productKey: T0.pk, authType: 0 }, [T2.pid]: { productKey: T2.pk, authType: 2 } },
    },
    subDevices: [
      { productKey: T2.pid, deviceName: BOILER.nodeEui, deviceSecret: T2.secret },
      { productKey: T2.pid, deviceName: BADSECRET.nodeEui, deviceSecret: WRONG_SECRET },
    ],
    dataDir,
    download: { caFile: join(TEST_PKI_DIR, "ca.pem") },
    uplink: { batchWindowMs: 50 },
    log: { level: "info" },
  };
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { sim, emu, dir, configFile, dataDir, writes };
}
