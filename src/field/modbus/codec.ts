/**
 * Register codec: raw Modbus words or bits <-> point values (alink.md 5.3.2, C8-C14).
 * Pure functions only; the transports and the channel never interpret register contents themselves.
 */
import type { ModbusPointSpec, ModbusRawType, OperateType } from "../../config/gateway/model.js";
import { FieldCode, FieldError } from "../driver.js";
import { NATURAL_WIDTH, MAX_REGISTERS_PER_READ } from "../../config/gateway/modbus-types.js";

/** A decoded point value, before the things layer converts it to the TSL type. */
export type PointValue = number | bigint | boolean | string;

const INT_RANGE: Partial<Record<ModbusRawType, readonly [bigint, bigint]>> = {
  int16: [-0x8000n, 0x7fffn],
  uint16: [0n, 0xffffn],
  int32: [-0x8000_0000n, 0x7fff_ffffn],
  uint32: [0n, 0xffff_ffffn],
  int64: [-0x8000_0000_0000_0000n, 0x7fff_ffff_ffff_ffffn],
  uint64: [0n, 0xffff_ffff_ffff_ffffn],
};

/** Largest finite binary32 value; anything beyond would silently become Infinity on the wire. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Requests are capped by the protocol: 125 registers (FC3/4) or 2000 bits (FC1/2) per read. */
export const MAX_READ_REGISTERS = MAX_REGISTERS_PER_READ;
export const MAX_READ_BITS = 2000;
/** FC16 carries at most 123 registers. */
export const MAX_WRITE_REGISTERS = 123;

export function isBitArea(operateType: OperateType): boolean {
  return operateType === "coilStatus" || operateType === "inputStatus";
}

export function isWritable(operateType: OperateType): boolean {
  return operateType === "coilStatus" || operateType === "holdingRegister";
}

/** Read function code of an operateType (FC1..FC4). */
export function readFunctionCode(operateType: OperateType): 1 | 2 | 3 | 4 {
  switch (operateType) {
    case "coilStatus":
      return 1;
    case "inputStatus":
      return 2;
    case "holdingRegister":
      return 3;
    case "inputRegister":
      return 4;
  }
}

/** Width of a point in its area: bits for coil/input status, registers otherwise. */
export function pointWidth(point: ModbusPointSpec): number {
  if (isBitArea(point.operateType)) return 1;
  if (point.rawType === "string" || point.rawType === "customized data") return point.registerCount;
  return NATURAL_WIDTH[point.rawType] ?? point.registerCount;
}

/**
 * A mapping problem that makes a point unusable, or undefined. The config layer validates points too;
 * the driver checks again so that a bad point can never produce an invalid request.
 */
export function pointProblem(point: ModbusPointSpec): string | undefined {
  if (!Number.isInteger(point.address) || point.address < 0 || point.address > 0xffff) {
    return `address ${point.address} is outside 0..65535`;
  }
  if (!Number.isFinite(point.scaling) || point.scaling === 0) return "scaling must be a finite non-zero number";
  if (!Number.isFinite(point.pollingMs) || point.pollingMs <= 0) return `pollingTime ${point.pollingMs} is not a positive number of ms`;
  if (isBitArea(point.operateType)) {
    if (point.rawType !== "bool") return `${point.operateType} supports only the bool raw type`;
    return undefined;
  }
  const width = pointWidth(point);
  if (!Number.isInteger(width) || width < 1 || width > MAX_READ_REGISTERS) {
    return `registerCount ${point.registerCount} is outside 1..${MAX_READ_REGISTERS}`;
  }
  if (point.address + width > 0x10000) return "the register range runs past address 65535";
  return undefined;
}

/** swap16 swaps the bytes inside each register; reverseRegister reverses the register order. */
function reorder(words: readonly number[], point: ModbusPointSpec): number[] {
  let out = point.swap16 ? words.map((w) => ((w & 0xff) << 8) | ((w >> 8) & 0xff)) : words.slice();
  if (point.reverseRegister) out = out.reverse();
  return out;
}

function wordsToBuffer(words: readonly number[]): Buffer {
  const buf = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => buf.writeUInt16BE(w & 0xffff, i * 2));
  return buf;
}

function bufferToWords(buf: Buffer): number[] {
  const words: number[] = [];
  for (let i = 0; i < buf.length; i += 2) words.push(buf.readUInt16BE(i));
  return words;
}

