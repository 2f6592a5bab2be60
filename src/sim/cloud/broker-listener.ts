/**
 * The listening side of an emulator's broker: a TCP or TLS server on loopback that hands each connection to the
 * broker, keeps the open sockets so that an outage can drop them all, and listens again on the same port after it.
 * Every platform's emulator has one (its MQTT codec and checks stay its own).
 */
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";

export interface BrokerListenerOptions {
  /** Hands a new connection to the broker (aedes `handle`). */
  handle: (stream: Duplex) => void;
  host: string;
  /** TLS server options (certificate and key) for mqtts; plain TCP without. */
  tls?: tls.TlsOptions;
}

export class BrokerListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private boundPort = 0;

  constructor(private readonly opts: BrokerListenerOptions) {
    const onSocket = (socket: net.Socket): void => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    };
    if (opts.tls) {
      const server = tls.createServer(opts.tls, (s) => opts.handle(s));
      server.on("connection", onSocket);
      this.server = server;
    } else {
      this.server = net.createServer((s) => {
        onSocket(s);
        opts.handle(s);
      });
    }
  }

  /** The port it listens (or listened) on. */
  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** Listens on `port` (0: any free one; after an outage: the same one as before). */
  async listen(port = this.boundPort): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, this.opts.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
    this.boundPort = address.port;
  }

  /** Drops every connection and stops listening (new connections are refused). Returns false if it was not listening. */
  async outage(): Promise<boolean> {
    if (!this.server.listening) return false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    return true;
  }
}
