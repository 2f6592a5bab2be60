/**
 * The world around a benchmarked daemon, all on 127.0.0.1: the cloud emulator (with counters fed by its record
 * events), fast Modbus TCP simulators, the gateway config document, and the bootstrap config + data dir.
 * This runs in the scenario process, never in the daemon's, so the daemon's CPU and memory are its own.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CloudEmulator } from "../../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../../src/sim/modbus/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";

export const GATEWAY = { productKey: "a1BenchGw", deviceName: "bench-gw-01", deviceSecret: "Bq7Lm2Xv9Rk4Nw8Yp1Hs6Jd3Fg5Ta0Cz" };
export const METER = "a1BenchMeter";

/** A fixed per-device secret, so the emulator and the bootstrap config agree without a registration round. */
export function secretOf(deviceName: string): string {
  return createHash("sha256").update(`fieldbridge-bench/${deviceName}`).digest("hex").slice(0, 32);
}

export function deviceName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(4, "0")}`;
}

/** P0..P(n-1): int 0..65535, read-only. */
export function meterTsl(points: number, productKey = METER): TslDocument {
  const properties: NonNullable<TslDocument["properties"]> = [];
  for (let i = 0; i < points; i++) {
    properties.push({ identifier: `P${i}`, name: `P${i}`, accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } });
  }
  return { schema: "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json", profile: { productKey }, properties, events: [], services: [] };
}

// ---------------------------------------------------------------- field

export interface FieldDevice {
  name: string;
  key: string;
  serverId: string;
  /** Index into `ModbusField.sims`. */
  sim: number;
  unit: number;
}

export interface ModbusField {
  sims: ModbusTcpSimulator[];
  devices: FieldDevice[];
  points: number;
  close(): Promise<void>;
}

export interface ModbusFieldOptions {
  devices: number;
  points: number;
  /** Devices per simulator (one gateway channel each); at most 247 unit ids per TCP endpoint. */
  perChannel: number;
  namePrefix?: string;
  /** Device names in order (a platform's naming rules); default `${namePrefix}-0000`, … */
  names?: string[];
  productKey?: string;
}

/** One simulator per channel; device i is unit 1 + (i mod perChannel) on simulator floor(i / perChannel). */
export async function startModbusField(o: ModbusFieldOptions): Promise<ModbusField> {
  if (o.perChannel < 1 || o.perChannel > 247) throw new Error(`perChannel must be 1..247, got ${o.perChannel}`);
  if (o.names && o.names.length < o.devices) throw new Error(`${o.devices} devices but only ${o.names.length} names`);
  const channels = Math.ceil(o.devices / o.perChannel);
  const sims: ModbusTcpSimulator[] = [];
  const devices: FieldDevice[] = [];
  const pk = o.productKey ?? METER;
  try {
    for (let c = 0; c < channels; c++) {
      const count = Math.min(o.perChannel, o.devices - c * o.perChannel);
      const units = Array.from({ length: count }, (_, k) => k + 1);
      const sim = await ModbusTcpSimulator.start({ units, size: Math.max(64, o.points + 8) });
      sims.push(sim);
      for (const unit of units) {
        const name = o.names?.[devices.length] ?? deviceName(o.namePrefix ?? "meter", devices.length);
        devices.push({ name, key: `${pk}/${name}`, serverId: channelId(c), sim: c, unit });
        sim.setHolding(unit, 0, Array.from({ length: o.points }, (_, i) => (unit * 100 + i) & 0xffff));
      }
    }
  } catch (err) {
    await Promise.allSettled(sims.map((s) => s.close()));
    throw err;
  }
  return {
    sims,
    devices,
    points: o.points,
    close: async () => void (await Promise.allSettled(sims.map((s) => s.close()))),
  };
}

function channelId(c: number): string {
  return `BENCHTCP${String(c).padStart(3, "0")}`;
}

export interface DocumentOptions {
  periodMs: number;
  trigger: 1 | 2;
  productKey?: string;
}

/**
 * The gateway config document for a Modbus field: every device reads P0..P(n-1) as consecutive uint16 holding
 * registers from address 0, so the planner makes one block read per device per cycle.
 */
export function modbusDocument(field: ModbusField, o: DocumentOptions): Record<string, unknown> {
  const pk = o.productKey ?? METER;
  const properties = Array.from({ length: field.points }, (_, i) => ({
    identifier: `P${i}`,
    operateType: "holdingRegister",
    registerAddress: `0x${i.toString(16)}`,
    scaling: 1,
    pollingTime: o.periodMs,
    trigger: o.trigger,
    originalDataType: { type: "uint16", specs: { registerCount: 1, swap16: 0, reverseRegister: 0 } },
  }));
  return {
    modelList: [{ profile: { productKey: pk }, properties }],
    serverList: field.sims.map((sim, c) => ({ protocol: "TCP", ip: "127.0.0.1", port: sim.port, name: `bench-tcp-${c}`, serverId: channelId(c) })),
    deviceList: field.devices.map((d) => ({ productKey: pk, deviceName: d.name, deviceConfig: { slaveId: d.unit, serverId: d.serverId } })),
    tslList: [meterTsl(field.points, pk)],
  };
}

// ---------------------------------------------------------------- cloud

export interface CloudCounts {
  /** Publishes received from the gateway (any topic). */
  messages: number;
  bytes: number;
  /** Property values the platform accepted (pack and single posts). */
  properties: number;
  rejected: number;
  loginsOk: number;
  loginsFailed: number;
  /** The first few rejection reasons. */
  rejectReasons: string[];
}

/** Counts what the emulator accepts, from its record events (its record lists are kept tiny on purpose). */
export class CloudCounter {
  private readonly c: CloudCounts = { messages: 0, bytes: 0, properties: 0, rejected: 0, loginsOk: 0, loginsFailed: 0, rejectReasons: [] };

  constructor(emu: CloudEmulator) {
    emu.on("record", (e) => {
      switch (e.kind) {
        case "properties":
          this.c.properties++;
          break;
        case "received":
          this.c.messages++;
          this.c.bytes += e.record.payload.length;
          break;
        case "rejected":
          this.c.rejected++;
          if (this.c.rejectReasons.length < 5) this.c.rejectReasons.push(`${e.record.code} ${e.record.reason}`);
          break;
        case "logins":
          if (e.record.code === 200) this.c.loginsOk++;
          else this.c.loginsFailed++;
          break;
      }
    });
  }

  snapshot(): CloudCounts {
    return { ...this.c, rejectReasons: [...this.c.rejectReasons] };
  }
}

export interface Cloud {
  emu: CloudEmulator;
  counter: CloudCounter;
  close(): Promise<void>;
}

export interface CloudOptions {
  tls: boolean;
  /** Sub-devices to register, with their products' thing models. */
  devices: Array<{ productKey: string; deviceName: string }>;
  products: Record<string, TslDocument>;
  onlineCap?: number;
}

export async function startCloud(o: CloudOptions): Promise<Cloud> {
  // recordLimit: the lists are trimmed from the front on every add; the counters above replace them.
  const emu = await CloudEmulator.start({ tls: o.tls, onlineCap: o.onlineCap ?? 1500, recordLimit: 50, fileServerTls: false });
  emu.addDevice({ ...GATEWAY, gateway: true });
  for (const [pk, tsl] of Object.entries(o.products)) emu.addProduct(pk, { tsl });
  for (const d of o.devices) emu.addDevice({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: secretOf(d.deviceName) });
  const counter = new CloudCounter(emu);
  return { emu, counter, close: () => emu.close() };
}

// ---------------------------------------------------------------- daemon config

export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunDir {
  dir: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  httpPort: number;
  cleanup(): void;
}

export interface DaemonConfigOptions {
  emu: CloudEmulator;
  subDevices: Array<{ productKey: string; deviceName: string }>;
  /** The gateway config document, persisted as `dataDir/gateway-config.json` before the daemon starts. */
  document: Record<string, unknown>;
  /** Top-level bootstrap sections merged over the defaults (sessions, uplink, store, field). */
  overrides?: Record<string, unknown>;
  logLevel?: string;
}

/** A temp dir with the bootstrap config, the emulator's CA, a data dir holding the persisted gateway config. */
export async function writeDaemonConfig(o: DaemonConfigOptions): Promise<RunDir> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-bench-"));
  const caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, o.emu.caPem);
  const dataDir = path.join(dir, "data");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, "gateway-config.json"), JSON.stringify(o.document));
  const httpPort = await freePort();
  const tls = o.emu.tls;
  const config = {
    gateway: GATEWAY,
    mqtt: { host: "127.0.0.1", port: o.emu.port, tls, ...(tls ? { caFile } : {}), keepaliveSeconds: 60, reconnectMinSeconds: 0.5, reconnectMaxSeconds: 5 },
    dataDir,
    subDevices: o.subDevices.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: secretOf(d.deviceName) })),
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { level: o.logLevel ?? "info" },
    ...o.overrides,
  };
  const configFile = path.join(dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dir, dataDir, configFile, logFile: path.join(dir, "fieldbridge.log"), httpPort, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
