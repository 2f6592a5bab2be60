/**
 * Everything the platform sends the gateway (tencent.md 3.7, 3.8, 4, 7.2, 9), dispatched by topic. Replies to
 * our requests are matched and never answered; commands go to Commands; `change`, `search_devices` and
 * `unbind_device` are handled here. A message that is not valid changes no state.
 */
import type { TencentAdapter } from "./adapter.js";
import { isObj, type Obj, parseChange, parseObject, parseOpReply } from "./downlink.js";
import { parseDownTopic, tencentTopics } from "./topics.js";

let lastIgnoredLog = 0;

function ignored(a: TencentAdapter, fields: Record<string, unknown>, msg: string): void {
  a.counters.downlinksDropped++;
  if (Date.now() - lastIgnoredLog < 10_000) return;
  lastIgnoredLog = Date.now();
  a.log.warn(fields, msg);
}

export function handleDownlink(a: TencentAdapter, topic: string, payload: Buffer): void {
  const t = parseDownTopic(topic);
  if (!t) return ignored(a, { topic: topic.slice(0, 128) }, "message on an unexpected topic ignored");
  const parsed = parseObject(payload);
  if (!parsed.ok) return ignored(a, { topic, reason: parsed.reason }, "malformed downlink dropped");
  const msg = parsed.value;
  const gw = t.pair === a.gateway.key;
  switch (t.kind) {
    case "gatewayResult":
      if (!gw) return;
      return onGatewayResult(a, msg);
    case "property":
    case "event":
      if (msg.method === "report_reply" || msg.method === "event_reply") {
        a.uplinks.onReply(msg.clientToken, msg.code);
        return;
      }
      if (t.kind === "property" && msg.method === "control") return a.commands.handle(t.pair, "control", msg, payload, target(a, t.pair));
      return ignored(a, { topic, method: String(msg.method).slice(0, 64) }, "downlink ignored");
    case "action":
      if (msg.method === "action") return a.commands.handle(t.pair, "action", msg, payload, target(a, t.pair));
      return ignored(a, { topic, method: String(msg.method).slice(0, 64) }, "downlink ignored");
    case "service":
      if (gw) {
        if (msg.method === "unbind_device") return void a.log.warn("the platform unbound the gateway itself");
        return a.service.onService(msg);
      }
      if (msg.method === "unbind_device") return void unbound(a, [t.pair]);
      return ignored(a, { topic, method: String(msg.method).slice(0, 64) }, "service notification ignored");
    case "ota":
      if (gw) a.service.onOta(msg);
      return;
  }
}

function target(a: TencentAdapter, pair: string) {
  const d = pair === a.gateway.key ? undefined : a.devs.get(pair);
  const tsl = pair === a.gateway.key ? a.gatewayTsl : d?.d.tsl;
  if (pair !== a.gateway.key && !d) return undefined;
  const services = tsl ? new Set((tsl.services ?? []).map((s) => s.identifier).filter((id) => id !== "set" && id !== "get")) : undefined;
  return { key: pair, services: services ?? new Set<string>(), opcua: !!d?.d.spec.opcua, channel: d?.d.spec.serverId ?? "gateway" };
}

function reply(a: TencentAdapter, body: Obj): void {
  a.link.publish(tencentTopics.gatewayOp(a.gateway.key), JSON.stringify(body)).catch(() => undefined);
}

function onGatewayResult(a: TencentAdapter, msg: Obj): void {
  if (msg.type === "change") {
    const ch = parseChange(msg);
    if (!ch) {
      a.log.warn("malformed change refused");
      return reply(a, { type: "change", result: 1 });
    }
    a.counters.changes++;
    reply(a, { type: "change", result: 0 });
    const pairs = ch.devices.map((d) => `${d.product_id}/${d.device_name}`);
    if (ch.status === 0) void unbound(a, pairs);
    else void rebound(a, pairs);
    return;
  }
  if (msg.type === "search_devices") {
    const status = isObj(msg.payload) ? msg.payload.status : undefined;
    return reply(a, { type: "search_devices", payload: { status, result: status === 0 || status === 1 ? 0 : 1 } });
  }
  const r = parseOpReply(msg);
  if (!r || !a.ops.onReply(r.type, r.devices)) ignored(a, { type: String(msg.type).slice(0, 64) }, "unmatched gateway operation reply");
}

/**
 * `change` 0 / `unbind_device`: unbound by the cloud, persisted; the core stops polling the device and drops its
 * waiting records (counted), since nothing may be published for it any more (4.6).
 */
async function unbound(a: TencentAdapter, pairs: string[]): Promise<void> {
  const set = a.unboundSet();
  for (const p of pairs) {
    const v = a.devs.get(p);
    if (!v || v.state === "unbound") continue;
    set.add(p);
    a.saveUnbound(set);
    const wasOnline = a.isOnline(v);
    v.onlineGen = 0;
    a.setState(v, "unbound", "unbound by the cloud");
    if (wasOnline) await a.link.unsubscribe([`$thing/down/property/${p}`, `$thing/down/event/${p}`, `$thing/down/action/${p}`, `$thing/down/service/${p}`]);
    await a.core.lifecycle(p, "remove");
    if (wasOnline) a.refill();
  }
}

/** `change` 1: the unbound state is cleared; online, SUBSCRIBE, data. */
async function rebound(a: TencentAdapter, pairs: string[]): Promise<void> {
  const set = a.unboundSet();
  const back = [];
  for (const p of pairs) {
    const v = a.devs.get(p);
    if (!v) continue;
    if (set.delete(p)) await a.core.lifecycle(p, "resume");
    if (v.state === "unbound" || v.state === "refused" || v.state === "unbound-no-key") a.setState(v, "pending", "bound by the cloud");
    back.push(v);
  }
  a.saveUnbound(set);
  if (back.length && a.link.connected) await a.bringOnline(back);
}
