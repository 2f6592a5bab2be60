/**
 * Per-data-type value coercion for the thing model (alink.md sections 6.3 and 6.7).
 *
 * Each TSL data type compiles once into a ValueCodec with two directions:
 * - toTsl: a driver's decoded value (number, bigint, boolean, string) into the TSL value that goes into an uplink;
 * - fromCloud: a value from a property set or service input (numbers may arrive as strings, P17) into the TSL value
 *   handed to a driver.
 * The numeric paths are plain code because they run for every sample; ajv only checks struct/array shapes.
 */
import { Buffer } from "node:buffer";
import type { Ajv, ValidateFunction } from "ajv";
import type { TslDataType, TslParam, TslTypeName } from "./tsl-types.js";

/** A value as it appears in Alink JSON: numbers, strings, arrays and objects of those. */
export type TslValue = number | string | TslValue[] | { [identifier: string]: TslValue };

export type Coerced<T = TslValue> = { ok: true; value: T } | { ok: false; reason: string };

export interface ValueCodec {
  /** The type name as written in the TSL (unknown names are kept; such a codec rejects every value). */
  readonly type: TslTypeName | string;
  readonly dataType: TslDataType;
  toTsl(value: unknown): Coerced;
  fromCloud(value: unknown): Coerced;
}

export interface CodecContext {
  /** Where the definition sits in the TSL document, for problem messages. */
  path: string;
  /** Definition problems found while compiling (bad specs, unknown types); values are still checked. */
  problems: string[];
  /** Created on first use: only struct and array definitions need it. */
  ajv: () => Ajv;
}

export interface StructOptions {
  /** Every member must be present (service inputs); otherwise members may be left out. */
  requireAll?: boolean;
}

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
/** The platform's limit for text values and the default when `specs.length` is absent (alink.md section 6.3). */
export const TEXT_MAX_BYTES = 10240;
/** The platform's limit for `specs.size` of arrays (alink.md section 6.3). */
export const ARRAY_MAX_SIZE = 512;
const FLOAT32_MAX = 3.4028234663852886e38;
/**
 * Scaling by decimal factors leaves binary noise (3 * 0.1 = 0.30000000000000004). A value that misses a bound by
 * no more than this relative amount is clamped to the bound instead of being rejected.
 */
const BOUND_TOLERANCE = 1e-9;

const ok = <T>(value: T): Coerced<T> => ({ ok: true, value });
const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** A short, log-safe rendering of a rejected value. */
export function preview(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  return "object";
}

interface Range {
  min?: number;
  max?: number;
}

function specsObject(dataType: TslDataType): Record<string, unknown> {
  const s = dataType.specs;
  return s !== null && typeof s === "object" && !Array.isArray(s) ? (s as Record<string, unknown>) : {};
}

/** Specs numbers arrive as strings ("min": "0"); an empty string counts as absent. */
function specNumber(specs: Record<string, unknown>, key: string, ctx: CodecContext): number | undefined {
  const raw = specs[key];
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
  if (!Number.isFinite(n)) {
    ctx.problems.push(`${ctx.path}.specs.${key}: ${preview(raw)} is not a number; ignored`);
    return undefined;
  }
  return n;
}

function readRange(dataType: TslDataType, ctx: CodecContext): Range {
  const specs = specsObject(dataType);
  const range: Range = { min: specNumber(specs, "min", ctx), max: specNumber(specs, "max", ctx) };
  if (range.min !== undefined && range.max !== undefined && range.min > range.max) {
    ctx.problems.push(`${ctx.path}.specs: min ${range.min} is greater than max ${range.max}; range not checked`);
    return {};
  }
  return range;
}

function checkRange(n: number, r: Range): Coerced<number> {
  if (r.min !== undefined && n < r.min) {
    if (r.min - n > BOUND_TOLERANCE * Math.max(1, Math.abs(r.min))) return fail(`${n} is below min ${r.min}`);
    return ok(r.min);
  }
  if (r.max !== undefined && n > r.max) {
    if (n - r.max > BOUND_TOLERANCE * Math.max(1, Math.abs(r.max))) return fail(`${n} is above max ${r.max}`);
    return ok(r.max);
  }
  return ok(n);
}

