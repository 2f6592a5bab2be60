/** What the channel needs from a Modbus link, whatever carries it (TCP socket, serial line). */
import type { ModbusRequest, ModbusResult } from "./pdu.js";

export interface ModbusTransport {
  /** True while the link can carry requests. */
  readonly isOpen: boolean;
  /** Opens the link; rejects with the reason when it cannot (the caller retries). Called once. */
  open(): Promise<void>;
  /** Closes the link; pending requests reject with ModbusNotConnectedError. Never rejects. */
  close(): Promise<void>;
  /**
   * One transaction with `unit`. Rejects with ModbusTimeoutError, ModbusExceptionError,
   * ModbusNotConnectedError or ModbusProtocolError.
   */
  execute(unit: number, req: ModbusRequest, timeoutMs: number): Promise<ModbusResult>;
  /** Called once when an open link is lost (not after close()). */
  onLost(listener: (reason: string) => void): void;
}

/** Creates a fresh transport for each connection attempt, so that no state leaks between attempts. */
export type TransportFactory = () => ModbusTransport;
