/**
 * Which unit ids answer on a Modbus line (`fieldbridge scan`): one probe per unit (read holding register 0), strictly
 * one at a time, each bounded by a short timeout and followed by a quiet gap, so that a scan of an RS-485 line never
 * has two requests on the wire and leaves the devices time to turn their drivers around. A unit that answers with an
 * exception is present (it parsed a request addressed to it); exceptions 10 and 11 come from a TCP gateway saying
 * that nothing answered behind it, so they count as no answer.
 */
import type { ModbusRequest } from "./pdu.js";
import { ModbusExceptionError, ModbusNotConnectedError, ModbusProtocolError, ModbusTimeoutError } from "./errors.js";
import type { ModbusTransport } from "./transport.js";

export const MIN_UNIT = 1;
export const MAX_UNIT = 247;

/** The probe: read one holding register at address 0 (function 3), what every Modbus scanner sends. */
const PROBE: ModbusRequest = { fc: 3, address: 0, count: 1 };

const EXCEPTION_NAMES: Record<number, string> = {
  1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "server device failure",
  5: "acknowledge", 6: "server device busy", 8: "memory parity error",
  10: "gateway path unavailable", 11: "gateway target device failed to respond",
};
/** Exceptions a TCP-to-serial gateway sends for a unit behind it that did not answer. */
const GATEWAY_NO_ANSWER = new Set([10, 11]);

export type UnitResult =
  | { unit: number; outcome: "answer"; detail: string }
  | { unit: number; outcome: "exception"; code: number; detail: string }
  | { unit: number; outcome: "none"; detail: string };

export interface ScanOptions {
  units: readonly number[];
  /** Wait for each answer, ms. */
  timeoutMs: number;
  /** Quiet time after each probe, ms (on top of the RTU inter-frame silence the transport keeps). */
  gapMs: number;
  /** Called as each unit is done (progress). */
  onResult?: (r: UnitResult) => void;
  /** Stops the scan early (Ctrl-C). */
  signal?: AbortSignal;
}

export async function probeUnit(transport: ModbusTransport, unit: number, timeoutMs: number): Promise<UnitResult> {
  try {
    const res = await transport.execute(unit, PROBE, timeoutMs);
    const regs = "registers" in res ? res.registers : [];
    return { unit, outcome: "answer", detail: `holding register 0 = ${regs[0] ?? "?"}` };
  } catch (err) {
    if (err instanceof ModbusExceptionError) {
      const code = err.exceptionCode;
      const name = EXCEPTION_NAMES[code] ?? "unknown";
      if (GATEWAY_NO_ANSWER.has(code)) return { unit, outcome: "none", detail: `the gateway answered exception ${code} (${name})` };
      return { unit, outcome: "exception", code, detail: `exception ${code} (${name})` };
    }
    if (err instanceof ModbusTimeoutError) return { unit, outcome: "none", detail: `no answer within ${timeoutMs} ms` };
    if (err instanceof ModbusProtocolError) return { unit, outcome: "none", detail: `garbled answer (${err.message}); check the line settings` };
    if (err instanceof ModbusNotConnectedError) throw err;
    return { unit, outcome: "none", detail: (err as Error).message };
  }
}

/** Probes `units` in order; rejects only when the line itself fails (cannot open, lost). */
export async function scanUnits(transport: ModbusTransport, o: ScanOptions): Promise<UnitResult[]> {
  const out: UnitResult[] = [];
  for (const unit of o.units) {
    if (o.signal?.aborted) break;
    const r = await probeUnit(transport, unit, o.timeoutMs);
    out.push(r);
    o.onResult?.(r);
    if (o.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, o.gapMs));
  }
  return out;
}

/** "1-247", "1,2,5-9": unit ids in 1..247, ascending, without duplicates; throws with a readable message. */
export function parseUnits(text: string): number[] {
  const units = new Set<number>();
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part);
    if (!m) throw new Error(`--units: "${part}" is not a unit id or a range like 1-247`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < MIN_UNIT || b > MAX_UNIT || a > b) throw new Error(`--units: ${part} is outside ${MIN_UNIT}-${MAX_UNIT} or reversed`);
    for (let u = a; u <= b; u++) units.add(u);
  }
  return [...units].sort((x, y) => x - y);
}

/** 3,4,5,9 → "3-5, 9". */
export function formatUnits(units: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < units.length; ) {
    let j = i;
    while (j + 1 < units.length && units[j + 1] === units[j]! + 1) j++;
    parts.push(j > i ? `${units[i]}-${units[j]}` : `${units[i]}`);
    i = j + 1;
  }
  return parts.join(", ");
}