/** A driver value as a number: numbers, booleans (0/1) and bigints that a double holds. Strings are a mapping error. */
function decodedNumber(value: unknown): number | string {
  if (typeof value === "number") return Number.isFinite(value) ? value : `${value} is not a finite number`;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") return Number(value);
  return `${preview(value)} (${typeof value}) is not a number`;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A cloud value as a number: JSON numbers and decimal strings ("30.5"); hex, blanks and the like do not parse. */
function cloudNumber(value: unknown): number | string {
  if (typeof value === "number") return Number.isFinite(value) ? value : `${value} is not a finite number`;
  if (typeof value === "string") {
    const s = value.trim();
    if (DECIMAL.test(s)) return Number(s);
    return `${preview(value)} does not parse as a number`;
  }
  return `${preview(value)} (${value === null ? "null" : typeof value}) is not a number`;
}

/**
 * The shortest decimal that names the same binary32 value: a float register holding 0.1 decodes to
 * 0.10000000149011612, which is reported as 0.1. Values that are not exact binary32 values are left alone.
 */
export function shortestFloat32(n: number): number {
  if (Number.isInteger(n) || Math.fround(n) !== n) return n;
  for (let p = 1; p <= 9; p++) {
    const c = Number(n.toPrecision(p));
    if (Math.fround(c) === n) return c;
  }
  return n;
}

function intCodec(dataType: TslDataType, ctx: CodecContext): ValueCodec {
  const range = readRange(dataType, ctx);
  const finish = (n: number): Coerced => {
    if (n < INT32_MIN || n > INT32_MAX) return fail(`${n} is outside int32`);
    return checkRange(n, range);
  };
  return {
    type: "int",
    dataType,
    toTsl(value) {
      if (typeof value === "bigint") {
        if (value < BigInt(INT32_MIN) || value > BigInt(INT32_MAX)) return fail(`${value} is outside int32`);
        return checkRange(Number(value), range);
      }
      const n = decodedNumber(value);
      if (typeof n === "string") return fail(n);
      // `|| 0` folds -0 into 0 so that equal readings compare and print equal.
      return finish(Math.round(n) || 0);
    },
    fromCloud(value) {
      const n = cloudNumber(value);
      if (typeof n === "string") return fail(n);
      if (!Number.isInteger(n)) return fail(`${n} is not an integer`);
      return finish(n || 0);
    },
  };
}

function floatCodec(dataType: TslDataType, ctx: CodecContext, single: boolean): ValueCodec {
  const range = readRange(dataType, ctx);
  const finish = (n: number): Coerced => {
    if (single && Math.abs(n) > FLOAT32_MAX) return fail(`${n} is outside the float range`);
    return checkRange(n, range);
  };
  return {
    type: single ? "float" : "double",
    dataType,
    toTsl(value) {
      const n = decodedNumber(value);
      if (typeof n === "string") return fail(n);
      return finish(single ? shortestFloat32(n) : n);
    },
    fromCloud(value) {
      const n = cloudNumber(value);
      return typeof n === "string" ? fail(n) : finish(n);
    },
  };
}

function boolCodec(dataType: TslDataType): ValueCodec {
  const fromText = (value: string): Coerced => {
    const s = value.trim().toLowerCase();
    if (s === "1" || s === "true") return ok(1);
    if (s === "0" || s === "false") return ok(0);
    return fail(`${preview(value)} is not a bool`);
  };
  return {
    type: "bool",
    dataType,
    toTsl(value) {
      if (typeof value === "boolean") return ok(value ? 1 : 0);
      // A register read into a bool: any non-zero value means 1 (alink.md section 5.3.2).
      if (typeof value === "number") return Number.isNaN(value) ? fail("NaN is not a bool") : ok(value === 0 ? 0 : 1);
      if (typeof value === "bigint") return ok(value === 0n ? 0 : 1);
      if (typeof value === "string") return fromText(value);
      return fail(`${preview(value)} is not a bool`);
    },
    fromCloud(value) {
      if (typeof value === "boolean") return ok(value ? 1 : 0);
      if (value === 0 || value === 1) return ok(value);
      if (typeof value === "string") return fromText(value);
      return fail(`${preview(value)} is not a bool (0 or 1)`);
    },
  };
}

function enumCodec(dataType: TslDataType, ctx: CodecContext): ValueCodec {
  const keys = new Set<number>();
  for (const k of Object.keys(specsObject(dataType))) {
    if (/^-?\d+$/.test(k.trim())) keys.add(Number(k));
    else ctx.problems.push(`${ctx.path}.specs: enum key ${preview(k)} is not an integer; ignored`);
  }
  if (keys.size === 0) ctx.problems.push(`${ctx.path}.specs: enum lists no values; any int32 value is accepted`);
  const finish = (n: number): Coerced => {
    if (keys.size === 0) return n >= INT32_MIN && n <= INT32_MAX ? ok(n) : fail(`${n} is outside int32`);
    return keys.has(n) ? ok(n) : fail(`${n} is not one of the enum values ${[...keys].join(", ")}`);
  };
  return {
    type: "enum",
    dataType,
    toTsl(value) {
      const n = decodedNumber(value);
      if (typeof n === "string") return fail(n);
      const r = Math.round(n);
      if (Math.abs(n - r) > BOUND_TOLERANCE) return fail(`${n} is not an integer`);
      return finish(r || 0);
    },
    fromCloud(value) {
      const n = cloudNumber(value);
      if (typeof n === "string") return fail(n);
      return Number.isInteger(n) ? finish(n || 0) : fail(`${n} is not an integer`);
    },
  };
}

function textCodec(dataType: TslDataType, ctx: CodecContext): ValueCodec {
  let maxBytes = specNumber(specsObject(dataType), "length", ctx) ?? TEXT_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes <= 0 || maxBytes > TEXT_MAX_BYTES) {
    ctx.problems.push(`${ctx.path}.specs.length: ${maxBytes} is not within 1..${TEXT_MAX_BYTES}; ${TEXT_MAX_BYTES} used`);
    maxBytes = TEXT_MAX_BYTES;
  }
  // The platform states text lengths in bytes; UTF-8 is what goes over the wire.
  const check = (s: string): Coerced => {
    // A UTF-16 unit never takes more than 3 UTF-8 bytes, so short strings need no count.
    if (s.length * 3 <= maxBytes) return ok(s);
    const bytes = Buffer.byteLength(s, "utf8");
    return bytes > maxBytes ? fail(`text of ${bytes} bytes exceeds length ${maxBytes}`) : ok(s);
  };
  return {
    type: "text",
    dataType,
    toTsl(value) {
      if (typeof value === "string") return check(value);
      if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return check(String(value));
      return fail(`${preview(value)} is not text`);
    },
    fromCloud(value) {
      return typeof value === "string" ? check(value) : fail(`${preview(value)} is not a string`);
    },
  };
}

