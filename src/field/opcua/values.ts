/**
 * Conversion between TSL-side JavaScript values and OPC UA Variant values, without loading node-opcua.
 * Numbers follow node-opcua's DataType enum (the built-in type ids of OPC UA Part 6).
 */
import { FieldCode, FieldError } from "../driver.js";

export const BuiltinType = {
  Null: 0,
  Boolean: 1,
  SByte: 2,
  Byte: 3,
  Int16: 4,
  UInt16: 5,
  Int32: 6,
  UInt32: 7,
  Int64: 8,
  UInt64: 9,
  Float: 10,
  Double: 11,
  String: 12,
  DateTime: 13,
  Guid: 14,
  ByteString: 15,
  XmlElement: 16,
  NodeId: 17,
  ExpandedNodeId: 18,
  StatusCode: 19,
  QualifiedName: 20,
  LocalizedText: 21,
  ExtensionObject: 22,
  DataValue: 23,
  Variant: 24,
  DiagnosticInfo: 25,
} as const;

export type BuiltinTypeName = keyof typeof BuiltinType;

export function builtinTypeName(id: number): string {
  for (const [name, value] of Object.entries(BuiltinType)) if (value === id) return name;
  return `DataType(${id})`;
}

const INTEGER_RANGES: Partial<Record<number, [bigint, bigint]>> = {
  [BuiltinType.SByte]: [-128n, 127n],
  [BuiltinType.Byte]: [0n, 255n],
  [BuiltinType.Int16]: [-32768n, 32767n],
  [BuiltinType.UInt16]: [0n, 65535n],
  [BuiltinType.Int32]: [-2147483648n, 2147483647n],
  [BuiltinType.UInt32]: [0n, 4294967295n],
  [BuiltinType.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [BuiltinType.UInt64]: [0n, 2n ** 64n - 1n],
};

const FLOAT_MAX = 3.4028234663852886e38;

/** node-opcua carries 64-bit integers as [high, low] 32-bit unsigned words (two's complement). */
export function bigintToWords(value: bigint): [number, number] {
  const u = BigInt.asUintN(64, value);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}

export function wordsToBigint(words: readonly number[], signed: boolean): bigint {
  const u = (BigInt(words[0] >>> 0) << 32n) | BigInt(words[1] >>> 0);
  return signed ? BigInt.asIntN(64, u) : u;
}

function badValue(label: string, dataType: number, value: unknown, why: string): FieldError {
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value);
  return new FieldError(FieldCode.badRequest, `${label}: ${shown} ${why} for OPC UA ${builtinTypeName(dataType)}`);
}

function toInteger(dataType: number, value: unknown, label: string): bigint {
  let n: bigint;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number") {
    if (!Number.isInteger(value)) throw badValue(label, dataType, value, "is not an integer");
    n = BigInt(value);
  } else if (typeof value === "boolean") n = value ? 1n : 0n;
  else if (typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value)) n = BigInt(value.trim());
  else throw badValue(label, dataType, value, "is not an integer");
  const range = INTEGER_RANGES[dataType]!;
  if (n < range[0] || n > range[1]) throw badValue(label, dataType, value, "is out of range");
  return n;
}

function toScalar(dataType: number, value: unknown, label: string): unknown {
  switch (dataType) {
    case BuiltinType.Boolean:
      if (typeof value === "boolean") return value;
      if (value === 0 || value === 1) return value === 1;
      if (typeof value === "string" && /^(true|false|0|1)$/i.test(value.trim())) return /^(true|1)$/i.test(value.trim());
      throw badValue(label, dataType, value, "is not a boolean");
    case BuiltinType.SByte:
    case BuiltinType.Byte:
    case BuiltinType.Int16:
    case BuiltinType.UInt16:
    case BuiltinType.Int32:
    case BuiltinType.UInt32:
      return Number(toInteger(dataType, value, label));
    case BuiltinType.Int64:
    case BuiltinType.UInt64:
      return bigintToWords(toInteger(dataType, value, label));
    case BuiltinType.Float:
    case BuiltinType.Double: {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n === "bigint") return Number(n);
      if (typeof n !== "number" || !Number.isFinite(n)) throw badValue(label, dataType, value, "is not a finite number");
      if (dataType === BuiltinType.Float && Math.abs(n) > FLOAT_MAX) throw badValue(label, dataType, value, "is out of range");
      return n;
    }
    case BuiltinType.String:
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
      return JSON.stringify(value);
    case BuiltinType.LocalizedText:
      return { text: typeof value === "string" ? value : String(value) };
    case BuiltinType.DateTime: {
      let ms: number;
      if (value instanceof Date) ms = value.getTime();
      else if (typeof value === "number") ms = value;
      else if (typeof value === "string" && /^\s*\d+\s*$/.test(value)) ms = Number(value);
      else if (typeof value === "string") ms = Date.parse(value);
      else ms = Number.NaN;
      if (!Number.isFinite(ms)) throw badValue(label, dataType, value, "is not a time");
      return new Date(ms);
    }
    case BuiltinType.ByteString:
      if (typeof value === "string" && /^([0-9a-fA-F]{2})*$/.test(value)) return Buffer.from(value, "hex");
      throw badValue(label, dataType, value, "is not a hex string");
    default:
      throw new FieldError(FieldCode.unsupported, `${label}: writing OPC UA ${builtinTypeName(dataType)} is not supported`);
  }
}

export interface OpcuaValue {
  dataType: number;
  /** Array values are written with VariantArrayType.Array. */
  array: boolean;
  value: unknown;
}

/**
 * Coerces a TSL value to the variable's built-in DataType. Throws FieldError 460 when the value does not fit
 * (the caller validated it against the TSL, but the server's type may be narrower).
 */
export function toOpcuaValue(dataType: number, value: unknown, label: string): OpcuaValue {
  if (Array.isArray(value)) {
    return { dataType, array: true, value: value.map((v, i) => toScalar(dataType, v, `${label}[${i}]`)) };
  }
  return { dataType, array: false, value: toScalar(dataType, value, label) };
}

function fromScalar(dataType: number, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if ((dataType === BuiltinType.Int64 || dataType === BuiltinType.UInt64) && Array.isArray(value) && value.length === 2) {
    return wordsToBigint(value as number[], dataType === BuiltinType.Int64);
  }
  if (value instanceof Date) return value.getTime();
  if (Buffer.isBuffer(value)) return value.toString("hex");
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "string" || typeof value === "bigint") return value;
  if (typeof value === "object") {
    const o = value as { text?: unknown; name?: unknown; toJSON?: () => unknown; toString?: () => string };
    if (dataType === BuiltinType.LocalizedText) return typeof o.text === "string" ? o.text : "";
    if (dataType === BuiltinType.QualifiedName && typeof o.name === "string") return o.name;
    if (dataType === BuiltinType.NodeId || dataType === BuiltinType.ExpandedNodeId || dataType === BuiltinType.StatusCode) {
      return String(value);
    }
    if (typeof o.toJSON === "function") return o.toJSON();
  }
  return value;
}

/** Converts a Variant's value to a Sample value (alink types: number, bigint, string, boolean). */
export function fromOpcuaValue(dataType: number, value: unknown, isArray = false): unknown {
  if (isArray && value !== null && value !== undefined && typeof value === "object" && !Buffer.isBuffer(value)) {
    const items = ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<unknown>) : (value as unknown[]);
    return Array.from(items, (v) => fromScalar(dataType, v));
  }
  return fromScalar(dataType, value);
}
