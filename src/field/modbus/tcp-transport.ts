/**
 * Modbus TCP client framing (MBAP) on a plain socket. Written here rather than taken from modbus-serial
 * because the gateway pipelines requests: every transaction gets its own 16-bit transaction id, timer and
 * promise, so a late answer to a timed-out request is recognised and dropped instead of being taken for
 * the next one, and the unit id travels with each request instead of being client-wide state.
 */
import net from "node:net";
import { decodeResponse, encodeRequest, type ModbusRequest, type ModbusResult } from "./pdu.js";
import { ModbusNotConnectedError, ModbusProtocolError, ModbusTimeoutError } from "./errors.js";
import type { ModbusTransport } from "./transport.js";

export interface TcpTransportOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /**
   * Consecutive timeouts with nothing received, over at least staleAfterMs, after which the connection is
   * taken for half-open and dropped (the caller reconnects): a peer that vanished without a FIN would
   * otherwise hold the link for the minutes TCP retransmission takes to give up. A gateway with one dead
   * unit behind it still answers for the others, so this only trips when the whole link is silent.
   */
  staleAfterTimeouts: number;
  staleAfterMs: number;
}

interface Pending {
  unit: number;
  req: ModbusRequest;
  timer: NodeJS.Timeout;
  resolve: (r: ModbusResult) => void;
  reject: (e: Error) => void;
}

const MBAP_HEADER = 7; // transaction id, protocol id, length, unit id
/** Timed-out transaction ids remembered, so that their late answers are not taken for wrong ids. */
const RECENT_TIMEOUTS = 64;

export class TcpTransport implements ModbusTransport {
  private socket: net.Socket | undefined;
  private open_ = false;
  private closedByUs = false;
  private nextTid = 1;
  private readonly pending = new Map<number, Pending>();
  private rx: Buffer = Buffer.alloc(0);
  private silentTimeouts = 0;
  private lastReceived = performance.now();
  private lostListener: ((reason: string) => void) | undefined;
  private lostReported = false;
  /** Ids of requests that timed out, oldest first: an answer to one of them is late, not wrong. */
  private readonly timedOut = new Set<number>();
  /** Per unit, the last answer whose transaction id matched no request, sent or timed out. */
  private readonly strayAnswers = new Map<number, { tid: number; at: number }>();

  constructor(private readonly options: TcpTransportOptions) {}

  get isOpen(): boolean {
    return this.open_;
  }

