/** Static rules for Modbus raw types (alink.md 5.3.2, C8, C9, C11, C27). */
import type { ModbusRawType, OperateType } from "./model.js";
import type { TslTypeName } from "../../things/tsl-types.js";

export const BIT_TABLES: ReadonlySet<OperateType> = new Set(["coilStatus", "inputStatus"]);
export const READ_ONLY_TABLES: ReadonlySet<OperateType> = new Set(["inputStatus", "inputRegister"]);

/** Registers per value for fixed-width types; string and customized data take `registerCount`. */
export const NATURAL_WIDTH: Partial<Record<ModbusRawType, number>> = {
  bool: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float: 2,
  int64: 4,
  uint64: 4,
  double: 4,
};

/** The most registers one read request (FC 0x03/0x04) can return. */
export const MAX_REGISTERS_PER_READ = 125;

const INTEGER_RAW: readonly ModbusRawType[] = ["int16", "uint16", "int32", "uint32", "int64", "uint64"];
const NUMERIC_RAW: readonly ModbusRawType[] = [...INTEGER_RAW, "float", "double"];

/** Which raw types can feed a TSL type; values are converted as in alink.md 5.3.2 step 6. */
const COMPATIBLE: Record<TslTypeName, readonly ModbusRawType[]> = {
  int: [...NUMERIC_RAW, "bool"],
  float: [...NUMERIC_RAW, "bool"],
  double: [...NUMERIC_RAW, "bool"],
  bool: [...INTEGER_RAW, "bool"],
  enum: [...INTEGER_RAW, "bool"],
  text: ["string", "customized data"],
  // epoch milliseconds need more than 32 bits
  date: ["int64", "uint64", "double"],
  struct: [],
  array: [],
};

export function rawFitsTsl(raw: ModbusRawType, tsl: TslTypeName): boolean {
  return COMPATIBLE[tsl]?.includes(raw) ?? false;
}

export function compatibleRawTypes(tsl: TslTypeName): readonly ModbusRawType[] {
  return COMPATIBLE[tsl] ?? [];
}

/** Parses a register address (C7): "0x1A"/"0X1a" hex, "26" decimal, or a JSON integer. */
export function parseRegisterAddress(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  if (/^0[xX][0-9a-fA-F]+$/.test(value)) return parseInt(value.slice(2), 16);
  if (/^[0-9]+$/.test(value)) return parseInt(value, 10);
  return undefined;
}
