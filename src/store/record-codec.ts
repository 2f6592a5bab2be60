/**
 * How a neutral uplink record is kept in a row of the `records` table: the columns the outbox filters on (device,
 * kind, sample time) plus a compact JSON body of the values. Decoding runs for every record sent, so the bodies are
 * positional arrays where the shape is fixed (properties `[[identifier, value, time], …]`, event
 * `[identifier, outputs]`) and plain objects only for wire messages of an older release.
 */
import type { DeviceKey, PlatformName, PropertySample, UplinkRecord } from "../cloud/platform.js";
import { PLATFORM_NAMES } from "../cloud/platform.js";
import { TextCache } from "../core/json.js";
import type { TslValue } from "../things/tsl-value.js";

type WithoutStored<T> = T extends unknown ? Omit<T, "seq" | "attempts"> : never;
/** What producers append: a record before the outbox gave it a position. */
export type NewRecord = WithoutStored<UplinkRecord>;
export type RecordKind = UplinkRecord["kind"];

/** The stored form of one record. */
export interface EncodedRecord {
  device: DeviceKey;
  kind: RecordKind;
  sampleTime: number;
  body: string;
  /** UTF-8 bytes of device and body; the size limit counts these. */
  bytes: number;
  createdAt: number;
  /** The record as appended (kept in memory for the drain while it is live). */
  source: NewRecord;
  /** Its position, set when the write transaction stored it (0 before). */
  seq: number;
}

/** One row as read back. */
export interface RecordRow {
  seq: number;
  device: string;
  kind: string;
  time: number;
  body: string;
  attempts: number;
  bytes: number;
}

/** Throws a TypeError naming the device and kind when `r` is not a well-formed record. */
export function checkRecord(r: NewRecord): void {
  if (r === null || typeof r !== "object") fail(r, "not an object");
  if (typeof r.device !== "string" || r.device.length === 0) fail(r, "device must be a non-empty string");
  if (!Number.isFinite(r.time)) fail(r, "time must be a finite number");
  switch (r.kind) {
    case "properties": {
      const values = r.values;
      if (!Array.isArray(values) || values.length === 0) fail(r, "values must be a non-empty array");
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (typeof v?.identifier !== "string" || v.identifier.length === 0) fail(r, "a value has no identifier");
        if (!Number.isFinite(v.time)) fail(r, `value ${v.identifier} has no finite time`);
        if (!storable(v.value)) fail(r, `value ${v.identifier} is missing or not a JSON value with finite numbers`);
      }
      return;
    }
    case "event":
      if (typeof r.identifier !== "string" || r.identifier.length === 0) fail(r, "identifier must be a non-empty string");
      if (r.outputs === null || typeof r.outputs !== "object" || Array.isArray(r.outputs)) fail(r, "outputs must be an object");
      if (!storable(r.outputs)) fail(r, "outputs must be JSON values with finite numbers");
      return;
    case "wire":
      if (!PLATFORM_NAMES.includes(r.platform)) fail(r, `unknown platform ${String(r.platform)}`);
      if (typeof r.topic !== "string" || r.topic.length === 0) fail(r, "topic must be a non-empty string");
      if (typeof r.payload !== "string") fail(r, "payload must be a string");
      if (!Array.isArray(r.devices) || !r.devices.every((d) => typeof d === "string")) fail(r, "devices must be strings");
      return;
    default:
      fail(r, "unknown kind");
  }
}

function fail(r: NewRecord, why: string): never {
  throw new TypeError(`invalid uplink record (device ${String(r?.device)}, kind ${String(r?.kind)}): ${why}`);
}

/** JSON would turn NaN and Infinity into null and drop undefined: such a value must not be stored as something else. */
function storable(v: unknown): boolean {
  if (typeof v === "number") return Number.isFinite(v);
  if (typeof v !== "object") return typeof v === "string" || typeof v === "boolean";
  if (Array.isArray(v)) return v.every(storable);
  if (v !== null && typeof v === "object") return Object.values(v).every(storable);
  return false;
}

/** The stored form of a checked record; `createdAt` is when the outbox took it. */
export function encodeRecord(r: NewRecord, createdAt: number): EncodedRecord {
  let body: string;
  switch (r.kind) {
    case "properties":
      body = propertiesBody(r.values);
      break;
    case "event":
      body = JSON.stringify([r.identifier, r.outputs]);
      break;
    case "wire":
      body = wireBody(r.platform, r.topic, r.payload, r.devices);
      break;
  }
  return { device: r.device, kind: r.kind, sampleTime: r.time, body, bytes: Buffer.byteLength(r.device) + Buffer.byteLength(body), createdAt, source: r, seq: 0 };
}

/** `[[identifier, value, time], …]` as JSON, joined from parts: no array and no concatenated string per value. */
function propertiesBody(values: readonly PropertySample[]): string {
  // Per value `[` `"id",` value `,time]`: the identifier's and the time's parts are made once and reused (the values
  // of one poll share their sample time), and the parts are joined once.
  const parts: string[] = new Array(values.length * 3 + 2);
  parts[0] = "[";
  let time = NaN;
  let tail = "";
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const value = v.value;
    if (v.time !== time) tail = `,${(time = v.time)}]`;
    parts[1 + i * 3] = (i === 0 ? firstHeads : heads).get(v.identifier);
    // A finite number prints the same through String() as through JSON.stringify (checked before encoding).
    parts[2 + i * 3] = typeof value === "number" ? String(value) : JSON.stringify(value);
    parts[3 + i * 3] = tail;
  }
  parts[parts.length - 1] = "]";
  return parts.join("");
}

const firstHeads = new TextCache<string>((id) => `[${JSON.stringify(id)},`);
const heads = new TextCache<string>((id) => `,[${JSON.stringify(id)},`);

export function wireBody(platform: PlatformName, topic: string, payload: string, devices: readonly string[]): string {
  return JSON.stringify({ platform, topic, payload, devices });
}

/** The record of a row; throws when the body cannot be read (a damaged row or a kind of a newer build). */
export function decodeRecord(row: RecordRow, attempts: number): UplinkRecord {
  const body = JSON.parse(row.body) as unknown;
  switch (row.kind) {
    case "properties": {
      if (!Array.isArray(body)) break;
      const values: PropertySample[] = new Array(body.length);
      for (let i = 0; i < body.length; i++) {
        const v = body[i] as [string, TslValue, number];
        values[i] = { identifier: v[0], value: v[1], time: v[2] };
      }
      return { seq: row.seq, device: row.device, time: row.time, attempts, kind: "properties", values };
    }
    case "event":
      if (!Array.isArray(body) || typeof body[0] !== "string") break;
      return { seq: row.seq, device: row.device, time: row.time, attempts, kind: "event", identifier: body[0], outputs: body[1] as Record<string, TslValue> };
    case "wire": {
      const w = body as { platform?: PlatformName; topic?: string; payload?: string; devices?: string[] } | null;
      if (!w || typeof w.topic !== "string" || typeof w.payload !== "string") break;
      return { seq: row.seq, device: row.device, time: row.time, attempts, kind: "wire", platform: w.platform ?? "aliyun", topic: w.topic, payload: w.payload, devices: w.devices ?? [row.device] };
    }
  }
  throw new Error(`record ${row.seq} of ${row.device} has an unreadable ${row.kind} body`);
}
