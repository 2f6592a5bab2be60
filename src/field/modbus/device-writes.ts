/** The write side of a Modbus device: the request for a point, the reply code of a failure, read/write ordering. */
import type { ModbusPointSpec } from "../../config/gateway/model.js";
import { FieldCode, FieldError } from "../driver.js";
import { MAX_WRITE_REGISTERS } from "./codec.js";
import { ModbusAbandonedError, ModbusExceptionError, ModbusNotConnectedError, ModbusTimeoutError } from "./errors.js";
import type { ModbusRequest } from "./pdu.js";

/**
 * Exceptions 10/11 come from a TCP-to-serial gateway, not from the device: "path unavailable" and
 * "target device failed to respond". For the device's health they mean silence, not an answer.
 */
export function isGatewayNoAnswer(err: ModbusExceptionError): boolean {
  return err.exceptionCode === 10 || err.exceptionCode === 11;
}

/** FC5 for a coil, FC6 for one register, FC16 for several. */
export function writeRequest(point: ModbusPointSpec, words: number[]): ModbusRequest {
  if (point.operateType === "coilStatus") return { fc: 5, address: point.address, value: words[0] === 0xff00 };
  if (words.length === 1) return { fc: 6, address: point.address, value: words[0]! };
  if (words.length > MAX_WRITE_REGISTERS) {
    throw new FieldError(FieldCode.badRequest, `${point.identifier}: ${words.length} registers exceed one FC16 write (${MAX_WRITE_REGISTERS})`);
  }
  return { fc: 16, address: point.address, values: words };
}

/** The Alink reply code and message for a failed write. */
export function writeError(point: ModbusPointSpec, unit: number, err: unknown): FieldError {
  const where = `writing ${point.identifier} (unit ${unit}, address ${point.address})`;
  if (err instanceof ModbusTimeoutError) return new FieldError(FieldCode.timeout, `timeout ${where}: ${err.message}`);
  if (err instanceof ModbusExceptionError) return new FieldError(FieldCode.modbusException, `${err.message} ${where}`);
  if (err instanceof ModbusNotConnectedError || err instanceof ModbusAbandonedError) {
    return new FieldError(FieldCode.notConnected, `channel not connected ${where}: ${err.message}`);
  }
  return new FieldError(FieldCode.generic, `${(err as Error)?.message ?? String(err)} ${where}`);
}

/** Per point: writes in progress and when the last one completed, so that a read older than a write is not reported. */
export class WriteLedger {
  private readonly doneAt = new Map<string, number>();
  private readonly inProgress = new Map<string, number>();

  begin(identifier: string): void {
    this.inProgress.set(identifier, (this.inProgress.get(identifier) ?? 0) + 1);
  }

  end(identifier: string): void {
    const left = (this.inProgress.get(identifier) ?? 1) - 1;
    if (left > 0) this.inProgress.set(identifier, left);
    else this.inProgress.delete(identifier);
    this.doneAt.set(identifier, performance.now());
  }

  /** A read that went out before a write to the same point completed may carry the old value. */
  predates(identifier: string, sentAt: number): boolean {
    if (this.inProgress.get(identifier)) return true;
    const done = this.doneAt.get(identifier);
    return done !== undefined && sentAt < done;
  }
}
