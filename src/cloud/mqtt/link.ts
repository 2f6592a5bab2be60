/**
 * One MQTT connection to a cloud, as every platform needs it: credentials computed afresh for each attempt (they
 * carry timestamps), TLS verified against a CA bundle, reconnection forever with backoff and jitter (a refusal for
 * credentials retried at the cap), subscriptions restored after every CONNACK, publishes that resolve on PUBACK,
 * and a state with a reason for the status output. Protocol envelopes and correlation live in the adapters.
 */
import { EventEmitter } from "node:events";
import { isIP, type Socket } from "node:net";
import mqtt, { type MqttClient, type IClientOptions } from "mqtt";
import mqttPacket from "mqtt-packet";
import type { Logger } from "pino";
import { Backoff } from "../../core/backoff.js";

// mqtt.js writes packets with mqtt-packet, which by default builds a table of 65,536 two-byte buffers on its first
// write: about 6 MB of heap kept for good, to save one tiny allocation per packet. Off, as its README documents
// (before any packet is written).
mqttPacket.writeToStream.cacheNumbers = false;

export interface LinkCredentials {
  clientId: string;
  username?: string;
  password?: string;
}

export interface MqttLinkOptions {
  host: string;
  port: number;
  tls: boolean;
  /** PEM CA bundle; absent → the system CAs. */
  ca?: Buffer;
  /** Name the certificate must match (default: the host, when it is a name). */
  servername?: string;
  keepaliveSeconds: number;
  /** Called before every attempt (signatures carry timestamps). May throw: the attempt is then refused locally. */
  credentials: () => LinkCredentials;
  /** Topics to subscribe after every CONNACK; a refused one is logged, not fatal. */
  subscriptions?: () => string[];
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** A connection that lasted this long resets the backoff (default 60 s). */
  stableMs?: number;
  /** SUBACK wait (default 10 s). */
  requestTimeoutMs?: number;
  /** No CONNACK within this after the connection opened: the attempt failed (default 10 s, as the platforms' specs say). */
  connectTimeoutMs?: number;
  /** CONNACK codes that mean bad credentials (retried at the cap). Default 4 and 5. */
  credentialRefusals?: ReadonlySet<number>;
  /** Text naming what to check when the credentials are refused. */
  refusalHint?: string;
  logger: Logger;
  /** Log connection changes at debug instead of info (pools of many device connections log counts instead). */
  quiet?: boolean;
}

export type LinkState = "idle" | "connecting" | "online" | "backoff" | "refused" | "stopped";

export class LinkError extends Error {
  constructor(readonly kind: "disconnected" | "publish" | "timeout", message: string) {
    super(message);
    this.name = "LinkError";
  }
}

type Events = {
  connected: [];
  disconnected: [reason: string];
  message: [topic: string, payload: Buffer];
  state: [state: LinkState, reason: string | undefined];
};

const DEFAULT_CREDENTIAL_REFUSALS: ReadonlySet<number> = new Set([4, 5]);

/** A short, secret-free reason for a failed attempt (TLS errors keep their code, e.g. CERT_HAS_EXPIRED). */
export function describeLinkError(err: Error & { code?: unknown }): string {
  const code = typeof err.code === "string" ? err.code : undefined;
  if (code && /CERT|SSL|TLS|ERR_TLS|DEPTH|SELF_SIGNED|HOSTNAME|ALTNAME|KEY_USAGE|UNABLE_TO/.test(code)) return `TLS: ${code}: ${err.message}`;
  if (/certificate|handshake|ssl|tls|altnames/i.test(err.message)) return `TLS: ${err.message}`;
  return code ? `${code}: ${err.message}` : err.message;
}

export class MqttLink extends EventEmitter<Events> {
  private client: MqttClient | undefined;
  private online = false;
  private stopped = true;
  private connectedAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastLoggedReason: string | undefined;
  private readonly backoff: Backoff;
  private readonly publishes = new Set<(e: Error) => void>();
  private st: LinkState = "idle";
  private stReason: string | undefined;
  private stSince = Date.now();
  private downAt = 0;
  readonly counters = { connects: 0, disconnects: 0, refusals: 0, published: 0, acked: 0, attempts: 0 };

  constructor(private readonly o: MqttLinkOptions) {
    super();
    this.backoff = new Backoff(o.reconnectMinMs, o.reconnectMaxMs);
  }

