/**
 * The platform's TSL check of reported values (alink.md sections 3.10, 6.3, 6.7), written independently of
 * the gateway's own validator so that the two check each other. Strict on JSON types: int/enum/bool are
 * JSON integers (bool 0 or 1), float/double JSON numbers, text a string within `length` UTF-8 bytes
 * (default 10240), date a string of epoch-millisecond digits, struct an object of known children, array a
 * JSON array within `size` items.
 */
import type { TslDataType, TslDocument, TslEvent, TslParam, TslProperty } from "../../things/tsl-types.js";

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const TEXT_MAX = 10240;
const ARRAY_MAX = 512;

type Specs = Record<string, unknown>;

function specsObject(dt: TslDataType): Specs {
  return dt.specs && typeof dt.specs === "object" && !Array.isArray(dt.specs) ? (dt.specs as Specs) : {};
}

function numSpec(specs: Specs, key: string): number | undefined {
  const v = specs[key];
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function rangeError(value: number, specs: Specs): string | null {
  const min = numSpec(specs, "min");
  const max = numSpec(specs, "max");
  if (min !== undefined && value < min) return `${value} is below min ${min}`;
  if (max !== undefined && value > max) return `${value} is above max ${max}`;
  return null;
}

/** Returns null when `value` conforms to `dt`, otherwise a short reason. */
export function checkValue(dt: TslDataType, value: unknown): string | null {
  const specs = specsObject(dt);
  switch (dt.type) {
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) return `int expects a JSON integer, got ${describe(value)}`;
      if (value < INT32_MIN || value > INT32_MAX) return `${value} is outside int32`;
      return rangeError(value, specs);
    case "float":
    case "double":
      if (typeof value !== "number" || !Number.isFinite(value)) return `${dt.type} expects a JSON number, got ${describe(value)}`;
      return rangeError(value, specs);
    case "bool":
      if (value !== 0 && value !== 1) return `bool expects 0 or 1, got ${describe(value)}`;
      return null;
    case "enum": {
      if (typeof value !== "number" || !Number.isInteger(value)) return `enum expects a JSON integer, got ${describe(value)}`;
      const keys = Object.keys(specs);
      if (keys.length > 0 && !keys.includes(String(value))) return `${value} is not one of the enum values ${keys.join(",")}`;
      return null;
    }
    case "text": {
      if (typeof value !== "string") return `text expects a string, got ${describe(value)}`;
      const limit = Math.min(numSpec(specs, "length") ?? TEXT_MAX, TEXT_MAX);
      const bytes = Buffer.byteLength(value, "utf8");
      return bytes > limit ? `text of ${bytes} bytes exceeds length ${limit}` : null;
    }
    case "date":
      if (typeof value !== "string" || !/^\d{1,16}$/.test(value)) return `date expects a string of epoch milliseconds, got ${describe(value)}`;
      return null;
    case "struct":
      return checkStruct(dt, value);
    case "array":
      return checkArray(specs, value);
    default:
      return `unsupported TSL type ${JSON.stringify(dt.type)}`;
  }
}

function checkStruct(dt: TslDataType, value: unknown): string | null {
  if (!isPlainObject(value)) return `struct expects a JSON object, got ${describe(value)}`;
  const children = Array.isArray(dt.specs) ? (dt.specs as TslParam[]) : [];
  for (const [key, v] of Object.entries(value)) {
    const child = children.find((c) => c.identifier === key);
    if (!child) return `struct has no member ${key}`;
    const err = checkValue(child.dataType, v);
    if (err) return `${key}: ${err}`;
  }
  return null;
}

function checkArray(specs: Specs, value: unknown): string | null {
  if (!Array.isArray(value)) return `array expects a JSON array, got ${describe(value)}`;
  const size = Math.min(numSpec(specs, "size") ?? ARRAY_MAX, ARRAY_MAX);
  if (value.length > size) return `array of ${value.length} items exceeds size ${size}`;
  const item = specs["item"];
  if (!item || typeof item !== "object" || typeof (item as TslDataType).type !== "string") return "array specs.item is missing";
  for (let i = 0; i < value.length; i++) {
    const err = checkValue(item as TslDataType, value[i]);
    if (err) return `[${i}]: ${err}`;
  }
  return null;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

export function findProperty(tsl: TslDocument | undefined, identifier: string): TslProperty | undefined {
  return tsl?.properties?.find((p) => p.identifier === identifier);
}

export function findEvent(tsl: TslDocument | undefined, identifier: string): TslEvent | undefined {
  return tsl?.events?.find((e) => e.identifier === identifier && identifier !== "post");
}

/** One reported property `{value, time}` entry; null when acceptable. */
export function checkPropertyEntry(tsl: TslDocument | undefined, identifier: string, entry: unknown): string | null {
  const prop = findProperty(tsl, identifier);
  if (!prop) return `unknown property ${identifier}`;
  if (!isPlainObject(entry) || !("value" in entry)) return `${identifier}: expected {value, time}`;
  const timeErr = checkTime(entry["time"]);
  if (timeErr) return `${identifier}: ${timeErr}`;
  const err = checkValue(prop.dataType, entry["value"]);
  return err ? `${identifier}: ${err}` : null;
}

/** One reported event `{value: {...}, time}`; null when acceptable. */
export function checkEventEntry(tsl: TslDocument | undefined, identifier: string, entry: unknown): string | null {
  const event = findEvent(tsl, identifier);
  if (!event) return `unknown event ${identifier}`;
  if (!isPlainObject(entry) || !isPlainObject(entry["value"])) return `${identifier}: expected {value: {...}, time}`;
  const timeErr = checkTime(entry["time"]);
  if (timeErr) return `${identifier}: ${timeErr}`;
  const outputs = event.outputData ?? [];
  for (const [key, v] of Object.entries(entry["value"])) {
    const param = outputs.find((o) => o.identifier === key);
    if (!param) return `${identifier}: event has no output ${key}`;
    const err = checkValue(param.dataType, v);
    if (err) return `${identifier}.${key}: ${err}`;
  }
  return null;
}

/** `time` is optional; when present it is a JSON integer of epoch milliseconds. */
function checkTime(time: unknown): string | null {
  if (time === undefined) return null;
  if (typeof time !== "number" || !Number.isInteger(time) || time < 0) return `time must be epoch milliseconds as a JSON integer, got ${describe(time)}`;
  return null;
}
