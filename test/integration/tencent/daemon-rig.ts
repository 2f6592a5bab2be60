/**
 * The world of the end-to-end Tencent tests: the shipped CLI (`dist/cli.js run`) against the Tencent emulator (TLS,
 * HTTPS file server) and the real Modbus TCP simulator. Two sub-devices of one product: `mb-bound` is bound to the
 * gateway in the console, `mb-keyed` is not and has its key in `subDevices` (the gateway binds it).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TencentEmulator } from "../../../src/sim/cloud/tencent/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";
import { DaemonProcess } from "../../helpers/cli.js";
import { until } from "../../helpers/harness.js";
import { freePort } from "../../bench/lib/rig.js";
import { GW, SUB_KEY } from "./harness.js";

export const PRODUCT = "FBMBPRD001";
export const BOUND = `${PRODUCT}/mb-bound`;
export const KEYED = `${PRODUCT}/mb-keyed`;
/** Slave ids of the two devices on the simulator. */
export const UNIT: Record<string, number> = { [BOUND]: 1, [KEYED]: 2 };
/** Register addresses of the points. */
export const REG = { temp: 0, energy: 2, count: 20, sp: 10, coil: 0 };
export const WRONG_KEY = "MTIzNDU2Nzg5MGFiY2RlZg==";

export const TSL: TslDocument = {
  profile: { productKey: PRODUCT },
  properties: [
    { identifier: "temp", name: "temp", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
    { identifier: "energy", name: "energy", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "2000000000" } } },
    { identifier: "count", name: "count", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
    { identifier: "running", name: "running", accessMode: "r", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
    { identifier: "sp", name: "sp", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "1000" } } },
  ],
  events: [],
  services: [],
};
export const IDENTIFIERS = TSL.properties!.map((p) => p.identifier);

/** The gateway config document listing `devices` (document keys) on the simulator at `port`. */
export function document(port: number, devices: string[]): Buffer {
  const point = (identifier: string, operateType: string, address: number, type: string, count: number, scaling = 1) => ({
    identifier, operateType, registerAddress: String(address), scaling, pollingTime: 200, trigger: 2,
    originalDataType: { type, specs: { registerCount: count, swap16: 0, reverseRegister: 0 } },
  });
  return Buffer.from(JSON.stringify({
    serverList: [{ serverId: "TCMODBUSTCP01", protocol: "TCP", ip: "127.0.0.1", port, name: "tencent-e2e" }],
    deviceList: devices.map((key) => ({ productKey: PRODUCT, deviceName: key.split("/")[1], deviceConfig: { serverId: "TCMODBUSTCP01", slaveId: UNIT[key] } })),
    modelList: [{
      profile: { productKey: PRODUCT },
      properties: [
        point("temp", "holdingRegister", REG.temp, "int16", 1, 0.1),
        point("energy", "holdingRegister", REG.energy, "uint32", 2),
        point("count", "holdingRegister", REG.count, "uint16", 1),
        point("running", "coilStatus", REG.coil, "bool", 1),
        point("sp", "holdingRegister", REG.sp, "uint16", 1),
      ],
    }],
    tslList: [TSL],
  }));
}

export interface RunDir {
  dir: string;
  dataDir: string;
  caFile: string;
  httpPort: number;
}

export async function runDir(emu: TencentEmulator): Promise<RunDir> {
  const dir = mkdtempSync(join(tmpdir(), "fb-tencent-e2e-"));
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, emu.caPem);
  return { dir, dataDir: join(dir, "data"), caFile, httpPort: await freePort() };
}

/** Writes a bootstrap config (`name`) into the run dir and starts `fieldbridge run` with it. */
export function startDaemon(emu: TencentEmulator, rd: RunDir, name: string, o: { key?: string; tencent?: Record<string, unknown> } = {}): DaemonProcess {
  const config = {
    gateway: { platform: "tencent", productId: GW.productId, deviceName: GW.deviceName, deviceSecret: o.key ?? GW.psk },
    mqtt: { host: "127.0.0.1", port: emu.port, tls: true, caFile: rd.caFile, keepaliveSeconds: 60, reconnectMinSeconds: 0.2, reconnectMaxSeconds: 1, requestTimeoutSeconds: 2 },
    tencent: { publishesPerSecond: 100, fieldOfflineSeconds: 5, ...o.tencent },
    sessions: { loginsPerSecond: 100 },
    subDevices: [{ productKey: PRODUCT, deviceName: "mb-keyed", deviceSecret: SUB_KEY }],
    dataDir: rd.dataDir,
    download: { caFile: rd.caFile },
    uplink: { batchWindowMs: 50 },
    http: { listen: `127.0.0.1:${rd.httpPort}` },
    log: { level: "info" },
  };
  const file = join(rd.dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return new DaemonProcess(["run", "--config", file]);
}

/** GET on the daemon's status endpoint (text). */
export async function http(rd: RunDir, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${rd.httpPort}${path}`);
  return res.text();
}

export { until };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Values the emulator accepted for one device and identifier, in arrival order. */
export const valuesOf = (emu: TencentEmulator, device: string, identifier: string) =>
  emu.accepted.filter((a) => a.device === device && a.identifier === identifier);

/** Delivers a document by `update_resource`, retrying while the gateway is not subscribed yet. */
export async function deliver(emu: TencentEmulator, body: Buffer, o: { version: string; wrongMd5?: boolean }): Promise<{ state: string; result_code: string; result_msg: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await emu.deliverDocument(body, { ...o, timeoutMs: 15_000 });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}
