/**
 * Downlink decoding (lierda.md §4, §7.4–§7.8, §8): a received message becomes one action. Validation happens
 * here, before anything changes: a request that is not valid becomes a `reply` with "4001" where the protocol
 * gives it a reply topic, or `ignore` (logged by the caller) where it does not.
 */
import type { CompiledTsl } from "../../things/tsl.js";
import type { TslValue } from "../../things/tsl-value.js";
import type { DeviceIdentity } from "./credentials.js";
import { failurePayload, isObject, parseEnvelope, VERSION, type MessageId } from "./envelope.js";
import { classify, deviceTopics, HEADER_CTRL } from "./topics.js";

/** A reply to publish at once (a refusal decided while decoding). */
export interface Reply {
  topic: string;
  headerCtrl: number;
  messageId: MessageId;
  payloadJson: string;
}

export type DownAction =
  | { kind: "ignore"; reason: string }
  | { kind: "reply"; reply: Reply; reason: string }
  | { kind: "set"; messageId: MessageId; values: Record<string, TslValue> }
  | { kind: "ask"; messageId: MessageId; identifiers: string[] }
  | { kind: "service"; messageId: MessageId; service: string; inputs: Record<string, TslValue> }
  | { kind: "downConfig"; messageId: MessageId; settings: unknown }
  | { kind: "askConfig"; messageId: MessageId }
  | { kind: "askFirmware"; messageId: MessageId }
  | { kind: "otaNotify"; messageId: MessageId; downId: unknown; offer: Record<string, unknown> }
  | { kind: "ack"; headerCtrl: number; messageId: MessageId; code: string }
  | { kind: "firmwareAck"; messageId: MessageId; code: string }
  | { kind: "timeAck"; messageId: MessageId | undefined; timestamp: number | undefined; code: string }
  | { kind: "authReply"; messageId: MessageId; payload: Record<string, unknown> };

export interface DecodeContext {
  id: DeviceIdentity;
  /** The device's compiled thing model (undefined: the document has none for its product). */
  tsl: CompiledTsl | undefined;
}

const ignore = (reason: string): DownAction => ({ kind: "ignore", reason });

function codeOf(payload: unknown): string {
  const c = isObject(payload) ? payload["Code"] : undefined;
  return typeof c === "string" || typeof c === "number" ? String(c) : "";
}

/** Decodes one message that arrived on `topic` for the device of `ctx`. */
export function decodeDownlink(topic: string, bytes: Buffer, ctx: DecodeContext): DownAction {
  const t = classify(ctx.id, topic);
  if (!t) return ignore("unknown topic");
  const parsed = parseEnvelope(bytes);
  if (t.kind === "updateTimeAck") return decodeTimeAck(bytes, parsed);
  if (!parsed.ok) return ignore(parsed.reason);
  const env = parsed.env;
  if (!HEADER_CTRL[t.kind].includes(env.headerCtrl)) return ignore(`HeaderCtrl ${env.headerCtrl} does not belong to this topic`);
  const topics = deviceTopics(ctx.id);
  const fail = (topicOut: string, reason: string): DownAction => ({
    kind: "reply",
    reason,
    reply: { topic: topicOut, headerCtrl: env.headerCtrl, messageId: env.messageId, payloadJson: failurePayload(reason) },
  });
  const replyTopic =
    t.kind === "set" ? topics.setAck : t.kind === "service" ? topics.serviceAck(t.service) : t.kind === "downlink" && env.headerCtrl === 7 ? topics.downlinkAck : undefined;
  if (env.version !== VERSION) {
    return replyTopic ? fail(replyTopic, `unsupported Version ${JSON.stringify(env.version)}`) : ignore("unsupported Version");
  }
  const p = env.payload;
  // A request whose Payload is not an object is not a valid envelope: no reply is due (§7.7, §10).
  if ((t.kind === "set" || t.kind === "service") && !isObject(p)) return ignore("Payload is not an object");
  switch (t.kind) {
    case "downlink":
      if (env.headerCtrl === 7) return fail(topics.downlinkAck, "passthrough not supported");
      if (env.headerCtrl === 3) return ignore("session key update (encrypted products are not supported)");
      return isObject(p) ? { kind: "authReply", messageId: env.messageId, payload: p } : ignore("Payload is not an object");
    case "reportAck":
      return { kind: "ack", headerCtrl: env.headerCtrl, messageId: env.messageId, code: codeOf(p) };
    case "firmwareReportAck":
      return { kind: "firmwareAck", messageId: env.messageId, code: codeOf(p) };
    case "uplinkAck":
      return ignore("uplink ack (uplink 4 is not used)");
    case "askFirmware":
      return { kind: "askFirmware", messageId: env.messageId };
    case "askConfig":
      return isObject(p) ? { kind: "askConfig", messageId: env.messageId } : ignore("Payload is not an object");
    case "downConfig":
      return isObject(p) ? { kind: "downConfig", messageId: env.messageId, settings: p["Settings"] } : ignore("Payload is not an object");
    case "otaNotify":
      return isObject(p) ? { kind: "otaNotify", messageId: env.messageId, downId: p["DownID"], offer: p } : ignore("Payload is not an object");
    case "ask":
      return decodeAsk(env.messageId, p);
    case "set": {
      const r = decodeSet(p, ctx.tsl);
      return r.ok ? { kind: "set", messageId: env.messageId, values: r.values } : fail(topics.setAck, r.reason);
    }
    case "service": {
      const r = decodeService(t.service, p, ctx.tsl);
      return r.ok ? { kind: "service", messageId: env.messageId, service: t.service, inputs: r.inputs } : fail(topics.serviceAck(t.service), r.reason);
    }
  }
}