const DIGITS = /^\d{1,16}$/;

function dateCodec(dataType: TslDataType): ValueCodec {
  const fromNumber = (n: number): Coerced =>
    Number.isFinite(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER ? ok(String(Math.round(n))) : fail(`${n} is not an epoch time in ms`);
  return {
    type: "date",
    dataType,
    toTsl(value) {
      if (typeof value === "number") return fromNumber(value);
      if (typeof value === "bigint") return fromNumber(Number(value));
      if (value instanceof Date) return fromNumber(value.getTime());
      if (typeof value === "string" && DIGITS.test(value)) return ok(value);
      return fail(`${preview(value)} is not an epoch time in ms`);
    },
    fromCloud(value) {
      if (typeof value === "number") return Number.isInteger(value) ? fromNumber(value) : fail(`${value} is not an epoch time in ms`);
      if (typeof value === "string" && DIGITS.test(value.trim())) return ok(value.trim());
      return fail(`${preview(value)} is not an epoch time in ms`);
    },
  };
}

function shapeError(validate: ValidateFunction): string {
  const e = validate.errors?.[0];
  if (!e) return "invalid shape";
  if (e.keyword === "additionalProperties") return `unknown member ${JSON.stringify(e.params["additionalProperty"])}`;
  if (e.keyword === "required") return `missing member ${JSON.stringify(e.params["missingProperty"])}`;
  return `value ${e.message ?? "has an invalid shape"}`;
}

/** Struct members, event outputs and service inputs/outputs: an object keyed by member identifier. */
export function compileStruct(
  dataType: TslDataType,
  members: readonly TslParam[],
  ctx: CodecContext,
  options: StructOptions = {},
): ValueCodec {
  const codecs = new Map<string, ValueCodec>();
  members.forEach((m, i) => {
    if (!m || typeof m.identifier !== "string" || m.identifier === "") {
      ctx.problems.push(`${ctx.path}[${i}]: member without identifier; ignored`);
      return;
    }
    if (codecs.has(m.identifier)) ctx.problems.push(`${ctx.path}[${i}]: duplicate member ${JSON.stringify(m.identifier)}`);
    codecs.set(m.identifier, compileDataType(m.dataType, { ...ctx, path: `${ctx.path}[${i}].dataType` }));
  });
  const validate = ctx.ajv().compile({
    type: "object",
    properties: Object.fromEntries([...codecs.keys()].map((k) => [k, true])),
    additionalProperties: false,
    ...(options.requireAll && codecs.size > 0 ? { required: [...codecs.keys()] } : {}),
  });
  const run = (value: unknown, dir: "toTsl" | "fromCloud"): Coerced => {
    if (!validate(value)) return fail(shapeError(validate));
    const out: Record<string, TslValue> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const r = codecs.get(k)![dir](v);
      if (!r.ok) return fail(`${k}: ${r.reason}`);
      out[k] = r.value;
    }
    return ok(out);
  };
  return { type: "struct", dataType, toTsl: (v) => run(v, "toTsl"), fromCloud: (v) => run(v, "fromCloud") };
}

