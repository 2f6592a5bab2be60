/**
 * The emulator's own reading of the X-platform wire format (lierda.md §3–§7), written from the spec and not
 * shared with the client: password check by decryption, envelope checks, value checks against the TSL.
 */
import { createDecipheriv, randomBytes } from "node:crypto";

export const HEX8 = /^[0-9A-Fa-f]{8}$/;
export const HEX32 = /^[0-9A-Fa-f]{32}$/;
export const NODE_EUI = /^[A-Za-z0-9]{4,32}$/;

export function randomHex32(): string {
  return randomBytes(16).toString("hex").toUpperCase();
}

/**
 * Decrypts an uppercase-hex AES-128-ECB/PKCS#7 password with the DeviceSecret; undefined when it is not
 * uppercase hex of whole blocks or does not decrypt (wrong key → bad padding, almost always).
 */
export function decryptPassword(secretHex: string, password: string): string | undefined {
  if (!HEX32.test(secretHex) || !/^(?:[0-9A-F]{32})+$/.test(password)) return undefined;
  try {
    const d = createDecipheriv("aes-128-ecb", Buffer.from(secretHex, "hex"), null);
    return Buffer.concat([d.update(Buffer.from(password, "hex")), d.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface Env {
  MessageId: number | string;
  HeaderCtrl: number;
  Payload: unknown;
  Version: string;
}

/**
 * A gateway uplink's envelope: exactly the four keys, Version "2.0", an id that is an integer in 1..2^31-1 or
 * (a reply echoing a platform request) a string of 1..64 characters; `ownId` says which it is.
 */
export function readUplinkEnvelope(buf: Buffer, headerCtrl: number): { ok: true; env: Env } | { ok: false; reason: string; id?: unknown } {
  let j: unknown;
  try {
    j = JSON.parse(buf.toString("utf8"));
  } catch {
    return { ok: false, reason: "payload is not JSON" };
  }
  if (!isObj(j)) return { ok: false, reason: "payload is not a JSON object" };
  const id = j["MessageId"];
  const keys = Object.keys(j).sort().join(",");
  if (keys !== "HeaderCtrl,MessageId,Payload,Version") return { ok: false, reason: `envelope keys ${keys}`, id };
  const intId = typeof id === "number" && Number.isInteger(id) && id >= 1 && id < 2 ** 31;
  if (!intId && !(typeof id === "string" && id.length >= 1 && id.length <= 64)) return { ok: false, reason: "MessageId must be an integer in 1..2^31-1 (or an echoed request id)", id };
  if (j["HeaderCtrl"] !== headerCtrl) return { ok: false, reason: `HeaderCtrl ${String(j["HeaderCtrl"])} on a topic of ${headerCtrl}`, id };
  if (j["Version"] !== "2.0") return { ok: false, reason: "Version must be \"2.0\"", id };
  return { ok: true, env: j as unknown as Env };
}

export function envelope(id: number | string, headerCtrl: number, payload: unknown): string {
  return JSON.stringify({ MessageId: id, HeaderCtrl: headerCtrl, Payload: payload, Version: "2.0" });
}

interface DataType {
  type?: unknown;
  specs?: unknown;
}

export interface TslLike {
  properties?: Array<{ identifier: string; accessMode?: string; dataType: DataType }>;
  events?: Array<{ identifier: string; outputData?: Array<{ identifier: string; dataType: DataType }> }>;
  services?: Array<{ identifier: string }>;
}

const num = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/**
 * A reported value against its TSL type (§7.1): int → JSON integer, float/double → number, bool → 0/1,
 * enum → integer key, text → string, date → digits string, struct → object, array → array. Range per specs.
 * `raw` is the JSON text of the value, so a float written without a decimal point can be seen.
 */
export function checkValue(dt: DataType | undefined, value: unknown): string | undefined {
  if (!dt) return "unknown identifier";
  const specs = isObj(dt.specs) ? dt.specs : {};
  const range = (n: number) => {
    const min = num(specs["min"]);
    const max = num(specs["max"]);
    if (min !== undefined && n < min) return `${n} below min ${min}`;
    if (max !== undefined && n > max) return `${n} above max ${max}`;
    return undefined;
  };
  switch (dt.type) {
    case "int":
      return typeof value === "number" && Number.isInteger(value) ? range(value) : "int expected";
    case "float":
    case "double":
      return typeof value === "number" && Number.isFinite(value) ? range(value) : "number expected";
    case "bool":
      return value === 0 || value === 1 ? undefined : "bool must be 0 or 1";
    case "enum":
      return typeof value === "number" && Number.isInteger(value) && Object.keys(specs).includes(String(value)) ? undefined : "not an enum key";
    case "text": {
      if (typeof value !== "string") return "string expected";
      const len = num(specs["length"]);
      return len !== undefined && Buffer.byteLength(value) > len ? "text too long" : undefined;
    }
    case "date":
      return typeof value === "string" && /^\d+$/.test(value) ? undefined : "date must be a string of epoch ms";
    case "struct":
      return isObj(value) ? undefined : "object expected";
    case "array":
      return Array.isArray(value) ? undefined : "array expected";
    default:
      return undefined;
  }
}

/** Identifiers of float/double values written without a decimal point in a JSON text (`"id":12` → id). */
export function floatsWithoutPoint(json: string, floatIds: Set<string>): string[] {
  const out: string[] = [];
  const re = /"([^"\\]+)":(?:\{"value":)?(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  for (let m = re.exec(json); m; m = re.exec(json)) {
    if (floatIds.has(m[1]!) && !/[.eE]/.test(m[2]!)) out.push(m[1]!);
  }
  return out;
}
