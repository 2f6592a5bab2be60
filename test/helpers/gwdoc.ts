/** Builds gateway config documents (the pushed file) for tests. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { BootstrapConfig } from "../../src/config/bootstrap/load.js";
import { checkGatewayConfigFile } from "../../src/config/gateway/check.js";
import type { TslDocument } from "../../src/things/tsl-types.js";

export const METER = "a1TestMeter";

/** A meter TSL: P0..P(n-1) int 0..1e6 read-only, Setpoint int 0..100 rw, Level float 0..10 rw, Status int r. */
export function meterTsl(points: number, productKey = METER): TslDocument {
  const props: NonNullable<TslDocument["properties"]> = [];
  for (let i = 0; i < points; i++) props.push({ identifier: `P${i}`, name: `P${i}`, accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "1000000" } } });
  props.push({ identifier: "Setpoint", name: "Setpoint", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "100" } } });
  props.push({ identifier: "Level", name: "Level", accessMode: "rw", dataType: { type: "float", specs: { min: "0", max: "10" } } });
  props.push({ identifier: "Status", name: "Status", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "9" } } });
  return { schema: "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json", profile: { productKey }, properties: props, events: [], services: [] };
}

export interface ModbusDocOptions {
  devices: number;
  points: number;
  /** TCP channel port (the recording driver ignores it). */
  port?: number;
  productKey?: string;
  namePrefix?: string;
  pollingTime?: number;
  trigger?: 1 | 2;
  /** Change one device's slave id (to make "a changed device"). */
  slaveOffset?: Record<string, number>;
  /** Replaces the TCP channel entry (e.g. an RTU line); serverId is kept. */
  server?: Record<string, unknown>;
}

export function deviceName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(3, "0")}`;
}

/** One Modbus TCP channel with `devices` meters of `points` holding registers each (+ Setpoint, Level, Status). */
export function modbusDoc(o: ModbusDocOptions): Record<string, unknown> {
  const pk = o.productKey ?? METER;
  const prefix = o.namePrefix ?? "meter";
  const properties: unknown[] = [];
  const point = (identifier: string, operateType: string, address: number, type: string, count: number) => ({
    identifier, operateType, registerAddress: `0x${address.toString(16)}`, scaling: 1, pollingTime: o.pollingTime ?? 1000, trigger: o.trigger ?? 1,
    originalDataType: { type, specs: { registerCount: count, swap16: 0, reverseRegister: 0 } },
  });
  for (let i = 0; i < o.points; i++) properties.push(point(`P${i}`, "holdingRegister", i * 2, "uint32", 2));
  properties.push(point("Setpoint", "holdingRegister", 500, "int16", 1));
  properties.push(point("Level", "holdingRegister", 502, "float", 2));
  properties.push(point("Status", "inputRegister", 0, "uint16", 1));
  const deviceList = [];
  for (let i = 0; i < o.devices; i++) {
    const name = deviceName(prefix, i);
    deviceList.push({ productKey: pk, deviceName: name, deviceConfig: { slaveId: 1 + ((i + (o.slaveOffset?.[name] ?? 0)) % 247), serverId: "TESTMODBUSTCP01" } });
  }
  return {
    modelList: [{ profile: { productKey: pk }, properties }],
    serverList: [{ ...(o.server ?? { protocol: "TCP", ip: "127.0.0.1", port: o.port ?? 1502, name: "test-tcp" }), serverId: "TESTMODBUSTCP01" }],
    deviceList,
    tslList: [meterTsl(o.points, pk)],
  };
}

/** `modbusDoc` with one point per device and the devices named `names` (a platform's naming rules). */
export function namedDevicesDoc(names: string[], productKey: string): Record<string, unknown> {
  const d = modbusDoc({ devices: names.length, points: 1, productKey });
  (d.deviceList as Array<{ deviceName: string }>).forEach((x, i) => (x.deviceName = names[i]!));
  return d;
}

/** `fieldbridge check --gateway-config` on `document` (written to a temp file): its verdict and printed lines. */
export async function checkDocumentFile(document: Record<string, unknown>, bootstrap: BootstrapConfig | undefined): Promise<{ ok: boolean; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "fb-doc-check-"));
  try {
    const file = join(dir, "doc.json");
    writeFileSync(file, JSON.stringify(document));
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    const ok = await checkGatewayConfigFile(file, bootstrap, out);
    out.end();
    return { ok, lines: Buffer.concat(chunks).toString("utf8").trimEnd().split("\n") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
