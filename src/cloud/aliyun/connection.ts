/**
 * The gateway's MQTT session with the platform (alink.md section 1): signed CONNECT, TLS or plain TCP,
 * reconnection forever with exponential backoff and jitter, gateway subscriptions restored after every CONNACK,
 * and one request/reply helper for every Alink request.
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { mqttConnectFields, type ConnectSignMethod } from "./sign.js";
import { gatewaySubscriptions, type Identity } from "./topics.js";
import { MqttLink, LinkError } from "../mqtt/link.js";

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

export class AlinkConnection extends EventEmitter<Events> {
  private readonly mqtt: MqttLink;
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly o: AlinkConnectionOptions) {
    super();
    this.mqtt = new MqttLink({
      host: o.host, port: o.port, tls: o.tls, ca: o.caFile ? readFileSync(o.caFile) : undefined,
      keepaliveSeconds: o.keepaliveSeconds,
      credentials: () => mqttConnectFields({ ...o.gateway, clientId: o.clientId, timestamp: String(Date.now()), signMethod: o.signMethod, tls: o.tls }),
      subscriptions: () => gatewaySubscriptions(this.gateway),
      reconnectMinMs: o.reconnectMinMs, reconnectMaxMs: o.reconnectMaxMs, stableMs: o.stableMs, requestTimeoutMs: o.requestTimeoutMs,
      refusalHint: "check gateway.productKey, gateway.deviceName, gateway.deviceSecret and mqtt.signMethod",
      logger: o.logger,
    });
    this.mqtt.on("connected", () => this.emit("connected"));
    this.mqtt.on("disconnected", (reason) => {
      this.failAll(new AlinkRequestError("disconnected", "connection lost"));
      this.emit("disconnected", reason);
    });
    this.mqtt.on("message", (topic, payload) => this.onMessage(topic, payload));
  }

  /** Counters for metrics. */
  get counters(): MqttLink["counters"] {
    return this.mqtt.counters;
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  /** Epoch ms since when the link has been down (0 while connected or never tried). */
  get downSince(): number {
    return this.mqtt.downSince;
  }

  /** State and reason of the connection, for the status output. */
  get link(): Pick<MqttLink, "state" | "reason" | "since"> {
    return this.mqtt;
  }

  get gateway(): Identity {
    return { productKey: this.o.gateway.productKey, deviceName: this.o.gateway.deviceName };
  }

  start(): void {
    this.mqtt.start();
  }

  async stop(): Promise<void> {
    this.failAll(new AlinkRequestError("disconnected", "connection closed"));
    await this.mqtt.stop();
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
    return this.mqtt.publish(topic, payload, qos).catch((err: Error) => {
      throw new AlinkRequestError(err instanceof LinkError && err.kind === "publish" ? "publish" : "disconnected", err.message);
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
    return this.requestRaw(topic, id, JSON.stringify({ id, ...body }), opts);
  }

  /** Like `request`, for a payload already serialised with `id` inside. */
  async requestRaw(topic: string, id: string, payload: string, opts: { replyTopic?: string; timeoutMs?: number; qos?: 0 | 1 } = {}): Promise<AlinkReply> {
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
      await this.publish(topic, payload, opts.qos ?? 1);
    } catch (err) {
      const p = this.pending.get(key);
      if (p) {
        this.pending.delete(key);
        clearTimeout(p.timer);
      }
      reply.catch(() => undefined);
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
  subscribe(topicList: string[]): Promise<string[]> {
    return this.mqtt.subscribe(topicList);
  }

  unsubscribe(topicList: string[]): Promise<void> {
    return this.mqtt.unsubscribe(topicList);
  }

  private failAll(err: Error): void {
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(key);
    }
  }
}

function pendingKey(replyTopic: string, id: string): string {
  return `${replyTopic}\u0000${id}`;
}
