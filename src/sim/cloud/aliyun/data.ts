/**
 * Data uplinks checked against the product TSL (alink.md sections 3.10, 3.14, 6.4):
 * - property post drops invalid properties silently (recorded as rejected) and still answers 200;
 *   more than 200 properties fail with 6106;
 * - an invalid event post fails with 460;
 * - pack post fails as a whole (460) on any invalid value, an unbound (6401) or offline (520) sub-device,
 *   more than 200 properties (6106), more than 20 events or 20 sub-devices (460).
 */
import type { TslDocument } from "../../../things/tsl-types.js";
import { type Core, type Uplink, validMessageId } from "./context.js";
import type { AcceptedEvent, AcceptedProperty } from "./records.js";
import { type DeviceState, keyOf } from "./registry.js";
import { checkEventEntry, checkPropertyEntry, isPlainObject } from "../tsl-check.js";

export const MAX_PROPERTIES = 200;
export const MAX_PACK_EVENTS = 20;
export const MAX_PACK_SUBDEVICES = 20;

function envelope(up: Uplink, method: string): Record<string, unknown> | string {
  if (!up.msg) return "payload is not a JSON object";
  if (!validMessageId(up.id)) return "id must be a numeric string";
  if (up.msg["method"] !== method) return `method must be ${method}`;
  const params = up.msg["params"];
  if (!isPlainObject(params)) return "params must be an object";
  return params;
}

function fail(core: Core, up: Uplink, code: number, reason: string, deviceKey: string): void {
  // Code 0: the message was taken (PUBACK) and then lost by the platform: no reply, no effect.
  if (code !== 0) core.reply(up, code, { message: reason });
  core.reject({ deviceKey, topic: up.topic, msgId: String(up.id ?? ""), code, reason });
}

const tslOf = (core: Core, device: DeviceState): TslDocument | undefined => core.registry.product(device.productKey)?.tsl;

const entryTime = (core: Core, entry: unknown): number =>
  isPlainObject(entry) && typeof entry["time"] === "number" ? entry["time"] : core.now();

export function handlePropertyPost(core: Core, up: Uplink, device: DeviceState): void {
  const params = envelope(up, "thing.event.property.post");
  if (typeof params === "string") return fail(core, up, 460, params, device.key);
  const entries = Object.entries(params);
  if (entries.length > MAX_PROPERTIES) return fail(core, up, 6106, "map size must less than 200", device.key);
  const fault = core.faults.take("propertyPost", [device.key]);
  if (fault) return fail(core, up, fault.code, fault.message, device.key);
  const tsl = tslOf(core, device);
  const msgId = String(up.id);
  for (const [identifier, entry] of entries) {
    const err = checkPropertyEntry(tsl, identifier, entry);
    if (err) {
      core.reject({ deviceKey: device.key, topic: up.topic, msgId, identifier, code: 200, reason: err });
      continue;
    }
    const value = (entry as Record<string, unknown>)["value"];
    core.records.add("properties", { deviceKey: device.key, identifier, value, time: entryTime(core, entry), msgId, via: "post" });
  }
  core.reply(up, 200, { data: {} });
}

export function handleEventPost(core: Core, up: Uplink, device: DeviceState, identifier: string): void {
  const params = envelope(up, `thing.event.${identifier}.post`);
  if (typeof params === "string") return fail(core, up, 460, params, device.key);
  const fault = core.faults.take("eventPost", [device.key]);
  if (fault) return fail(core, up, fault.code, fault.message, device.key);
  const err = checkEventEntry(tslOf(core, device), identifier, params);
  if (err) {
    core.reply(up, 460, { message: err });
    core.reject({ deviceKey: device.key, topic: up.topic, msgId: String(up.id), identifier, code: 460, reason: err });
    return;
  }
  core.records.add("events", {
    deviceKey: device.key,
    identifier,
    value: params["value"] as Record<string, unknown>,
    time: entryTime(core, params),
    msgId: String(up.id),
    via: "post",
  });
  core.reply(up, 200, { data: {} });
}

interface PackPart {
  device: DeviceState;
  properties: Record<string, unknown>;
  events: Record<string, unknown>;
}

