/**
 * What the emulated platform does with a device's publish (lierda.md §3.3, §7.2, §7.3, §8): the auth request,
 * 16/27/17 data checked against the product's TSL and acked with "200" or "4001", replies to its own requests,
 * the firmware report and time sync.
 */
import { checkValue, envelope, floatsWithoutPoint, isObj, randomHex32, readUplinkEnvelope, type TslLike } from "./codec.js";
import type { ConnInfo } from "./broker.js";
import type { Product, Registry } from "./registry.js";
import type { Records } from "./records.js";

export interface UplinkContext {
  registry: Registry;
  records: Records;
  now(): number;
  send(topic: string, body: string): void;
  /** Resolves a pending platform request; true when one was waiting. */
  settle(device: string, kind: string, id: number | string, payload: unknown): boolean;
  fault(kind: "auth" | "report" | "firmwareAck", key: string): number | string | null | undefined;
  clockSkewMs: number;
}

const SUFFIX_HC: [RegExp, number][] = [
  [/^model\/property\/report$/, 16],
  [/^model\/history\/data\/report$/, 27],
  [/^model\/event\/[^/]+\/report$/, 17],
  [/^model\/property\/set_ack$/, 20],
  [/^model\/service\/[^/]+\/ack$/, 21],
  [/^config_report$/, 14],
  [/^update_time$/, 29],
  [/^firmware_report$/, 8],
  [/^ota_notify_ack$/, 9],
  [/^downlink_ack$/, 7],
];

function floatIds(tsl: TslLike | undefined): Set<string> {
  const ids = new Set<string>();
  for (const p of tsl?.properties ?? []) if (p.dataType?.type === "float" || p.dataType?.type === "double") ids.add(p.identifier);
  for (const e of tsl?.events ?? []) for (const o of e.outputData ?? []) if (o.dataType?.type === "float" || o.dataType?.type === "double") ids.add(o.identifier);
  return ids;
}

export function handleUplink(ctx: UplinkContext, info: ConnInfo, topic: string, payload: Buffer): void {
  if (info.kind === "auth") return handleAuth(ctx, info, payload);
  const suffix = topic.slice(info.prefix.length + 1);
  const hc = SUFFIX_HC.find(([re]) => re.test(suffix))?.[1];
  if (hc === undefined) return;
  const device = info.key;
  const product = ctx.registry.products.get(device.split("/")[0]!);
  const reject = (reason: string, id?: unknown) => {
    ctx.records.add(ctx.records.rejected, { device, topic, reason, time: ctx.now() });
    if ((hc === 16 || hc === 27 || hc === 17) && (typeof id === "number" || typeof id === "string")) {
      ctx.send(`${topic}_ack`, envelope(id, hc, { Code: "4001", Msg: `Failed: ${reason}`, Data: {} }));
    }
  };
  const r = readUplinkEnvelope(payload, hc);
  if (!r.ok) return reject(r.reason, r.id);
  const { MessageId: id, Payload: p } = r.env;
  const json = payload.toString("utf8");
  const replyOnly = hc === 20 || hc === 21 || hc === 14 || hc === 9 || hc === 7 || (hc === 16 && ctx.settle(device, "ask", id, p));
  if (hc === 16 && replyOnly) return void ctx.records.add(ctx.records.uplinks, { device, topic, headerCtrl: hc, messageId: id, payload: p, json, time: ctx.now() });
  if (!replyOnly && typeof id !== "number") return reject("MessageId of a gateway message must be an integer", id);
  ctx.records.add(ctx.records.uplinks, { device, topic, headerCtrl: hc, messageId: id, payload: p, json, time: ctx.now() });
  switch (hc) {
    case 16: {
      if (!isObj(p)) return reject("Payload of 16 must be an object", id);
      return data(ctx, product, device, topic, id as number, json, () => Object.entries(p).map(([k, v]) => ({ identifier: k, value: v, time: ctx.now() })), [], reject);
    }
    case 27: {
      const params = isObj(p) ? p["params"] : undefined;
      if (!Array.isArray(params) || params.length !== 1 || !isObj(params[0])) return reject("Payload.params must hold one group", id);
      const g = params[0];
      if (!Array.isArray(g["properties"]) || !Array.isArray(g["events"])) return reject("a group needs properties and events arrays", id);
      if (g["properties"].length + g["events"].length > 100) return reject("more than 100 items", id);
      const values: { identifier: string; value: unknown; time: number }[] = [];
      const events: { identifier: string; outputs: Record<string, unknown>; time: number }[] = [];
      for (const item of g["properties"] as unknown[]) {
        if (!isObj(item)) return reject("a properties item is not an object", id);
        for (const [k, v] of Object.entries(item)) {
          if (!isObj(v) || !("value" in v) || typeof v["time"] !== "number" || !Number.isInteger(v["time"])) return reject(`${k}: needs value and integer time (ms)`, id);
          values.push({ identifier: k, value: v["value"], time: v["time"] });
        }
      }
      for (const item of g["events"] as unknown[]) {
        if (!isObj(item)) return reject("an events item is not an object", id);
        for (const [k, v] of Object.entries(item)) {
          if (!isObj(v) || !isObj(v["value"]) || typeof v["time"] !== "number") return reject(`${k}: needs an object value and a time`, id);
          events.push({ identifier: k, outputs: v["value"], time: v["time"] });
        }
      }
      return data(ctx, product, device, topic, id as number, json, () => values, events, reject);
    }
    case 17: {
      const eventId = suffix.split("/")[2]!;
      if (!isObj(p)) return reject("Payload of 17 must be an object", id);
      return data(ctx, product, device, topic, id as number, json, () => [], [{ identifier: eventId, outputs: p, time: ctx.now() }], reject, 17);
    }
    case 29:
      if (p !== "") return reject("Payload of update_time must be an empty string");
      ctx.send(`${info.prefix}/update_time_ack`, JSON.stringify({ Code: "200", Msg: "SUCCESS", Data: { timestamp: ctx.now() + ctx.clockSkewMs, timezone: "Asia/Shanghai" } }));
      return;
    case 8: {
      if (!isObj(p) || typeof p["SoftVer"] !== "string" || typeof p["HardVer"] !== "string" || p["Type"] !== 2) return reject("firmware report needs HardVer, SoftVer and Type 2");
      ctx.settle(device, "firmware", id, p);
      const f = ctx.fault("firmwareAck", device);
      if (f === null) return;
      ctx.send(`${topic}_ack`, envelope(id, 8, { Code: f === undefined ? "200" : String(f), Msg: f === undefined ? "SUCCESS" : "Failed", Data: {} }));
      return;
    }
    default: {
      const kind = hc === 20 ? "set" : hc === 21 ? `service:${suffix.split("/")[2]}` : hc === 14 ? "config" : hc === 9 ? "ota" : "downlink";
      if (!ctx.settle(device, kind, id, p)) reject(`reply with unknown MessageId ${String(id)}`);
    }
  }
}