/**
 * The shortest decimal that reads back as the same binary32 value, so that 0.1f reports as 0.1 and
 * not as 0.10000000149011612 (an artefact of widening, not a property of the device's value).
 */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(v.toPrecision(p));
    if (Math.fround(candidate) === v) return candidate;
  }
  return v;
}

/**
 * raw x scaling. A scaling such as 0.1 is applied as a division by 10, which yields the correctly rounded
 * decimal (3 x 0.1 is 0.30000000000000004, 3 / 10 is 0.3).
 */
function applyScaling(raw: number, scaling: number): number {
  if (scaling === 1) return raw;
  if (Math.abs(scaling) < 1) {
    const inverse = 1 / scaling;
    const rounded = Math.round(inverse);
    if (rounded !== 0 && Math.abs(inverse - rounded) < 1e-9 * Math.abs(inverse)) return raw / rounded;
  }
  return raw * scaling;
}

/** Inverse of applyScaling, with the same care for decimal factors. */
function removeScaling(value: number, scaling: number): number {
  if (scaling === 1) return value;
  if (Math.abs(scaling) < 1) {
    const inverse = 1 / scaling;
    const rounded = Math.round(inverse);
    if (rounded !== 0 && Math.abs(inverse - rounded) < 1e-9 * Math.abs(inverse)) return value * rounded;
  }
  return value / scaling;
}

/**
 * Decodes the registers of one register-area point: exactly pointWidth(point) words, as read, or, with `offset`, the
 * pointWidth(point) words of a block read that start there (no copy of the block).
 */
export function decodeRegisters(point: ModbusPointSpec, words: readonly number[], offset?: number): PointValue {
  const width = pointWidth(point);
  const at = offset ?? 0;
  if (offset === undefined ? words.length !== width : !Number.isInteger(at) || at < 0 || at + width > words.length) {
    throw new RangeError(`${point.identifier}: expected ${width} registers, got ${offset === undefined ? words.length : Math.max(0, words.length - at)}`);
  }
  if (point.rawType === "customized data") {
    // The device's own layout, passed through untouched as upper-case hex of the words as read.
    return words.slice(at, at + width).map((w) => (w & 0xffff).toString(16).toUpperCase().padStart(4, "0")).join("");
  }
  // Numbers are at most four registers: they are decoded through one reused scratch buffer, not a buffer per value.
  const buf = width <= 4 && point.rawType !== "string" ? fillScratch(words, at, width, point) : wordsToBuffer(reorder(words.slice(at, at + width), point));
  switch (point.rawType) {
    case "bool":
      return buf.readUInt16BE(0) !== 0;
    case "int16":
      return applyScaling(buf.readInt16BE(0), point.scaling);
    case "uint16":
      return applyScaling(buf.readUInt16BE(0), point.scaling);
    case "int32":
      return applyScaling(buf.readInt32BE(0), point.scaling);
    case "uint32":
      return applyScaling(buf.readUInt32BE(0), point.scaling);
    case "float":
      return applyScaling(shortestFloat32(buf.readFloatBE(0)), point.scaling);
    case "double":
      return applyScaling(buf.readDoubleBE(0), point.scaling);
    case "int64": {
      const raw = buf.readBigInt64BE(0);
      return point.scaling === 1 ? raw : applyScaling(Number(raw), point.scaling);
    }
    case "uint64": {
      const raw = buf.readBigUInt64BE(0);
      return point.scaling === 1 ? raw : applyScaling(Number(raw), point.scaling);
    }
    case "string": {
      let end = buf.length;
      while (end > 0 && buf[end - 1] === 0) end--;
      return buf.toString("utf8", 0, end);
    }
  }
}

const scratch = Buffer.alloc(8);

/** `width` (≤ 4) words from `at`, in the point's word and byte order, into the scratch buffer (read at once, synchronously). */
function fillScratch(words: readonly number[], at: number, width: number, point: ModbusPointSpec): Buffer {
  for (let i = 0; i < width; i++) {
    let w = words[at + (point.reverseRegister ? width - 1 - i : i)]! & 0xffff;
    if (point.swap16) w = ((w & 0xff) << 8) | (w >> 8);
    scratch.writeUInt16BE(w, i * 2);
  }
  return scratch;
}

/** Decodes a coil or discrete input. */
export function decodeBit(_point: ModbusPointSpec, bit: boolean): boolean {
  return bit;
}

