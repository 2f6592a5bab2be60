/**
 * Gateway topology requests (alink.md sections 3.1-3.4): `thing.sub.register`, `thing.topo.add`,
 * `thing.topo.delete`, `thing.topo.get`. A request is checked as a whole before anything changes; the first
 * failing item decides the reply code.
 */
import { signedItemValid } from "./wire.js";
import { type Core, type Uplink, str, validMessageId } from "./context.js";
import { keyOf } from "./registry.js";
import { isPlainObject } from "../tsl-check.js";

type Item = Record<string, unknown> & { productKey: string; deviceName: string };

/** Envelope of the gateway's list requests: id, method, params = non-empty list of {productKey, deviceName, …}. */
export function listParams(up: Uplink, method: string): Item[] | string {
  if (!up.msg) return "payload is not a JSON object";
  if (!validMessageId(up.id)) return "id must be a numeric string";
  if (up.msg["method"] !== method) return `method must be ${method}`;
  const params = up.msg["params"];
  if (!Array.isArray(params) || params.length === 0) return "params must be a non-empty list";
  for (const [i, item] of params.entries()) {
    if (!isPlainObject(item) || !str(item["productKey"]) || !str(item["deviceName"])) {
      return `params[${i}] needs productKey and deviceName`;
    }
  }
  return params as Item[];
}

/** Answers `up` with `code` and records the refusal. */
export function fail(core: Core, up: Uplink, code: number, reason: string, deviceKey?: string): void {
  core.reply(up, code, { message: reason });
  core.reject({ topic: up.topic, msgId: up.id === undefined ? undefined : String(up.id), code, reason, ...(deviceKey ? { deviceKey } : {}) });
}

export function handleRegister(core: Core, up: Uplink): void {
  const items = listParams(up, "thing.sub.register");
  if (typeof items === "string") return fail(core, up, 460, items);
  const keys = items.map((i) => keyOf(i.productKey, i.deviceName));
  const fault = core.faults.take("register", keys);
  if (fault) return fail(core, up, fault.code, fault.message);
  for (const [i, item] of items.entries()) {
    const key = keys[i]!;
    if (key === up.conn.key) return fail(core, up, 6402, "topo relation cannot add by self", key);
    const product = core.registry.product(item.productKey);
    if (!product) return fail(core, up, 6250, "product not found", key);
    if (!product.dynamicRegistration) return fail(core, up, 401, "dynamic registration is not enabled for this product", key);
    if (!/^[A-Za-z0-9_@.:-]{4,32}$/.test(item.deviceName)) return fail(core, up, 6280, "devicename not meet specs", key);
  }
  const data = items.map((item, i) => {
    const existing = core.registry.get(keys[i]!);
    const device = existing && !existing.deleted ? existing : core.registry.addDevice({ productKey: item.productKey, deviceName: item.deviceName });
    return { iotId: device.iotId, productKey: device.productKey, deviceName: device.deviceName, deviceSecret: device.secret };
  });
  core.reply(up, 200, { data });
}

export function handleTopoAdd(core: Core, up: Uplink): void {
  const items = listParams(up, "thing.topo.add");
  if (typeof items === "string") return fail(core, up, 460, items);
  const keys = items.map((i) => keyOf(i.productKey, i.deviceName));
  const fault = core.faults.take("topoAdd", keys);
  if (fault) return fail(core, up, fault.code, fault.message);
  for (const [i, item] of items.entries()) {
    const key = keys[i]!;
    for (const k of ["sign", "timestamp"]) {
      if (!str(item[k])) return fail(core, up, 460, `params[${i}].${k} is required`, key);
    }
    if (!str(item["signmethod"] ?? item["signMethod"])) return fail(core, up, 460, `params[${i}].signmethod is required`, key);
    if (key === up.conn.key) return fail(core, up, 6402, "topo relation cannot add by self", key);
    const device = core.registry.get(key);
    if (!device || device.deleted) return fail(core, up, 6100, "device not found", key);
    if (!signedItemValid(item, device.secret)) return fail(core, up, 401, "request auth error", key);
  }
  for (const key of keys) {
    const device = core.registry.get(key)!;
    if (device.topoParent && device.topoParent !== up.conn.key && device.online) {
      core.endSession(device, { code: 6401, message: "topo relation not exist" });
    }
    device.topoParent = up.conn.key;
  }
  core.reply(up, 200, { data: {} });
}

export function handleTopoDelete(core: Core, up: Uplink): void {
  const items = listParams(up, "thing.topo.delete");
  if (typeof items === "string") return fail(core, up, 460, items);
  const keys = items.map((i) => keyOf(i.productKey, i.deviceName));
  const fault = core.faults.take("topoDelete", keys);
  if (fault) return fail(core, up, fault.code, fault.message);
  for (const key of keys) {
    const device = core.registry.get(key);
    if (!device || device.deleted) return fail(core, up, 6100, "device not found", key);
  }
  for (const key of keys) {
    const device = core.registry.get(key)!;
    if (device.topoParent !== up.conn.key) continue;
    if (device.online?.gatewayKey === up.conn.key) core.endSession(device);
    device.topoParent = undefined;
  }
  core.reply(up, 200, { data: {} });
}

export function handleTopoGet(core: Core, up: Uplink): void {
  if (!up.msg || !validMessageId(up.id)) return fail(core, up, 460, "payload must be a JSON object with a numeric id");
  if (up.msg["method"] !== "thing.topo.get") return fail(core, up, 460, "method must be thing.topo.get");
  const fault = core.faults.take("topoGet", [up.conn.key]);
  if (fault) return fail(core, up, fault.code, fault.message);
  const data = core.registry.children(up.conn.key).map((d) => ({ productKey: d.productKey, deviceName: d.deviceName }));
  core.reply(up, 200, { data });
}