export function handlePackPost(core: Core, up: Uplink): void {
  const gw = up.conn;
  const params = envelope(up, "thing.event.property.pack.post");
  if (typeof params === "string") return fail(core, up, 460, params, gw.key);

  const parts: PackPart[] = [];
  const own = partOf(gw, params);
  if (typeof own === "string") return fail(core, up, 460, own, gw.key);
  parts.push(own);
  const subs = params["subDevices"] ?? [];
  if (!Array.isArray(subs)) return fail(core, up, 460, "subDevices must be a list", gw.key);
  if (subs.length > MAX_PACK_SUBDEVICES) return fail(core, up, 460, `more than ${MAX_PACK_SUBDEVICES} sub-devices in one pack`, gw.key);
  for (const [i, sub] of subs.entries()) {
    const identity = isPlainObject(sub) ? sub["identity"] : undefined;
    if (!isPlainObject(identity) || typeof identity["productKey"] !== "string" || typeof identity["deviceName"] !== "string") {
      return fail(core, up, 460, `subDevices[${i}].identity needs productKey and deviceName`, gw.key);
    }
    const key = keyOf(identity["productKey"], identity["deviceName"]);
    const device = core.registry.get(key);
    if (!device || device.deleted) return fail(core, up, 6100, `sub-device ${key} not found`, gw.key);
    if (device.topoParent !== gw.key) return fail(core, up, 6401, `topo relation not exist for ${key}`, gw.key);
    if (device.online?.client !== up.client) return fail(core, up, 520, `sub-device ${key} has no session`, gw.key);
    const part = partOf(device, sub as Record<string, unknown>);
    if (typeof part === "string") return fail(core, up, 460, `subDevices[${i}]: ${part}`, gw.key);
    parts.push(part);
  }
  const propCount = parts.reduce((n, p) => n + Object.keys(p.properties).length, 0);
  const eventCount = parts.reduce((n, p) => n + Object.keys(p.events).length, 0);
  if (propCount > MAX_PROPERTIES) return fail(core, up, 6106, `${propCount} properties in one pack; at most ${MAX_PROPERTIES}`, gw.key);
  if (eventCount > MAX_PACK_EVENTS) return fail(core, up, 460, `${eventCount} events in one pack; at most ${MAX_PACK_EVENTS}`, gw.key);
  const fault = core.faults.take("packPost", [gw.key]);
  if (fault) return fail(core, up, fault.code, fault.message, gw.key);

  const msgId = String(up.id);
  const props: AcceptedProperty[] = [];
  const events: AcceptedEvent[] = [];
  const errors: { deviceKey: string; identifier: string; reason: string }[] = [];
  for (const p of parts) {
    const tsl = tslOf(core, p.device);
    for (const [identifier, entry] of Object.entries(p.properties)) {
      const err = checkPropertyEntry(tsl, identifier, entry);
      if (err) errors.push({ deviceKey: p.device.key, identifier, reason: err });
      else props.push({ deviceKey: p.device.key, identifier, value: (entry as Record<string, unknown>)["value"], time: entryTime(core, entry), msgId, via: "pack" });
    }
    for (const [identifier, entry] of Object.entries(p.events)) {
      const err = checkEventEntry(tsl, identifier, entry);
      if (err) errors.push({ deviceKey: p.device.key, identifier, reason: err });
      else events.push({ deviceKey: p.device.key, identifier, value: (entry as Record<string, Record<string, unknown>>)["value"]!, time: entryTime(core, entry), msgId, via: "pack" });
    }
  }
  if (errors.length > 0) {
    for (const e of errors) core.reject({ ...e, topic: up.topic, msgId, code: 460 });
    core.reply(up, 460, { message: `${errors.length} invalid value(s); first: ${errors[0]!.deviceKey} ${errors[0]!.reason}` });
    return;
  }
  for (const p of props) core.records.add("properties", p);
  for (const e of events) core.records.add("events", e);
  core.reply(up, 200, { data: {} });
}

function partOf(device: DeviceState, o: Record<string, unknown>): PackPart | string {
  const properties = o["properties"] ?? {};
  const events = o["events"] ?? {};
  if (!isPlainObject(properties)) return "properties must be an object";
  if (!isPlainObject(events)) return "events must be an object";
  return { device, properties, events };
}
