/**
 * Keeps one transport open: opens it, and after a failed attempt or a lost connection opens a fresh one
 * with exponential backoff (a TCP peer restarting, a USB serial adapter unplugged and plugged back).
 */
import type { ModbusTransport, TransportFactory } from "./transport.js";

export interface LinkOptions {
  factory: TransportFactory;
  initialBackoffMs: number;
  maxBackoffMs: number;
  onUp: () => void;
  /** A connection attempt failed or an open connection was lost. */
  onDown: (reason: string) => void;
}

export class Link {
  private current: ModbusTransport | undefined;
  private attempt: ModbusTransport | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopped = true;

  constructor(private readonly options: LinkOptions) {
    this.backoffMs = options.initialBackoffMs;
  }

  /** The open transport, if any. */
  get transport(): ModbusTransport | undefined {
    return this.current?.isOpen ? this.current : undefined;
  }

  get isUp(): boolean {
    return this.transport !== undefined;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const closing = [this.current, this.attempt].filter((t): t is ModbusTransport => t !== undefined);
    this.current = undefined;
    this.attempt = undefined;
    await Promise.all(closing.map((t) => t.close()));
  }

  /** The peer answered: the connection works, so the next outage starts again from the shortest backoff. */
  markHealthy(): void {
    this.backoffMs = this.options.initialBackoffMs;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const transport = this.options.factory();
    this.attempt = transport;
    transport.onLost((reason) => {
      if (this.current !== transport) return;
      this.current = undefined;
      void transport.close();
      if (this.stopped) return;
      this.options.onDown(reason);
      this.scheduleRetry();
    });
    try {
      await transport.open();
    } catch (err) {
      if (this.attempt === transport) this.attempt = undefined;
      if (this.stopped) return;
      this.options.onDown((err as Error)?.message ?? String(err));
      this.scheduleRetry();
      return;
    }
    if (this.attempt === transport) this.attempt = undefined;
    if (this.stopped) {
      await transport.close();
      return;
    }
    this.current = transport;
    this.options.onUp();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    // +-10 % jitter keeps many channels that lost the same peer from reconnecting in lockstep.
    const delay = this.backoffMs * (0.9 + Math.random() * 0.2);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }
}
