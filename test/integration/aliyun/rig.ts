/**
 * The Alibaba emulator, the Modbus TCP simulator and a bootstrap config for the shipped CLI (`dist/cli.js`), for the
 * end-to-end tests of thing models from the cloud and of discovery.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { CloudEmulator } from "../../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../../src/sim/modbus/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";

export const GW = { productKey: "a1TslGateway", deviceName: "tsl-gw-01", deviceSecret: "TslGatewaySecretForTestsOnly0001" };
export const GW_KEY = `${GW.productKey}/${GW.deviceName}`;
export const COUNTER = 0;

export function counterTsl(productKey: string, identifier = "Counter", type = "int"): TslDocument {
  return {
    profile: { productKey },
    properties: [{ identifier, name: identifier, accessMode: "r", dataType: { type, specs: type === "text" ? { length: "64" } : { min: "0", max: "100000" } } }],
    events: [],
    services: [],
  } as TslDocument;
}

export interface DocDevice {
  productKey: string;
  deviceName: string;
  unit: number;
}

/** One Modbus TCP channel; every product maps `Counter` to holding register 0; `tsls` go into tslList. */
export function gatewayDoc(port: number, devices: DocDevice[], tsls: TslDocument[]): Buffer {
  const products = [...new Set(devices.map((d) => d.productKey))];
  return Buffer.from(JSON.stringify({
    serverList: [{ serverId: "TSLTCP01", protocol: "TCP", ip: "127.0.0.1", port, name: "line-1" }],
    deviceList: devices.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName, deviceConfig: { serverId: "TSLTCP01", slaveId: d.unit } })),
    modelList: products.map((pk) => ({
      profile: { productKey: pk },
      properties: [{
        identifier: "Counter", operateType: "holdingRegister", registerAddress: String(COUNTER), scaling: 1, pollingTime: 200, trigger: 2,
        originalDataType: { type: "uint16", specs: { registerCount: 1, swap16: 0, reverseRegister: 0 } },
      }],
    })),
    tslList: tsls,
  }));
}

export interface Rig {
  emu: CloudEmulator;
  sim: ModbusTcpSimulator;
  dir: string;
  dataDir: string;
  configFile: string;
  docFile: string;
  /** The daemon's status endpoint (http.listen). */
  httpPort: number;
  close(): Promise<void>;
}

export async function startRig(opts: { units: number[]; illegalHolding?: number[] }): Promise<Rig> {
  const sim = await ModbusTcpSimulator.start({ units: opts.units });
  for (const u of opts.illegalHolding ?? []) sim.setIllegal(u, "holding", 0, 16);
  const emu = await CloudEmulator.start({ tls: false });
  emu.addDevice({ ...GW, gateway: true });
  const dir = mkdtempSync(join(tmpdir(), "fb-aliyun-"));
  const dataDir = join(dir, "data");
  const docFile = join(dir, "gateway-config.json");
  const configFile = join(dir, "config.json");
  const httpPort = await freePort();
  writeFileSync(configFile, JSON.stringify({
    gateway: { platform: "aliyun", ...GW },
    mqtt: { host: "127.0.0.1", port: emu.port, tls: false, keepaliveSeconds: 30, reconnectMinSeconds: 0.2, reconnectMaxSeconds: 1, requestTimeoutSeconds: 3 },
    dataDir,
    gatewayConfig: { file: docFile },
    uplink: { batchWindowMs: 50 },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { level: "debug" },
  }, null, 2));
  return {
    emu, sim, dir, httpPort, dataDir, configFile, docFile,
    async close() {
      await emu.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { until } from "../../helpers/harness.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
