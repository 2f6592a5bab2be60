/**
 * The gateway's MQTT session with the platform (alink.md section 1): signed CONNECT, TLS or plain TCP,
 * reconnection forever with exponential backoff and jitter, gateway subscriptions restored after every CONNACK,
 * and one request/reply helper for every Alink request.
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { isIP, type Socket } from "node:net";
import mqtt, { type MqttClient, type IClientOptions } from "mqtt";
import type { Logger } from "pino";
import { mqttConnectFields, type ConnectSignMethod } from "./sign.js";
import { gatewaySubscriptions, type Identity } from "./topics.js";

export interface AlinkConnectionOptions {
  gateway: Identity & { deviceSecret: string };
  host: string;
  port: number;
  tls: boolean;
  /** PEM bundle path; absent → the system CAs. */
  caFile?: string;
  keepaliveSeconds: number;
  signMethod: ConnectSignMethod;
  clientId: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** A connection that lasted this long resets the backoff. */
  stableMs?: number;
  requestTimeoutMs: number;
  /** Message ids: strings of digits, unique and increasing for the gateway. */
  nextId: () => string;
  logger: Logger;
}

export interface AlinkReply {
  id: string;
  code: number;
  message?: string;
  data?: unknown;
}

export type AlinkMessage = Record<string, unknown>;

export class AlinkRequestError extends Error {
  constructor(readonly kind: "timeout" | "disconnected" | "publish", message: string) {
    super(message);
    this.name = "AlinkRequestError";
  }
}

