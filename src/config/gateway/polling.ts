/** pollingTime in milliseconds (C15): at least 1; Modbus values below 100 ms are raised to 100 ms. */
import type { Path, ProblemLog } from "./problems.js";

export const MIN_MODBUS_POLLING_MS = 100;
export const DEFAULT_POLLING_MS = 1000;

/** Undefined when absent, null when invalid (logged), else the interval to use. */
export function readPollingTime(value: unknown, path: Path, log: ProblemLog, clampForModbus: boolean): number | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== "number") return null; // the schema reported the type
  if (!Number.isFinite(value) || value < 1) {
    log.error(path, `must be at least 1 ms (got ${value})`);
    return null;
  }
  if (clampForModbus && value < MIN_MODBUS_POLLING_MS) {
    log.warning(path, `${value} ms is below the ${MIN_MODBUS_POLLING_MS} ms minimum; polled every ${MIN_MODBUS_POLLING_MS} ms`);
    return MIN_MODBUS_POLLING_MS;
  }
  return value;
}