  get connected(): boolean {
    return this.online;
  }

  get state(): LinkState {
    return this.st;
  }

  /** Why the link is not online (secret-free), while it is not. */
  get reason(): string | undefined {
    return this.stReason;
  }

  /** Epoch ms of the last state change. */
  get since(): number {
    return this.stSince;
  }

  /** Epoch ms since when the link has been down (0 while connected). */
  get downSince(): number {
    return this.online ? 0 : this.downAt;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.downAt = Date.now();
    this.connectOnce();
  }

  /** Sends DISCONNECT (when connected) and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.failAll(new LinkError("disconnected", "connection closed"));
    const was = this.online;
    this.online = false;
    if (client) await new Promise<void>((r) => client.end(false, {}, () => r()));
    this.setState("stopped", undefined);
    if (was) this.emit("disconnected", "stopped");
  }

  /** Publishes; QoS 1 resolves on PUBACK. Rejects at once when not connected, or when the connection drops first. */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
    const client = this.client;
    if (!client || !this.online) return Promise.reject(new LinkError("disconnected", "not connected"));
    return new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      this.publishes.add(fail);
      this.counters.published++;
      client.publish(topic, payload, { qos }, (err) => {
        if (!this.publishes.delete(fail)) return;
        if (err) reject(new LinkError("publish", err.message));
        else {
          this.counters.acked++;
          resolve();
        }
      });
    });
  }

  /** Subscribes; resolves with the refused topics. Bounded: a lost SUBACK must not hang a caller. */
  async subscribe(topics: string[]): Promise<string[]> {
    const client = this.client;
    if (!client || !this.online || topics.length === 0) return [];
    return subscribeBounded(client, topics, this.o.requestTimeoutMs ?? 10_000);
  }

  async unsubscribe(topics: string[]): Promise<void> {
    const client = this.client;
    if (!client || !this.online || topics.length === 0) return;
    await client.unsubscribeAsync(topics).catch(() => undefined);
  }

  private setState(state: LinkState, reason: string | undefined): void {
    if (this.st === state && this.stReason === reason) return;
    this.st = state;
    this.stReason = reason;
    this.stSince = Date.now();
    this.emit("state", state, reason);
  }

  private connectOnce(): void {
    if (this.stopped) return;
    const o = this.o;
    this.counters.attempts++;
    this.setState("connecting", this.stReason);
    let creds: LinkCredentials;
    try {
      creds = o.credentials();
    } catch (err) {
      this.retryLater(undefined, `credentials: ${(err as Error).message}`, false, true);
      return;
    }
    const opts: IClientOptions = {
      protocol: o.tls ? "mqtts" : "mqtt",
      host: o.host,
      port: o.port,
      clientId: creds.clientId,
      ...(creds.username !== undefined ? { username: creds.username } : {}),
      ...(creds.password !== undefined ? { password: creds.password } : {}),
      keepalive: o.keepaliveSeconds,
      protocolVersion: 4,
      // Clean session: a command queued during an outage must not reach a field device minutes later, after the
      // cloud stopped waiting for its reply. Subscriptions are restored on every CONNACK.
      clean: true,
      // Reconnection is ours: credentials are signed afresh for every attempt.
      reconnectPeriod: 0,
      // No CONNACK within this: the attempt counts as failed and is retried with the normal backoff (the specs: 10 s).
      connectTimeout: this.o.connectTimeoutMs ?? 10_000,
      resubscribe: false,
      queueQoSZero: false,
      // SNI carries a host name only (RFC 6066); an IP address is verified against the certificate's IP SANs.
      ...(o.tls
        ? { ca: o.ca, rejectUnauthorized: true, ...(o.servername ? { servername: o.servername } : isIP(o.host) ? {} : { servername: o.host }) }
        : {}),
    };
    const client = mqtt.connect(opts);
    this.client = client;
    let refusedCode: number | undefined;
    let lastError: string | undefined;
    client.on("connect", () => {
      if (client !== this.client) return;
      (client.stream as Socket).setNoDelay?.(true);
      void this.onConnack(client);
    });
    client.on("error", (err: Error & { code?: number | string }) => {
      if (typeof err.code === "number") refusedCode = err.code;
      else lastError = describeLinkError(err);
    });
    client.on("message", (topic, payload) => {
      if (client === this.client) this.emit("message", topic, payload);
    });
    client.on("close", () => {
      if (client !== this.client) return;
      this.onClose(client, refusedCode, lastError);
    });
  }

  private async onConnack(client: MqttClient): Promise<void> {
    const topics = this.o.subscriptions?.() ?? [];
    if (topics.length) {
      try {
        const refused = await subscribeBounded(client, topics, this.o.requestTimeoutMs ?? 10_000);
        if (refused.length) this.o.logger.warn({ topics: refused }, "the platform refused some subscriptions");
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, "subscribing failed; reconnecting");
        client.end(true);
        return;
      }
    }
    if (client !== this.client) return;
    this.online = true;
    this.connectedAt = Date.now();
    this.lastLoggedReason = undefined;
    this.counters.connects++;
    this.setState("online", undefined);
    const log = { host: this.o.host, port: this.o.port, tls: this.o.tls };
    if (this.o.quiet) this.o.logger.debug(log, "connected");
    else this.o.logger.info(log, "connected to cloud");
    this.emit("connected");
  }

  private onClose(client: MqttClient, refusedCode: number | undefined, lastError: string | undefined): void {
    client.end(true);
    this.client = undefined;
    const wasOnline = this.online;
    this.online = false;
    this.failAll(new LinkError("disconnected", "connection lost"));
    if (wasOnline) {
      this.counters.disconnects++;
      this.downAt = Date.now();
      const lasted = Date.now() - this.connectedAt;
      if (lasted >= (this.o.stableMs ?? 60_000)) this.backoff.reset();
      const log = { connectedForMs: lasted, ...(lastError ? { err: lastError } : {}) };
      if (this.o.quiet) this.o.logger.debug(log, "disconnected");
      else this.o.logger.warn(log, "disconnected from cloud");
      this.emit("disconnected", lastError ?? "connection lost");
    }
    if (this.stopped) return;
    const credentials = refusedCode !== undefined && (this.o.credentialRefusals ?? DEFAULT_CREDENTIAL_REFUSALS).has(refusedCode);
    const reason =
      refusedCode !== undefined
        ? `CONNACK ${refusedCode}${credentials ? " (bad credentials)" : ""}`
        : lastError ?? (wasOnline ? "connection lost" : "connection closed before CONNACK");
    this.retryLater(refusedCode, reason, wasOnline, credentials);
  }

  private retryLater(code: number | undefined, reason: string, wasOnline: boolean, credentials: boolean): void {
    let delay: number;
    if (credentials) {
      this.counters.refusals++;
      // A fleet of misconfigured gateways must not hammer the platform: retry at the cap.
      delay = this.backoff.atMax();
      this.setState("refused", reason);
    } else {
      delay = this.backoff.next();
      this.setState("backoff", reason);
    }
    // Every attempt at debug; one line per change of reason at warn (TLS and CONNACK refusals included).
    const fields = { ...(code !== undefined ? { returnCode: code } : {}), reason, retryInMs: delay };
    this.o.logger.debug(fields, "connect attempt failed");
    if (reason !== this.lastLoggedReason && !this.o.quiet) {
      this.lastLoggedReason = reason;
      if (credentials) this.o.logger.error(fields, `cloud refused the connection: bad credentials${this.o.refusalHint ? ` (${this.o.refusalHint})` : ""}`);
      else if (wasOnline && reason === "connection lost") this.o.logger.info(fields, "reconnecting to cloud");
      else this.o.logger.warn(fields, "cannot connect to cloud");
    }
    this.retryTimer = setTimeout(() => this.connectOnce(), delay);
  }

  private failAll(err: Error): void {
    for (const fail of this.publishes) fail(err);
    this.publishes.clear();
  }
}

async function subscribeBounded(client: MqttClient, topics: string[], timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LinkError("timeout", `no SUBACK within ${timeoutMs} ms`)), timeoutMs);
  });
  const map: Record<string, { qos: 1 }> = {};
  for (const t of topics) map[t] = { qos: 1 };
  try {
    const granted = await Promise.race([client.subscribeAsync(map), timeout]);
    return granted.filter((g) => g.qos === 128).map((g) => g.topic);
  } finally {
    clearTimeout(timer);
  }
}
