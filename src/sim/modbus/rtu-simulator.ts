/**
 * Modbus RTU slaves on a serial port (in tests: one end of a socat pty pair), served by modbus-serial's
 * ServerSerial. One server answers for every simulated unit; answers of dead or unknown units are
 * swallowed on their way to the port, so to the gateway such a unit is simply silent, as on a real line.
 */
import { ServerSerial, type IServiceVector } from "modbus-serial";
import { ModbusMemory, type ModbusMemoryOptions } from "./memory.js";

export interface ModbusRtuSimulatorOptions extends ModbusMemoryOptions {
  path: string;
  baudRate?: number;
  /**
   * Silence (ms) after which ServerSerial takes the received bytes as one request frame. Its default of
   * 30 ms caps a line at ~30 requests/s; 3 ms gives ~180/s on a pty.
   */
  frameGapMs?: number;
}

export class ModbusRtuSimulator extends ModbusMemory {
  private server: ServerSerial | undefined;

  private constructor(private readonly options: ModbusRtuSimulatorOptions) {
    super(options);
  }

  static async start(options: ModbusRtuSimulatorOptions): Promise<ModbusRtuSimulator> {
    const sim = new ModbusRtuSimulator(options);
    await sim.open();
    return sim;
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let port: { write(b: Buffer): unknown } | undefined;
      const responder = {
        write: (frame: Buffer): void => {
          const unit = frame[0]!;
          this.countRequest(unit);
          if (this.answers(unit)) port?.write(frame);
        },
      };
      const serverOptions = {
        path: this.options.path,
        baudRate: this.options.baudRate ?? 9600,
        unitID: 255, // every address: the memory decides who answers
        interval: this.options.frameGapMs ?? 3,
        portResponse: responder,
        openCallback: (err: Error | null | undefined) => {
          if (err) reject(err);
        },
      };
      const server = new ServerSerial(this.vector(), serverOptions as unknown as ConstructorParameters<typeof ServerSerial>[1]);
      port = (server as unknown as { getPort(): { write(b: Buffer): unknown } }).getPort();
      server.on("initialized", () => {
        this.server = server;
        resolve();
      });
      server.on("error", () => undefined);
      server.on("socketError", () => undefined);
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const guard = setTimeout(resolve, 2000);
      server.close(() => {
        clearTimeout(guard);
        resolve();
      });
    });
  }

  private vector(): IServiceVector {
    const bit = (unit: number, area: "coils" | "discrete", addr: number): boolean => this.readArea(unit, area, addr, 1)[0] === 1;
    return {
      getCoil: (addr: number, unit: number) => bit(unit, "coils", addr),
      getDiscreteInput: (addr: number, unit: number) => bit(unit, "discrete", addr),
      getHoldingRegister: (addr: number, unit: number) => this.readArea(unit, "holding", addr, 1)[0]!,
      getInputRegister: (addr: number, unit: number) => this.readArea(unit, "input", addr, 1)[0]!,
      getMultipleHoldingRegisters: (addr: number, length: number, unit: number) => this.readArea(unit, "holding", addr, length),
      getMultipleInputRegisters: (addr: number, length: number, unit: number) => this.readArea(unit, "input", addr, length),
      setCoil: (addr: number, value: boolean, unit: number) => this.writeArea(unit, "coils", addr, [value ? 1 : 0]),
      setRegister: (addr: number, value: number, unit: number) => this.writeArea(unit, "holding", addr, [value]),
      setRegisterArray: (addr: number, values: number[], unit: number) => this.writeArea(unit, "holding", addr, values),
    };
  }
}