function decodeTimeAck(bytes: Buffer, parsed: ReturnType<typeof parseEnvelope>): DownAction {
  // The seed shows the time reply without an envelope; an enveloped one is accepted too.
  let body: unknown;
  let messageId: MessageId | undefined;
  if (parsed.ok) {
    body = parsed.env.payload;
    messageId = parsed.env.messageId;
  } else {
    try {
      body = JSON.parse(bytes.toString("utf8"));
    } catch {
      return ignore("not JSON");
    }
  }
  if (!isObject(body)) return ignore("time reply is not an object");
  const data = body["Data"];
  const ts = isObject(data) ? data["timestamp"] : undefined;
  const n = typeof ts === "number" ? ts : typeof ts === "string" && /^\d{1,16}$/.test(ts) ? Number(ts) : undefined;
  return { kind: "timeAck", messageId, timestamp: n !== undefined && Number.isFinite(n) ? n : undefined, code: codeOf(body) };
}

function decodeAsk(messageId: MessageId, p: unknown): DownAction {
  if (!isObject(p)) return ignore("Payload is not an object");
  const params = p["params"];
  if (!Array.isArray(params) || !params.every((x) => typeof x === "string")) return ignore("params is not an array of strings");
  return { kind: "ask", messageId, identifiers: [...new Set(params as string[])] };
}

type Decoded<T> = ({ ok: true } & T) | { ok: false; reason: string };

/** A property set, validated whole before anything is written (§7.4). */
export function decodeSet(p: unknown, tsl: CompiledTsl | undefined): Decoded<{ values: Record<string, TslValue> }> {
  if (!isObject(p)) return { ok: false, reason: "Payload is not an object" };
  const params = p["params"];
  if (!Array.isArray(params) || params.length === 0) return { ok: false, reason: "params must be a non-empty array" };
  const raw: Record<string, unknown> = {};
  for (const [i, item] of params.entries()) {
    if (!isObject(item) || typeof item["identify"] !== "string" || item["identify"] === "" || !("value" in item)) {
      return { ok: false, reason: `params[${i}]: needs a string identify and a value` };
    }
    const id = item["identify"];
    if (Object.prototype.hasOwnProperty.call(raw, id)) return { ok: false, reason: `${id}: set twice` };
    raw[id] = item["value"];
  }
  if (!tsl) return { ok: false, reason: "no thing model for this device" };
  const checked = tsl.checkPropertySet(raw);
  if (!checked.ok) return { ok: false, reason: checked.problems.map((x) => `${x.identifier}: ${x.reason}`).join("; ") };
  return { ok: true, values: checked.values };
}

/** A service call (§7.6): the last topic level names it; `serviceIdentify`, when present, must agree. */
export function decodeService(service: string, p: unknown, tsl: CompiledTsl | undefined): Decoded<{ inputs: Record<string, TslValue> }> {
  if (!isObject(p)) return { ok: false, reason: "Payload is not an object" };
  const named = p["serviceIdentify"];
  if (named !== undefined && named !== service) return { ok: false, reason: "serviceIdentify does not match the topic" };
  if (service === "set" || service === "get") return { ok: false, reason: `${service} is not callable as a service` };
  if (!tsl?.service(service)) return { ok: false, reason: `unknown service ${JSON.stringify(service)}` };
  const params = p["params"] ?? {};
  if (!isObject(params)) return { ok: false, reason: "params is not an object" };
  const checked = tsl.checkServiceInputs(service, params);
  return checked.ok ? { ok: true, inputs: checked.value } : { ok: false, reason: checked.reason };
}
