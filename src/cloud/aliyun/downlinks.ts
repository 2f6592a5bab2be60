/**
 * Routes every downlink to its handler and answers it (alink.md sections 3.12-3.16, 3.13 RRPC). Nothing here
 * throws: a malformed request is answered 460 where a reply topic exists, and logged once with its context.
 */
import type { Logger } from "pino";
import type { AlinkConnection, AlinkMessage } from "./connection.js";
import type { SubDeviceManager } from "./subdevices.js";
import { parseSysTopic, replyTopic, topics, type Identity } from "./topics.js";
import type { CloudRequest, FailureKind, Outcome } from "../platform.js";
import { isObject } from "../../core/json.js";
import { deviceKey } from "../../core/device-key.js";

export interface DownlinkHandlers {
  /** TSL check, then the field write or call (the core). */
  request(r: CloudRequest): Promise<Outcome>;
  /** Whether the applied config has this device. */
  serves(key: string): boolean;
  /** thing.model.config.push (gateway identity). */
  configPush(topic: string, msg: AlinkMessage | null): void;
  /** thing.config.push: the remote configuration file (gateway identity). */
  remoteConfig?(topic: string, msg: AlinkMessage | null): void;
  /** OTA upgrade pushes and request answers (gateway identity). */
  ota?(topic: string, msg: AlinkMessage | null): void;
  /** The cloud disabled, enabled or deleted a sub-device. */
  lifecycle(key: string, action: "disable" | "enable" | "delete"): Promise<void>;
}

interface Reply {
  code: number;
  data?: unknown;
  message?: string;
}

const bad = (message: string): Reply => ({ code: 460, message });

/** Device-defined reply codes (alink.md section 3.21) for each neutral failure kind. */
export const FAILURE_CODES: Record<FailureKind, number> = {
  badRequest: 460,
  unknownIdentifier: 460,
  readOnly: 460,
  unknownDevice: 460,
  fieldError: 100000,
  internal: 100000,
  timeout: 100001,
  modbusException: 100002,
  opcuaBadStatus: 100003,
  notConnected: 100004,
  unsupported: 100005,
};

function toReply(o: Outcome): Reply {
  return o.ok ? { code: 200, data: o.data ?? {} } : { code: FAILURE_CODES[o.kind], message: o.message };
}


export class DownlinkRouter {
  private readonly gwKey: string;
  /** (device, code) pairs of refused uplinks already logged: refused uplinks are logged once, not per message. */
  private readonly loggedRefusals = new Set<string>();
  readonly counters = { requests: 0, refused: 0, malformed: 0 };

  constructor(
    private readonly link: AlinkConnection,
    private readonly gateway: Identity,
    private readonly subs: SubDeviceManager,
    private readonly handlers: DownlinkHandlers,
    private readonly logger: Logger,
  ) {
    this.gwKey = deviceKey(gateway.productKey, gateway.deviceName);
  }

  handle(topic: string, msg: AlinkMessage | null): void {
    try {
      this.route(topic, msg);
    } catch (err) {
      this.logger.error({ topic, err: (err as Error).message }, "downlink handling failed");
    }
  }

  private route(topic: string, msg: AlinkMessage | null): void {
    const gw = this.gateway;
    if (topic === topics.configPush(gw)) return this.handlers.configPush(topic, msg);
    if (topic === topics.remoteConfigPush(gw) && this.handlers.remoteConfig) return this.handlers.remoteConfig(topic, msg);
    if (this.subs.handleMessage(topic, msg)) return;
    if (topic === topics.otaUpgrade(gw) || topic === topics.otaRequest(gw)) return this.handlers.ota?.(topic, msg);
    const t = parseSysTopic(topic);
    if (!t) {
      this.logger.debug({ topic }, "message on an unexpected topic ignored");
      return;
    }
    const key = deviceKey(t.productKey, t.deviceName);
    const isGateway = key === this.gwKey;
    if (!isGateway && !this.handlers.serves(key) && !this.subs.state(key)) {
      this.logger.warn({ topic }, "downlink for a device this gateway does not serve; dropped");
      return;
    }
    if (t.rest.endsWith("_reply")) return this.onUplinkReply(key, t.rest, msg);
    if (t.rest.startsWith("rrpc/request/")) {
      const messageId = t.rest.slice("rrpc/request/".length);
      return void this.answer(topics.rrpcResponse(t, messageId), msg, () => this.rrpc(key, isGateway, msg));
    }
    const reply = replyTopic(topic);
    switch (t.rest) {
      case "thing/service/property/set":
        return void this.answer(reply, msg, () => this.propertySet(key, isGateway, msg!));
      case "thing/service/property/get":
        return void this.answer(reply, msg, () => this.propertyGet(key, isGateway, msg!));
      case "thing/disable":
      case "thing/enable":
      case "thing/delete":
        return void this.lifecycle(reply, key, isGateway, t.rest.slice("thing/".length) as "disable" | "enable" | "delete", msg);
    }
    if (t.rest.startsWith("thing/service/")) {
      const service = t.rest.slice("thing/service/".length);
      return void this.answer(reply, msg, () => this.service(key, isGateway, service, msg!));
    }
    this.logger.debug({ topic }, "message on an unexpected topic ignored");
  }