function arrayCodec(dataType: TslDataType, ctx: CodecContext): ValueCodec {
  const specs = specsObject(dataType);
  let size = specNumber(specs, "size", ctx) ?? ARRAY_MAX_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > ARRAY_MAX_SIZE) {
    ctx.problems.push(`${ctx.path}.specs.size: ${size} is not within 0..${ARRAY_MAX_SIZE}; ${ARRAY_MAX_SIZE} used`);
    size = ARRAY_MAX_SIZE;
  }
  const itemType = specs["item"];
  const item = compileDataType(
    itemType !== null && typeof itemType === "object" ? (itemType as TslDataType) : undefined,
    { ...ctx, path: `${ctx.path}.specs.item` },
  );
  const validate = ctx.ajv().compile({ type: "array", maxItems: size });
  const run = (value: unknown, dir: "toTsl" | "fromCloud"): Coerced => {
    // OPC UA arrays arrive as typed arrays.
    const list = ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<unknown>) : value;
    if (!validate(list)) return fail(shapeError(validate));
    const out: TslValue[] = [];
    for (let i = 0; i < (list as unknown[]).length; i++) {
      const r = item[dir]((list as unknown[])[i]);
      if (!r.ok) return fail(`[${i}]: ${r.reason}`);
      out.push(r.value);
    }
    return ok(out);
  };
  return { type: "array", dataType, toTsl: (v) => run(v, "toTsl"), fromCloud: (v) => run(v, "fromCloud") };
}

function unsupported(dataType: TslDataType, reason: string): ValueCodec {
  return { type: String(dataType.type), dataType, toTsl: () => fail(reason), fromCloud: () => fail(reason) };
}

/** Compiles one `dataType` definition. Never throws: definition problems go to ctx.problems. */
export function compileDataType(dataType: TslDataType | undefined, ctx: CodecContext): ValueCodec {
  if (!dataType || typeof dataType !== "object" || typeof dataType.type !== "string") {
    ctx.problems.push(`${ctx.path}: missing data type; values are rejected`);
    return unsupported({ type: "unknown" }, "the thing model defines no data type");
  }
  switch (dataType.type) {
    case "int":
      return intCodec(dataType, ctx);
    case "float":
      return floatCodec(dataType, ctx, true);
    case "double":
      return floatCodec(dataType, ctx, false);
    case "bool":
      return boolCodec(dataType);
    case "enum":
      return enumCodec(dataType, ctx);
    case "text":
      return textCodec(dataType, ctx);
    case "date":
      return dateCodec(dataType);
    case "struct": {
      if (!Array.isArray(dataType.specs)) {
        ctx.problems.push(`${ctx.path}.specs: struct members must be a list; values are rejected`);
        return unsupported(dataType, "the struct defines no members");
      }
      return compileStruct(dataType, dataType.specs as TslParam[], { ...ctx, path: `${ctx.path}.specs` });
    }
    case "array":
      return arrayCodec(dataType, ctx);
    default:
      ctx.problems.push(`${ctx.path}.type: unsupported data type ${JSON.stringify(dataType.type)}; values are rejected`);
      return unsupported(dataType, `unsupported data type ${JSON.stringify(dataType.type)}`);
  }
}
