/** Turns the answer to one planned read into samples: decoded, scaled, stamped; stale or unusable values left out. */
import type { Logger } from "pino";
import type { Sample } from "../driver.js";
import { decodeBit, decodeRegisters, isBitArea, type PointValue } from "./codec.js";
import type { WriteLedger } from "./device-writes.js";
import type { ModbusResult } from "./pdu.js";
import type { PlannedRead } from "./planner.js";

export class SampleDecoder {
  /** Points whose non-finite value was logged once already. */
  private readonly loggedBadValues = new Set<string>();

  constructor(
    private readonly deviceKey: string,
    private readonly log: Logger,
    private readonly writes: WriteLedger,
  ) {}

  decode(read: PlannedRead, result: ModbusResult, sentAt: number, out: Sample[]): void {
    const time = Date.now();
    for (const { point, offset } of read.items) {
      if (this.writes.predates(point.identifier, sentAt)) continue;
      let value: PointValue;
      if (isBitArea(point.operateType)) {
        if (!("bits" in result)) continue;
        value = decodeBit(point, result.bits[offset] ?? false);
      } else {
        if (!("registers" in result)) continue;
        value = decodeRegisters(point, result.registers, offset);
      }
      if (typeof value === "number" && !Number.isFinite(value)) {
        if (!this.loggedBadValues.has(point.identifier)) {
          this.loggedBadValues.add(point.identifier);
          this.log.warn({ identifier: point.identifier, address: point.address }, `Modbus point decoded to ${value}; sample dropped`);
        }
        continue;
      }
      out.push({ deviceKey: this.deviceKey, identifier: point.identifier, value, time });
    }
  }
}