  /** Runs a handler and publishes its reply; a malformed request is answered 460 without running it. */
  private async answer(reply: string, msg: AlinkMessage | null, fn: () => Promise<Reply>): Promise<void> {
    this.counters.requests++;
    let r: Reply;
    if (!msg) {
      this.counters.malformed++;
      this.logger.warn({ topic: reply.replace(/_reply$/, "") }, "malformed downlink (not a JSON object); answered 460");
      r = bad("payload is not a JSON object");
    } else {
      try {
        r = await fn();
      } catch (err) {
        r = { code: 400, message: "internal error" };
        this.logger.error({ topic: reply, err: (err as Error).message }, "downlink handler failed");
      }
    }
    if (r.code !== 200) {
      this.counters.refused++;
      this.logger.warn({ topic: reply.replace(/_reply$/, ""), id: msg?.["id"], code: r.code, message: r.message }, "downlink refused");
    }
    await this.link.reply(reply, msg?.["id"], r.code, r.data ?? {}, r.message);
  }

  private async propertySet(key: string, isGateway: boolean, msg: AlinkMessage): Promise<Reply> {
    const params = msg["params"];
    if (!isObject(params) || Object.keys(params).length === 0) return bad("params must be an object of identifier: value");
    if (isGateway) return bad("the gateway has no writable properties");
    return toReply(await this.handlers.request({ kind: "propertySet", device: key, values: params }));
  }

  private async propertyGet(key: string, isGateway: boolean, msg: AlinkMessage): Promise<Reply> {
    const params = msg["params"];
    const ids = Array.isArray(params) ? params : isObject(params) && Array.isArray(params["identifiers"]) ? params["identifiers"] : null;
    if (!ids || !ids.every((i) => typeof i === "string")) return bad("params must be a list of property identifiers");
    if (isGateway) return ids.length ? bad(`unknown identifier ${ids.join(", ")}`) : { code: 200, data: {} };
    if (ids.length === 0) return { code: 200, data: {} };
    return toReply(await this.handlers.request({ kind: "propertyGet", device: key, identifiers: ids as string[] }));
  }

  private async service(key: string, isGateway: boolean, service: string, msg: AlinkMessage): Promise<Reply> {
    const params = msg["params"] ?? {};
    if (!isObject(params)) return bad("params must be an object of input: value");
    if (isGateway) return { code: 100005, message: `the gateway has no service ${service}` };
    return toReply(await this.handlers.request({ kind: "service", device: key, service, inputs: params }));
  }

  /** RRPC carries a whole Alink request; it is answered only on the rrpc/response topic. */
  private async rrpc(key: string, isGateway: boolean, msg: AlinkMessage | null): Promise<Reply> {
    const method = typeof msg?.["method"] === "string" ? (msg["method"] as string) : "";
    if (method === "thing.service.property.set") return this.propertySet(key, isGateway, msg!);
    if (method === "thing.service.property.get") return this.propertyGet(key, isGateway, msg!);
    if (method.startsWith("thing.service.")) return this.service(key, isGateway, method.slice("thing.service.".length), msg!);
    return bad(`unsupported rrpc method "${method}"`);
  }

  private async lifecycle(reply: string, key: string, isGateway: boolean, action: "disable" | "enable" | "delete", msg: AlinkMessage | null): Promise<void> {
    this.counters.requests++;
    // Only a request of the protocol's shape changes state: garbage on a lifecycle topic disables nothing.
    const method = msg?.["method"];
    if (!msg || msg["id"] === undefined || (method !== undefined && method !== `thing.${action}`)) {
      this.counters.malformed++;
      this.logger.warn({ device: key, action }, "malformed lifecycle command (not an Alink request); ignored");
      if (msg && msg["id"] !== undefined) await this.link.reply(reply, msg["id"], 460, {}, `method must be thing.${action}`);
      return;
    }
    if (isGateway) {
      await this.link.reply(reply, msg?.["id"], 200, {});
      this.logger.warn({ action }, "the cloud addressed the gateway itself with a lifecycle command");
      return;
    }
    this.logger.info({ device: key, action }, `sub-device ${action}d by the cloud`);
    if (action === "enable") {
      // A disabled sub-device has no session to reply with: log it in first (bounded), then answer.
      await this.handlers.lifecycle(key, action);
      await this.link.reply(reply, msg?.["id"], 200, {});
      return;
    }
    // Reply first: after a disable or delete the sub-device has no session to reply with.
    await this.link.reply(reply, msg?.["id"], 200, {});
    await this.handlers.lifecycle(key, action);
  }

  private onUplinkReply(key: string, rest: string, msg: AlinkMessage | null): void {
    if (!msg) return;
    const code = Number(msg["code"]);
    if (code === 200) return;
    const k = `${key}|${rest}|${code}`;
    if (this.loggedRefusals.has(k)) return;
    if (this.loggedRefusals.size > 1000) this.loggedRefusals.clear();
    this.loggedRefusals.add(k);
    this.logger.warn({ device: key, topic: rest, code, message: msg["message"], id: msg["id"] }, "the platform refused an uplink (logged once per device and code)");
  }

}
