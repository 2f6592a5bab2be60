/** Transport-level failures of one Modbus transaction; the channel maps them to FieldError codes. */

export class ModbusTimeoutError extends Error {
  /** `detail`: what did arrive meanwhile, e.g. an answer with the wrong transaction id. */
  constructor(readonly timeoutMs: number, detail?: string) {
    super(`timeout after ${timeoutMs} ms${detail ? `; ${detail}` : ""}`);
    this.name = "ModbusTimeoutError";
  }
}

const NAMES: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

/** The device answered with an exception response. */
export class ModbusExceptionError extends Error {
  constructor(readonly exceptionCode: number) {
    super(`modbus exception ${exceptionCode} (${NAMES[exceptionCode] ?? "unknown"})`);
    this.name = "ModbusExceptionError";
  }
}

/** The link is not open, or closed while the request was pending. */
export class ModbusNotConnectedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "ModbusNotConnectedError";
  }
}

/** A malformed or mismatched response (bad length, CRC, function code). */
export class ModbusProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModbusProtocolError";
  }
}

/** A queued request dropped because its device was removed or the channel stopped. */
export class ModbusAbandonedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "ModbusAbandonedError";
  }
}
