/**
 * Thing-model values as JSON text, by type. Every platform's JSON wants float/double values with a decimal point
 * (alink.md section 6.7 and the other platform specs), but JavaScript prints 12.0 as `12`, so values are written by
 * their TSL type. Adapters assemble their payloads from these pre-encoded fragments.
 */
import type { TslDataType, TslParam, TslTypeName } from "./tsl-types.js";

export type Encoder = (value: unknown) => string;

/** A finite number written with a decimal point: 12 → "12.0", 1e21 → "1.0e+21", 1e-7 → "1.0e-7". */
export function formatFloat(n: number): string {
  if (!Number.isFinite(n)) return "null";
  const s = String(n);
  if (s.includes(".")) return s;
  const e = s.indexOf("e");
  return e < 0 ? `${s}.0` : `${s.slice(0, e)}.0${s.slice(e)}`;
}

/** JSON for a value whose TSL type is unknown here: numbers as they are, bigints as numbers. */
const generic: Encoder = (value) => {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(generic).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${generic(v)}`);
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
};

const floatEncoder: Encoder = (v) => (typeof v === "number" ? formatFloat(v) : generic(v));
const intEncoder: Encoder = (v) => (typeof v === "number" && Number.isFinite(v) ? String(v) : generic(v));
const stringEncoder: Encoder = (v) => JSON.stringify(typeof v === "string" ? v : String(v));

const scalar: Record<string, Encoder> = {
  int: intEncoder,
  bool: intEncoder,
  enum: intEncoder,
  float: floatEncoder,
  double: floatEncoder,
  text: stringEncoder,
  date: stringEncoder,
};

function structEncoder(members: readonly TslParam[]): Encoder {
  const byId = new Map<string, Encoder>();
  for (const m of members) if (m && typeof m.identifier === "string") byId.set(m.identifier, encoderFor(m.dataType));
  return (value) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return generic(value);
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${(byId.get(k) ?? generic)(v)}`);
    }
    return `{${parts.join(",")}}`;
  };
}

function arrayEncoder(item: Encoder): Encoder {
  return (value) => (Array.isArray(value) ? `[${value.map((v) => item(v)).join(",")}]` : generic(value));
}

const compiled = new WeakMap<object, Encoder>();

/** The encoder for a TSL type name or a full data type (struct/array need the full definition for their members). */
export function encoderFor(type: TslTypeName | string | TslDataType | undefined): Encoder {
  if (type === undefined || type === null) return generic;
  if (typeof type === "string") return scalar[type] ?? generic;
  const cached = compiled.get(type);
  if (cached) return cached;
  let enc: Encoder;
  if (type.type === "struct") {
    enc = structEncoder(Array.isArray(type.specs) ? (type.specs as TslParam[]) : []);
  } else if (type.type === "array") {
    const specs = type.specs as { item?: TslDataType } | undefined;
    enc = arrayEncoder(encoderFor(specs?.item));
  } else {
    enc = scalar[type.type] ?? generic;
  }
  compiled.set(type, enc);
  return enc;
}

/** One value as a JSON fragment, e.g. encodeValue("double", 12) === "12.0". */
export function encodeValue(type: TslTypeName | string | TslDataType | undefined, value: unknown): string {
  return encoderFor(type)(value);
}