interface Pending {
  resolve: (r: AlinkReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

type Events = {
  /** CONNACK received and gateway subscriptions restored. */
  connected: [];
  disconnected: [reason: string];
  /** A downlink request, an unsolicited notice, or a reply nobody waits for. `msg` is null for invalid JSON. */
  message: [topic: string, msg: AlinkMessage | null, raw: Buffer];
};

/** CONNACK return codes that mean the platform rejected our identity (MQTT 3.1.1: 4 bad user/password, 5 not authorized). */
const CREDENTIAL_REFUSALS = new Set([4, 5]);

export class AlinkConnection extends EventEmitter<Events> {
  private client: MqttClient | undefined;
  private isConnected = false;
  private stopped = true;
  private attempt = 0;
  private connectedAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastRefusal: number | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly publishes = new Set<(e: Error) => void>();
  private readonly ca: Buffer | undefined;
  /** Counters for metrics. */
  readonly counters = { connects: 0, disconnects: 0, refusals: 0, published: 0, acked: 0 };
  private lastDisconnectAt = 0;

  constructor(private readonly o: AlinkConnectionOptions) {
    super();
    this.ca = o.caFile ? readFileSync(o.caFile) : undefined;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** Epoch ms since when the link has been down (0 while connected or never tried). */
  get downSince(): number {
    return this.isConnected ? 0 : this.lastDisconnectAt;
  }

  /** Epoch ms since when the link has been up (0 while down). */
  get connectedSince(): number {
    return this.isConnected ? this.connectedAt : 0;
  }

  get gateway(): Identity {
    return { productKey: this.o.gateway.productKey, deviceName: this.o.gateway.deviceName };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastDisconnectAt = Date.now();
    this.connectOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.failAll(new AlinkRequestError("disconnected", "connection closed"));
    if (client) await new Promise<void>((r) => client.end(false, {}, () => r()));
    if (this.isConnected) {
      this.isConnected = false;
      this.emit("disconnected", "stopped");
    }
  }

  private connectOnce(): void {
    const o = this.o;
    const fields = mqttConnectFields({ ...o.gateway, clientId: o.clientId, timestamp: String(Date.now()), signMethod: o.signMethod, tls: o.tls });
    const opts: IClientOptions = {
      protocol: o.tls ? "mqtts" : "mqtt",
      host: o.host,
      port: o.port,
      clientId: fields.clientId,
      username: fields.username,
      password: fields.password,
      keepalive: o.keepaliveSeconds,
      protocolVersion: 4,
      // Clean session: a property set or service call queued during an outage must not reach a field device
      // minutes later (the cloud stopped waiting for its reply after ~5 s), just as sub-devices log in with
      // cleanSession "true". Subscriptions are restored on every CONNACK anyway.
      clean: true,
      // Reconnection is ours: the password must be re-signed with a fresh timestamp on every attempt.
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      resubscribe: false,
      queueQoSZero: false,
      // SNI carries a host name only (RFC 6066); an IP address is verified against the certificate's IP SANs.
      ...(o.tls ? { ca: this.ca, rejectUnauthorized: true, ...(isIP(o.host) ? {} : { servername: o.host }) } : {}),
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
      else lastError = err.message;
    });
    client.on("message", (topic, payload) => {
      if (client === this.client) this.onMessage(topic, payload);
    });
    client.on("close", () => {
      if (client !== this.client) return;
      if (!this.isConnected && refusedCode === undefined) this.o.logger.debug({ err: lastError ?? "connection closed" }, "connect attempt failed");
      this.onClose(client, refusedCode, lastError);
    });
  }

  private async onConnack(client: MqttClient): Promise<void> {
    try {
      const granted = await client.subscribeAsync(subscriptionMap(gatewaySubscriptions(this.gateway)));
      const failed = granted.filter((g) => g.qos === 128).map((g) => g.topic);
      if (failed.length) this.o.logger.warn({ topics: failed }, "platform refused some gateway subscriptions");
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, "subscribing gateway topics failed");
      client.end(true);
      return;
    }
    if (client !== this.client) return;
    this.isConnected = true;
    this.connectedAt = Date.now();
    this.lastRefusal = undefined;
    this.counters.connects++;
    this.o.logger.info({ host: this.o.host, port: this.o.port, tls: this.o.tls }, "connected to cloud");
    this.emit("connected");
  }

  private onClose(client: MqttClient, refusedCode: number | undefined, lastError?: string): void {
    client.end(true);
    this.client = undefined;
    const wasConnected = this.isConnected;
    this.isConnected = false;
    this.failAll(new AlinkRequestError("disconnected", "connection lost"));
    if (wasConnected) {
      this.counters.disconnects++;
      this.lastDisconnectAt = Date.now();
      const lasted = Date.now() - this.connectedAt;
      if (lasted >= (this.o.stableMs ?? 60_000)) this.attempt = 0;
      this.o.logger.warn({ connectedForMs: lasted, ...(lastError ? { err: lastError } : {}) }, "disconnected from cloud");
      this.emit("disconnected", "connection lost");
    }
    if (this.stopped) return;
    let delay: number;
    if (refusedCode !== undefined && CREDENTIAL_REFUSALS.has(refusedCode)) {
      this.counters.refusals++;
      // A fleet of misconfigured gateways must not hammer the platform: retry at the cap.
      delay = this.o.reconnectMaxMs;
      if (this.lastRefusal !== refusedCode) {
        this.o.logger.error(
          { returnCode: refusedCode, retryInMs: delay },
          "cloud refused the connection: bad credentials (check gateway.productKey, gateway.deviceName, gateway.deviceSecret and mqtt.signMethod)",
        );
      }
      this.lastRefusal = refusedCode;
    } else {
      const base = Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** this.attempt);
      delay = Math.round(base / 2 + Math.random() * (base / 2));
      if (refusedCode !== undefined) this.o.logger.warn({ returnCode: refusedCode, retryInMs: delay }, "cloud refused the connection");
      else if (this.attempt === 0 || wasConnected) this.o.logger.info({ retryInMs: delay }, "reconnecting to cloud");
    }
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connectOnce(), delay);
  }

  private onMessage(topic: string, payload: Buffer): void {
    let msg: AlinkMessage | null = null;
    try {
      const parsed: unknown = JSON.parse(payload.toString("utf8"));
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) msg = parsed as AlinkMessage;
    } catch {
      msg = null;
    }
    if (msg && msg["id"] !== undefined && msg["code"] !== undefined) {
      const key = pendingKey(topic, String(msg["id"]));
      const p = this.pending.get(key);
      if (p) {
        this.pending.delete(key);
        clearTimeout(p.timer);
        p.resolve({ id: String(msg["id"]), code: Number(msg["code"]), message: msg["message"] as string | undefined, data: msg["data"] });
        return;
      }
    }
    this.emit("message", topic, msg, payload);
  }

  /**
   * Publishes; QoS 1 resolves on PUBACK. Rejects at once when not connected, and when the connection drops
   * before the PUBACK (the caller keeps the message and sends it again).
   */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected) return Promise.reject(new AlinkRequestError("disconnected", "not connected"));
    return new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      this.publishes.add(fail);
      this.counters.published++;
      client.publish(topic, payload, { qos }, (err) => {
        if (!this.publishes.delete(fail)) return;
        if (err) reject(new AlinkRequestError("publish", err.message));
        else {
          this.counters.acked++;
          resolve();
        }
      });
    });
  }

  /**
   * Sends an Alink request and waits for its reply on `replyTopic` (default `${topic}_reply`), correlated by id.
   * Resolves with the reply whatever its code; rejects on timeout or disconnect.
   */
  async request(
    topic: string,
    body: AlinkMessage,
    opts: { replyTopic?: string; timeoutMs?: number; qos?: 0 | 1; id?: string } = {},
  ): Promise<AlinkReply> {
    const id = opts.id ?? this.o.nextId();
    const replyTopic = opts.replyTopic ?? `${topic}_reply`;
    const key = pendingKey(replyTopic, id);
    const timeoutMs = opts.timeoutMs ?? this.o.requestTimeoutMs;
    const reply = new Promise<AlinkReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new AlinkRequestError("timeout", `no reply on ${replyTopic} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, { resolve, reject, timer });
    });
    try {
      await this.publish(topic, JSON.stringify({ id, ...body }), opts.qos ?? 1);
    } catch (err) {
      const p = this.pending.get(key);
      if (p) {
        this.pending.delete(key);
        clearTimeout(p.timer);
      }
      throw err;
    }
    return reply;
  }

  /** Answers a downlink: echoes the id with its JSON type (alink.md 0.4). */
  reply(topic: string, id: unknown, code: number, data: unknown = {}, message?: string): Promise<void> {
    const body: Record<string, unknown> = { id: id ?? "", code, data };
    if (message !== undefined) body["message"] = message;
    return this.publish(topic, JSON.stringify(body), 1).catch((err: Error) => {
      this.o.logger.warn({ topic, err: err.message }, "reply not sent");
    });
  }

  /** Subscribes; resolves with the refused topics. Bounded by the request timeout: a lost SUBACK must not hang a caller. */
  async subscribe(topicList: string[]): Promise<string[]> {
    const client = this.client;
    if (!client || !this.isConnected || topicList.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AlinkRequestError("timeout", `no SUBACK within ${this.o.requestTimeoutMs} ms`)), this.o.requestTimeoutMs);
    });
    try {
      const granted = await Promise.race([client.subscribeAsync(subscriptionMap(topicList)), timeout]);
      return granted.filter((g) => g.qos === 128).map((g) => g.topic);
    } finally {
      clearTimeout(timer);
    }
  }

  async unsubscribe(topicList: string[]): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected || topicList.length === 0) return;
    await client.unsubscribeAsync(topicList).catch(() => undefined);
  }

  private failAll(err: Error): void {
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(key);
    }
    for (const fail of this.publishes) fail(err);
    this.publishes.clear();
  }
}

function subscriptionMap(list: string[]): Record<string, { qos: 1 }> {
  const map: Record<string, { qos: 1 }> = {};
  for (const t of list) map[t] = { qos: 1 };
  return map;
}

function pendingKey(replyTopic: string, id: string): string {
  return `${replyTopic}\u0000${id}`;
}