function badValue(point: ModbusPointSpec, why: string): FieldError {
  return new FieldError(FieldCode.badRequest, `${point.identifier}: ${why}`);
}

/** Rounds half away from zero: a set of -2.5 writes -3, like 2.5 writes 3. */
function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

function toNumber(point: ModbusPointSpec, value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw badValue(point, `value ${value} is not a finite number`);
    return value;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  throw badValue(point, `expected a number for raw type ${point.rawType}, got ${typeof value}`);
}

function toBoolean(point: ModbusPointSpec, value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value !== 0;
  if (typeof value === "bigint") return value !== 0n;
  if (value === "0" || value === "1") return value === "1";
  if (value === "true" || value === "false") return value === "true";
  throw badValue(point, `expected a boolean, got ${typeof value}`);
}

/** Scaled TSL value -> raw integer of the point's type, range-checked. */
function toRawInteger(point: ModbusPointSpec, value: unknown): bigint {
  const range = INT_RANGE[point.rawType];
  if (!range) throw new Error(`not an integer raw type: ${point.rawType}`);
  let raw: bigint;
  if (typeof value === "bigint" && point.scaling === 1) {
    raw = value;
  } else {
    const scaled = removeScaling(toNumber(point, value), point.scaling);
    raw = BigInt(roundHalfAway(scaled));
  }
  if (raw < range[0] || raw > range[1]) {
    throw badValue(point, `value ${String(value)} does not fit ${point.rawType} (raw ${raw}, scaling ${point.scaling})`);
  }
  return raw;
}

/**
 * Encodes a TSL value for writing (alink.md 5.3.2 write path): divide by scaling, round integer types and
 * check their range, encode big-endian, then reverseRegister, then swap16. Returns the register words
 * to write; for a coil, the single FC5 output value (0xFF00 on, 0x0000 off).
 * Throws FieldError (badRequest) when the value cannot be represented.
 */
export function encodeValue(point: ModbusPointSpec, tslValue: unknown): number[] {
  if (isBitArea(point.operateType)) return [toBoolean(point, tslValue) ? 0xff00 : 0x0000];
  const width = pointWidth(point);
  const buf = Buffer.alloc(width * 2);
  switch (point.rawType) {
    case "bool":
      buf.writeUInt16BE(toBoolean(point, tslValue) ? 1 : 0, 0);
      break;
    case "int16":
      buf.writeInt16BE(Number(toRawInteger(point, tslValue)), 0);
      break;
    case "uint16":
      buf.writeUInt16BE(Number(toRawInteger(point, tslValue)), 0);
      break;
    case "int32":
      buf.writeInt32BE(Number(toRawInteger(point, tslValue)), 0);
      break;
    case "uint32":
      buf.writeUInt32BE(Number(toRawInteger(point, tslValue)), 0);
      break;
    case "int64":
      buf.writeBigInt64BE(toRawInteger(point, tslValue), 0);
      break;
    case "uint64":
      buf.writeBigUInt64BE(toRawInteger(point, tslValue), 0);
      break;
    case "float": {
      const raw = removeScaling(toNumber(point, tslValue), point.scaling);
      if (Math.abs(raw) > FLOAT32_MAX) throw badValue(point, `value ${String(tslValue)} does not fit float`);
      buf.writeFloatBE(raw, 0);
      break;
    }
    case "double": {
      const raw = removeScaling(toNumber(point, tslValue), point.scaling);
      if (!Number.isFinite(raw)) throw badValue(point, `value ${String(tslValue)} does not fit double`);
      buf.writeDoubleBE(raw, 0);
      break;
    }
    case "string": {
      if (typeof tslValue !== "string") throw badValue(point, `expected a string, got ${typeof tslValue}`);
      const bytes = Buffer.from(tslValue, "utf8");
      if (bytes.length > buf.length) {
        throw badValue(point, `string of ${bytes.length} bytes does not fit ${width} registers`);
      }
      bytes.copy(buf); // the rest stays 0x00: NUL padding
      break;
    }
    case "customized data": {
      const hex = typeof tslValue === "string" ? tslValue : "";
      if (!new RegExp(`^[0-9a-fA-F]{${width * 4}}$`).test(hex)) {
        throw badValue(point, `expected ${width * 4} hex digits for customized data`);
      }
      // Written as given, the mirror of the read path, which reports the words as read.
      return bufferToWords(Buffer.from(hex, "hex"));
    }
  }
  return reorder(bufferToWords(buf), point);
}
