/**
 * Modbus RTU over a serial line, through modbus-serial's buffered RTU port (framing, CRC, serialport).
 * The line is half-duplex: one transaction at a time, each separated from the previous one by the
 * inter-frame silence t3.5 that the baud rate requires.
 */
import mb from "modbus-serial";
import type { ModbusRtuChannelSpec } from "../../config/gateway/model.js";
import type { ModbusRequest, ModbusResult } from "./pdu.js";
import { ModbusExceptionError, ModbusNotConnectedError, ModbusProtocolError, ModbusTimeoutError } from "./errors.js";
import type { ModbusTransport } from "./transport.js";

const ModbusRTU = mb.default;
type RtuClient = InstanceType<typeof ModbusRTU>;

/**
 * t3.5 in ms: 3.5 character times (start bit + data bits + parity bit + stop bits per character);
 * the Modbus serial line spec fixes it at 1.75 ms above 19200 baud.
 */
export function interFrameGapMs(line: Pick<ModbusRtuChannelSpec, "baudRate" | "dataBits" | "stopBits" | "parity">): number {
  if (line.baudRate > 19200) return 1.75;
  const bitsPerChar = 1 + line.dataBits + (line.parity === "none" ? 0 : 1) + line.stopBits;
  return (3.5 * bitsPerChar * 1000) / line.baudRate;
}

export interface RtuTransportOptions {
  line: Pick<ModbusRtuChannelSpec, "path" | "baudRate" | "dataBits" | "stopBits" | "parity">;
}

/** modbus-serial's callbacks get an error that may carry `modbusCode` (exception) or `errno`. */
type Callback<T> = (err: NodeJS.ErrnoException | null, res: T) => void;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class RtuTransport implements ModbusTransport {
  private client: RtuClient | undefined;
  private open_ = false;
  private closedByUs = false;
  private lostListener: ((reason: string) => void) | undefined;
  private lostReported = false;
  /** Serialises transactions even if a caller forgets to: the line carries one frame exchange at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private lastFrameEnd = 0;
  private lastError: string | undefined;
  private readonly gapMs: number;

  constructor(private readonly options: RtuTransportOptions) {
    this.gapMs = interFrameGapMs(options.line);
  }

  get isOpen(): boolean {
    return this.open_ && this.client?.isOpen === true;
  }

  onLost(listener: (reason: string) => void): void {
    this.lostListener = listener;
  }

  async open(): Promise<void> {
    const client = new ModbusRTU();
    this.client = client;
    // Without a listener an 'error' event would be thrown. The line's state is tracked through 'close';
    // the error only explains it.
    client.on("error", (err: unknown) => {
      this.lastError = (err as Error)?.message ?? String(err);
      if (!client.isOpen) this.lost(`serial port error: ${this.lastError}`);
    });
    const { line } = this.options;
    try {
      await client.connectRTUBuffered(line.path, {
        baudRate: line.baudRate,
        dataBits: line.dataBits,
        stopBits: line.stopBits,
        parity: line.parity,
      });
    } catch (err) {
      throw new ModbusNotConnectedError(`cannot open ${line.path}: ${(err as Error)?.message ?? String(err)}`);
    }
    client.on("close", () => this.lost(`serial port ${line.path} closed${this.lastError ? `: ${this.lastError}` : ""}`));
    this.open_ = true;
  }

  close(): Promise<void> {
    this.closedByUs = true;
    this.open_ = false;
    const client = this.client;
    if (!client || !client.isOpen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(guard);
        resolve();
      };
      // A port that vanished may never call back; closing must not hang the daemon's shutdown.
      const guard = setTimeout(resolve, 2000);
      try {
        client.close(done);
      } catch {
        done();
      }
    });
  }

  execute(unit: number, req: ModbusRequest, timeoutMs: number): Promise<ModbusResult> {
    const run = this.tail.then(() => this.transact(unit, req, timeoutMs));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async transact(unit: number, req: ModbusRequest, timeoutMs: number): Promise<ModbusResult> {
    const client = this.client;
    if (!client || !this.isOpen) throw new ModbusNotConnectedError("serial port not open");
    const wait = this.lastFrameEnd + this.gapMs - performance.now();
    if (wait > 0) await sleep(wait);
    this.discardStaleInput(client);
    client.setTimeout(timeoutMs);
    try {
      return await new Promise<ModbusResult>((resolve, reject) => {
        let settled = false;
        // modbus-serial drops its callback when the port is destroyed mid-transaction; never wait forever.
        const guard = setTimeout(() => finish(new ModbusTimeoutError(timeoutMs)), timeoutMs + 250);
        const finish = (err: Error | null, result?: ModbusResult): void => {
          if (settled) return;
          settled = true;
          clearTimeout(guard);
          if (err) reject(err);
          else resolve(result!);
        };
        const cb = <T>(map: (res: T) => ModbusResult): Callback<T> => (err, res) => {
          if (err) finish(mapError(err, timeoutMs));
          else finish(null, map(res));
        };
        switch (req.fc) {
          case 1:
            client.writeFC1(unit, req.address, req.count, cb((r) => ({ bits: r.data.slice(0, req.count) })));
            break;
          case 2:
            client.writeFC2(unit, req.address, req.count, cb((r) => ({ bits: r.data.slice(0, req.count) })));
            break;
          case 3:
            client.writeFC3(unit, req.address, req.count, cb((r) => ({ registers: r.data })));
            break;
          case 4:
            client.writeFC4(unit, req.address, req.count, cb((r) => ({ registers: r.data })));
            break;
          case 5:
            client.writeFC5(unit, req.address, req.value, cb(() => ({ written: true })));
            break;
          case 6:
            client.writeFC6(unit, req.address, req.value, cb(() => ({ written: true })));
            break;
          case 15:
            client.writeFC15(unit, req.address, req.values, cb(() => ({ written: true })));
            break;
          case 16:
            client.writeFC16(unit, req.address, req.values, cb(() => ({ written: true })));
            break;
        }
      });
    } finally {
      this.lastFrameEnd = performance.now();
    }
  }

  /**
   * Bytes that arrived while no request was outstanding (a late answer to a timed-out request, line
   * noise) cannot belong to the next response; left in the port's buffer they could be framed into it.
   */
  private discardStaleInput(client: RtuClient): void {
    const port = (client as unknown as { _port?: { _buffer?: Buffer } })._port;
    if (port && Buffer.isBuffer(port._buffer) && port._buffer.length > 0) port._buffer = Buffer.alloc(0);
  }

  private lost(reason: string): void {
    const wasOpen = this.open_;
    this.open_ = false;
    if (wasOpen && !this.closedByUs && !this.lostReported) {
      this.lostReported = true;
      this.lostListener?.(reason);
    }
  }
}

function mapError(err: NodeJS.ErrnoException & { modbusCode?: number }, timeoutMs: number): Error {
  if (typeof err.modbusCode === "number") return new ModbusExceptionError(err.modbusCode);
  if ((err as { errno?: unknown }).errno === "ETIMEDOUT" || err.name === "TransactionTimedOutError") return new ModbusTimeoutError(timeoutMs);
  if (err.name === "PortNotOpenError") return new ModbusNotConnectedError("serial port not open");
  return new ModbusProtocolError(err.message || err.name || "malformed response");
}