function data(
  ctx: UplinkContext,
  product: Product | undefined,
  device: string,
  topic: string,
  id: number,
  json: string,
  values: () => { identifier: string; value: unknown; time: number }[],
  events: { identifier: string; outputs: Record<string, unknown>; time: number }[],
  reject: (reason: string, id?: unknown) => void,
  eventVia: 17 | 27 = 27,
): void {
  const fault = ctx.fault("report", device);
  if (fault !== undefined && fault !== null) return void ctx.send(`${topic}_ack`, envelope(id, hcOf(topic), { Code: String(fault), Msg: "Failed", Data: {} }));
  const tsl = product?.tsl;
  const noPoint = floatsWithoutPoint(json, floatIds(tsl));
  if (noPoint.length) return reject(`float without a decimal point: ${noPoint.join(", ")}`, id);
  const vals = values();
  for (const v of vals) {
    const problem = tsl ? checkValue(tsl.properties?.find((x) => x.identifier === v.identifier)?.dataType, v.value) : undefined;
    if (problem) return reject(`${v.identifier}: ${problem}`, id);
  }
  for (const e of events) {
    const def = tsl?.events?.find((x) => x.identifier === e.identifier);
    if (tsl && !def) return reject(`${e.identifier}: unknown event`, id);
    for (const [k, v] of Object.entries(e.outputs)) {
      const problem = def ? checkValue(def.outputData?.find((o) => o.identifier === k)?.dataType, v) : undefined;
      if (problem) return reject(`${e.identifier}.${k}: ${problem}`, id);
    }
  }
  const arrival = ctx.now();
  const via = eventVia === 17 ? 17 : hcOf(topic) === 16 ? 16 : 27;
  for (const v of vals) ctx.records.add(ctx.records.values, { device, identifier: v.identifier, value: v.value, time: v.time, via: via as 16 | 27, messageId: id, arrival });
  for (const e of events) ctx.records.add(ctx.records.events, { device, identifier: e.identifier, outputs: e.outputs, time: e.time, via: eventVia, messageId: id });
  ctx.send(`${topic}_ack`, envelope(id, hcOf(topic), { Code: "200", Msg: "SUCCESS", Data: {} }));
}

function hcOf(topic: string): 16 | 17 | 27 {
  return topic.endsWith("/history/data/report") ? 27 : topic.includes("/model/event/") ? 17 : 16;
}

function handleAuth(ctx: UplinkContext, info: ConnInfo, payload: Buffer): void {
  const r = readUplinkEnvelope(payload, 1);
  const [pid, eui] = info.key.split("/") as [string, string];
  const reply = (id: unknown, code: number, extra: Record<string, unknown> = {}) => {
    ctx.records.add(ctx.records.auths, { device: info.key, type: r.ok && isObj(r.env.Payload) ? r.env.Payload["Type"] : undefined, code, time: ctx.now() });
    if (typeof id === "number" || typeof id === "string") ctx.send(`${info.prefix}/downlink`, envelope(id, 1, { Code: code, ...extra }));
  };
  if (!r.ok) return reply(r.id, 6);
  const p = r.env.Payload;
  const product = ctx.registry.products.get(pid);
  if (!isObj(p) || p["OpenID"] !== ctx.registry.openId || p["ProductID"] !== pid || p["NodeEui"] !== eui || !product) return reply(r.env.MessageId, 2);
  if (p["Type"] !== product.authType) return reply(r.env.MessageId, 5);
  const injected = ctx.fault("auth", info.key);
  if (injected === null) return;
  if (injected !== undefined) return reply(r.env.MessageId, Number(injected), Number(injected) === 0 ? { DeviceSecret: "FE448731" } : {});
  let d = ctx.registry.get(info.key);
  if (!d && product.authType === 0) d = ctx.registry.addDevice(pid, eui);
  if (!d || d.disabled) return reply(r.env.MessageId, 4);
  d.secret ??= randomHex32();
  reply(r.env.MessageId, 0, { DeviceSecret: d.secret });
}
