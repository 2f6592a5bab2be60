/** A Huawei adapter against the Huawei emulator, with a small fake core on a real on-disk store. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { HuaweiAdapter } from "../../../src/cloud/huawei/adapter.js";
import type { CloudRequest, ConfigOffer, ConfigOutcome, Core, LifecycleAction, Outcome, PlatformDevice } from "../../../src/cloud/platform.js";
import type { BootstrapConfig } from "../../../src/config/bootstrap/load.js";
import { createLogger } from "../../../src/ops/logger.js";
import { Metrics } from "../../../src/ops/metrics.js";
import { HuaweiEmulator } from "../../../src/sim/cloud/huawei/index.js";
import { testPki } from "../../../src/sim/cloud/tls-material.js";
import { openStore, type Store } from "../../../src/store/store.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";

export const PID = "5f1e2d3c4b5a69788796a5b4";
export const GW_ID = "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e";
export const GW_SECRET = "0123456789abcdef0123";
export const DEV1 = { nodeId: "mb-dev-01", deviceId: "3f6c1a52-8d0e-4b7a-9c21-5e4f0a9b7d13", secret: "a1b2c3d4e5f60718293a" };
export const DEV2 = { nodeId: "mb-dev-02", secret: "8f3a1c5e7d9b2f4a6c0e" };
export const DEV3 = { nodeId: "mb-dev-03" };
export const key = (nodeId: string) => `${PID}/${nodeId}`;

export const TSL: TslDocument = {
  profile: { productKey: PID },
  properties: [
    { identifier: "temp_i16", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
    { identifier: "count_u16", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
    { identifier: "sp_int", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "1000" } } },
    { identifier: "sp_scaled", accessMode: "rw", dataType: { type: "float", specs: { min: "0", max: "100" } } },
    { identifier: "running_coil", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
    { identifier: "label", accessMode: "rw", dataType: { type: "text", specs: { length: "8" } } },
  ],
  events: [{ identifier: "alarm", type: "alert", outputData: [{ identifier: "level", dataType: { type: "double", specs: { min: "0", max: "9" } } }] }],
  services: [
    { identifier: "Reset", callType: "sync", inputData: [{ identifier: "mode", dataType: { type: "int", specs: { min: "0", max: "9" } } }], outputData: [{ identifier: "result", dataType: { type: "int", specs: {} } }] },
  ],
};

export const GW_PRODUCT = "gwProd";
export const GW_TSL: TslDocument = {
  profile: { productKey: GW_PRODUCT },
  properties: [
    { identifier: "fbUptimeSeconds", accessMode: "r", dataType: { type: "int", specs: { min: "0" } } },
    { identifier: "fbLoad", accessMode: "r", dataType: { type: "double", specs: {} } },
    { identifier: "fbLogLevel", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "5" } } },
  ],
};

/** The gateway's own device as the core lists it (its key is the adapter's gateway key). */
export function gatewayDevice(): PlatformDevice {
  const k = `${GW_PRODUCT}/${GW_ID}`;
  return { key: k, productKey: GW_PRODUCT, deviceName: GW_ID, tsl: GW_TSL, spec: { key: k, productKey: GW_PRODUCT, deviceName: GW_ID, serverId: "self" } };
}

export function platformDevice(nodeId: string, opcua = false): PlatformDevice {
  const k = key(nodeId);
  return {
    key: k,
    productKey: PID,
    deviceName: nodeId,
    tsl: TSL,
    spec: opcua
      ? { key: k, productKey: PID, deviceName: nodeId, serverId: "ua1", opcua: { displayNamePath: nodeId, properties: [], services: [], events: [] } }
      : { key: k, productKey: PID, deviceName: nodeId, serverId: "mb1", modbus: { slaveId: 1, points: [] } },
  };
}

export class FakeCore implements Core {
  readonly holds: Array<[string, string, boolean]> = [];
  readonly metrics = new Metrics();
  readonly version = "9.9.9-test";
  private ids = 0;
  nextId(): string {
    return String(++this.ids);
  }
  rejectConfig(): void {}
  readonly requests: CloudRequest[] = [];
  readonly offers: ConfigOffer[] = [];
  readonly lifecycles: [string, LifecycleAction][] = [];
  readonly presences: [string, boolean][] = [];
  readonly rejoined: string[] = [];
  answer: (r: CloudRequest) => Outcome | Promise<Outcome> = () => ({ ok: true });
  offerResult: (o: ConfigOffer) => ConfigOutcome | Promise<ConfigOutcome> = () => ({ ok: true });

