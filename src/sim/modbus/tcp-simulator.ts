/**
 * A fast Modbus TCP server for the demo, tests and benchmarks. modbus-serial's ServerTCP defers every
 * request with setTimeout and tops out near 780 requests/s, which would make a benchmark measure the
 * server; this one answers synchronously from the data handler and batches the answers of one chunk into
 * one write, so a gateway under test is what limits the rate.
 */
import net from "node:net";
import { ModbusMemory, type ModbusMemoryOptions } from "./memory.js";

export interface ModbusTcpSimulatorOptions extends ModbusMemoryOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

const MBAP = 7;

export class ModbusTcpSimulator extends ModbusMemory {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private boundPort = 0;
  readonly host: string;
  /** Connections accepted since start. */
  connections = 0;
  /** Delayed answers not sent yet, and the most there ever were: how far a client pipelines. */
  pendingAnswers = 0;
  peakPendingAnswers = 0;

  private constructor(options: ModbusTcpSimulatorOptions) {
    super(options);
    this.host = options.host ?? "127.0.0.1";
    this.boundPort = options.port ?? 0;
  }

  static async start(options: ModbusTcpSimulatorOptions): Promise<ModbusTcpSimulator> {
    const sim = new ModbusTcpSimulator(options);
    await sim.listen();
    return sim;
  }

  /** Listens again after close(), on the same port, with the register contents kept. */
  async listen(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.boundPort, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Stops listening and drops every connection (what a device power cycle looks like to a client). */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pendingAnswers = 0;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let rx: Buffer = Buffer.alloc(0);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("data", (chunk: Buffer) => {
      rx = rx.length === 0 ? chunk : Buffer.concat([rx, chunk]);
      const out: Buffer[] = [];
      while (rx.length >= MBAP) {
        const length = rx.readUInt16BE(4);
        if (rx.readUInt16BE(2) !== 0 || length < 2 || length > 254) {
          socket.destroy();
          return;
        }
        if (rx.length < 6 + length) break;
        const header = rx.subarray(0, MBAP);
        const unit = rx[6]!;
        const answer = this.answer(unit, rx.subarray(MBAP, 6 + length));
        rx = rx.subarray(6 + length);
        if (!answer) continue;
        const frame = Buffer.alloc(MBAP + answer.pdu.length);
        header.copy(frame, 0);
        frame.writeUInt16BE(answer.pdu.length + 1, 4);
        answer.pdu.copy(frame, MBAP);
        if (answer.delayMs > 0) {
          this.pendingAnswers++;
          this.peakPendingAnswers = Math.max(this.peakPendingAnswers, this.pendingAnswers);
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.pendingAnswers--;
            if (!socket.destroyed) socket.write(frame);
          }, answer.delayMs);
          this.timers.add(t);
        } else {
          out.push(frame);
        }
      }
      if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
  }
}