  onLost(listener: (reason: string) => void): void {
    this.lostListener = listener;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.options.host, port: this.options.port });
      this.socket = socket;
      let settled = false;
      const fail = (reason: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(new ModbusNotConnectedError(reason));
      };
      const timer = setTimeout(() => fail(`connect timed out after ${this.options.connectTimeoutMs} ms`), this.options.connectTimeoutMs);
      socket.once("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.setNoDelay(true);
        // Keepalive notices a peer that vanished without a FIN (cable pulled, gateway power loss).
        socket.setKeepAlive(true, 10_000);
        this.lastReceived = performance.now();
        this.open_ = true;
        resolve();
      });
      socket.on("error", (err: NodeJS.ErrnoException) => {
        if (!settled) fail(`${err.code ?? err.message} connecting to ${this.options.host}:${this.options.port}`);
        else this.lost(err.code ?? err.message);
      });
      socket.on("close", () => {
        if (!settled) fail("connection closed while connecting");
        else this.lost("connection closed by peer");
      });
      socket.on("data", (chunk: Buffer) => this.onData(chunk));
    });
  }

  close(): Promise<void> {
    this.closedByUs = true;
    const socket = this.socket;
    this.shutdown("connection closed");
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once("close", () => resolve());
      socket.destroy();
    });
  }

  execute(unit: number, req: ModbusRequest, timeoutMs: number): Promise<ModbusResult> {
    const socket = this.socket;
    if (!this.open_ || !socket) return Promise.reject(new ModbusNotConnectedError("not connected"));
    const tid = this.allocateTid();
    const pdu = encodeRequest(req);
    const frame = Buffer.alloc(MBAP_HEADER + pdu.length);
    frame.writeUInt16BE(tid, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(pdu.length + 1, 4);
    frame.writeUInt8(unit, 6);
    pdu.copy(frame, MBAP_HEADER);
    return new Promise<ModbusResult>((resolve, reject) => {
      const sentAt = performance.now();
      const timer = setTimeout(() => {
        this.pending.delete(tid);
        this.rememberTimeout(tid);
        // An answer that came for this unit with an id nobody waits for is most likely this one's.
        const stray = this.strayAnswers.get(unit);
        const detail = stray && stray.at >= sentAt ? `an answer with the wrong transaction id ${stray.tid} (expected ${tid}) was dropped` : undefined;
        reject(new ModbusTimeoutError(timeoutMs, detail));
        this.silentTimeouts++;
        const silentFor = performance.now() - this.lastReceived;
        if (this.silentTimeouts >= this.options.staleAfterTimeouts && silentFor >= this.options.staleAfterMs) {
          this.socket?.destroy();
          this.lost(`no response to ${this.silentTimeouts} requests in ${Math.round(silentFor / 1000)} s`);
        }
      }, timeoutMs);
      this.pending.set(tid, { unit, req, timer, resolve, reject });
      socket.write(frame);
    });
  }

  private rememberTimeout(tid: number): void {
    this.timedOut.delete(tid);
    this.timedOut.add(tid);
    if (this.timedOut.size > RECENT_TIMEOUTS) this.timedOut.delete(this.timedOut.values().next().value!);
  }

  private allocateTid(): number {
    // 65535 ids and far fewer requests in flight: skipping ids still pending never loops long.
    for (;;) {
      const tid = this.nextTid;
      this.nextTid = (this.nextTid + 1) & 0xffff;
      if (!this.pending.has(tid)) {
        this.timedOut.delete(tid);
        return tid;
      }
    }
  }

  private onData(chunk: Buffer): void {
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
    while (this.rx.length >= MBAP_HEADER) {
      const length = this.rx.readUInt16BE(4);
      if (this.rx.readUInt16BE(2) !== 0 || length < 2 || length > 254) {
        // Framing is lost for good on a stream; only a new connection can resynchronise.
        this.socket?.destroy();
        this.lost("malformed MBAP header from server");
        return;
      }
      if (this.rx.length < 6 + length) return;
      const tid = this.rx.readUInt16BE(0);
      const unit = this.rx.readUInt8(6);
      const pdu = this.rx.subarray(MBAP_HEADER, 6 + length);
      this.rx = this.rx.subarray(6 + length);
      this.silentTimeouts = 0;
      this.lastReceived = performance.now();
      const p = this.pending.get(tid);
      if (!p) {
        // A late answer to a request that timed out is expected now and then; any other id is wrong.
        if (!this.timedOut.delete(tid)) this.strayAnswers.set(unit, { tid, at: performance.now() });
        continue;
      }
      this.pending.delete(tid);
      clearTimeout(p.timer);
      if (unit !== p.unit) {
        p.reject(new ModbusProtocolError(`response from unit ${unit} to a request for unit ${p.unit}`));
        continue;
      }
      try {
        p.resolve(decodeResponse(p.req, pdu));
      } catch (err) {
        p.reject(err as Error);
      }
    }
  }

  private lost(reason: string): void {
    const wasOpen = this.open_;
    this.shutdown(reason);
    if (wasOpen && !this.closedByUs && !this.lostReported) {
      this.lostReported = true;
      this.lostListener?.(reason);
    }
  }

  private shutdown(reason: string): void {
    this.open_ = false;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ModbusNotConnectedError(reason));
    }
    this.pending.clear();
    this.rx = Buffer.alloc(0);
  }
}