  constructor(private readonly store: Store, readonly logger: Logger, readonly dataDir: string) {}
  get secrets() {
    return this.store.secrets;
  }
  get kv() {
    return this.store.kv;
  }
  async request(r: CloudRequest): Promise<Outcome> {
    this.requests.push(r);
    return this.answer(r);
  }
  async offerConfig(o: ConfigOffer): Promise<ConfigOutcome> {
    this.offers.push(o);
    return this.offerResult(o);
  }
  async offerFirmware(): Promise<never> {
    throw new Error("no firmware on this platform");
  }
  async lifecycle(device: string, action: LifecycleAction): Promise<void> {
    this.lifecycles.push([device, action]);
  }
  presence(route: string, up: boolean): void {
    this.presences.push([route, up]);
  }
  deviceRejoined(device: string): void {
    this.rejoined.push(device);
  }
  hold(device: string, cause: string, held: boolean): void {
    this.holds.push([device, cause, held]);
  }
}

export interface RigOptions {
  tls?: boolean;
  gatewaySecret?: string;
  connectsPerSecond?: number;
  maxConnections?: number;
  reconnectMaxSeconds?: number;
  dir?: string;
  logger?: Logger;
  tlsServerName?: string;
}

export function config(emu: HuaweiEmulator, o: RigOptions, dataDir: string): BootstrapConfig {
  return {
    gateway: { platform: "huawei", deviceId: GW_ID, deviceSecret: o.gatewaySecret ?? GW_SECRET, productKey: GW_PRODUCT },
    mqtt: {
      host: "127.0.0.1",
      port: emu.port,
      tls: emu.tls,
      ...(emu.tls ? { caFile: join(testPki().dir, "ca.pem") } : {}),
      keepaliveSeconds: 120,
      reconnectMinSeconds: 0.2,
      reconnectMaxSeconds: o.reconnectMaxSeconds ?? 2,
    },
    huawei: { passwordEncoding: "hex", signType: 1, serviceId: "Thing", connectsPerSecond: o.connectsPerSecond ?? 50, maxConnections: o.maxConnections ?? 1500, ...(o.tlsServerName ? { tlsServerName: o.tlsServerName } : {}) },
    dataDir,
    subDevices: [
      { productKey: PID, deviceName: DEV1.nodeId, deviceId: DEV1.deviceId, deviceSecret: DEV1.secret },
      { productKey: PID, deviceName: DEV2.nodeId, deviceSecret: DEV2.secret },
    ],
    download: { allowHttp: false, maxBytes: 1_000_000, timeoutSeconds: 10 },
  } as unknown as BootstrapConfig;
}

export async function startEmulator(tls = true): Promise<HuaweiEmulator> {
  const emu = await HuaweiEmulator.start({ tls });
  emu.addProduct(PID, TSL);
  emu.addProduct(GW_PRODUCT, GW_TSL);
  emu.addDevice({ productId: GW_PRODUCT, nodeId: "gw-node-1", deviceId: GW_ID, secret: GW_SECRET, gateway: true });
  emu.addDevice({ productId: PID, nodeId: DEV1.nodeId, deviceId: DEV1.deviceId, secret: DEV1.secret });
  emu.addDevice({ productId: PID, nodeId: DEV2.nodeId, secret: DEV2.secret });
  emu.addDevice({ productId: PID, nodeId: DEV3.nodeId, secret: "unknown-to-gateway" });
  return emu;
}

export interface Rig {
  emu: HuaweiEmulator;
  adapter: HuaweiAdapter;
  core: FakeCore;
  store: Store;
  dir: string;
  /** Stops the adapter and closes the store (not the emulator, not the dir). */
  shutdown(): Promise<void>;
}

export function makeRig(emu: HuaweiEmulator, o: RigOptions = {}): Rig {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "fb-huawei-"));
  const logger = o.logger ?? createLogger("silent");
  const store = openStore(dir, { logger, sync: "normal" });
  const core = new FakeCore(store, logger, dir);
  const adapter = new HuaweiAdapter(config(emu, o, dir), core);
  return {
    emu,
    adapter,
    core,
    store,
    dir,
    shutdown: async () => {
      await adapter.stop(3000);
      store.close();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const devicesOf = (...nodeIds: string[]) => nodeIds.map((n) => platformDevice(n));

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
