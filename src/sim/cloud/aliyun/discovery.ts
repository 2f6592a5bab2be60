/**
 * The platform's side of thing models and discovery (alink.md sections 3.18 and 3.5): `thing.dsltemplate.get`
 * answered with the product's TSL (or a template set for the product, a bad one on demand), and `thing.list.found`
 * checked item by item and remembered for the cloud application that would pick devices from it.
 */
import { type Core, type Uplink, validMessageId } from "./context.js";
import { listParams } from "./topo.js";
import type { DeviceState } from "./registry.js";
import { keyOf } from "./registry.js";
import { isPlainObject } from "../tsl-check.js";

export interface FoundRecord {
  gatewayKey: string;
  deviceKey: string;
  msgId: string;
  time: number;
}

export interface DslRequest {
  deviceKey: string;
  code: number;
  time: number;
}

/** What these two remember; the emulator owns one. */
export class DiscoveryDesk {
  /** Answered for a product instead of its TSL (a template that fails the gateway's checks, for instance). */
  readonly templates = new Map<string, unknown>();
  readonly found: FoundRecord[] = [];
  readonly dslRequests: DslRequest[] = [];
}

const SCHEMA = "https://iot-tsl.oss-cn-shanghai.aliyuncs.com/schema.json";

function refuse(core: Core, up: Uplink, code: number, reason: string, deviceKey: string): void {
  core.reply(up, code, { message: reason });
  core.reject({ deviceKey, topic: up.topic, msgId: up.id === undefined ? undefined : String(up.id), code, reason });
}

/** `/sys/{pk}/{dn}/thing/dsltemplate/get` under the identity of the device whose model is asked. */
export function handleDslTemplateGet(core: Core, desk: DiscoveryDesk, up: Uplink, device: DeviceState): void {
  const at = (code: number) => desk.dslRequests.push({ deviceKey: device.key, code, time: core.now() });
  const msg = up.msg;
  let problem: string | undefined;
  if (!msg) problem = "payload is not a JSON object";
  else if (!validMessageId(up.id)) problem = "id must be a numeric string";
  else if (msg["method"] !== "thing.dsltemplate.get") problem = "method must be thing.dsltemplate.get";
  else if (msg["version"] !== "1.0") problem = "version must be 1.0";
  else if (msg["params"] !== undefined && !isPlainObject(msg["params"])) problem = "params must be an object";
  if (problem) {
    at(460);
    return refuse(core, up, 460, problem, device.key);
  }
  const product = core.registry.product(device.productKey);
  if (!product || device.deleted) {
    at(6321);
    return refuse(core, up, 6321, "tsl: device not exist in product", device.key);
  }
  at(200);
  const override = desk.templates.get(device.productKey);
  if (override !== undefined) return core.reply(up, 200, { data: override });
  const tsl = product.tsl;
  core.reply(up, 200, {
    data: {
      schema: SCHEMA,
      link: `/sys/${device.productKey}/${device.deviceName}/thing/`,
      profile: { productKey: device.productKey, deviceName: device.deviceName },
      properties: tsl?.properties ?? [],
      events: tsl?.events ?? [],
      services: tsl?.services ?? [],
    },
  });
}

/** `/sys/{gpk}/{gdn}/thing/list/found` (gateway identity): every item is checked before any is recorded. */
export function handleListFound(core: Core, desk: DiscoveryDesk, up: Uplink): void {
  const items = listParams(up, "thing.list.found");
  if (typeof items === "string") return refuse(core, up, 460, items, up.conn.key);
  for (const item of items) {
    const key = keyOf(item.productKey, item.deviceName);
    if (!core.registry.product(item.productKey)) return refuse(core, up, 6250, "product not found", key);
    if (!/^[A-Za-z0-9_@.:-]{4,32}$/.test(item.deviceName)) return refuse(core, up, 6280, "devicename not meet specs", key);
  }
  for (const item of items) desk.found.push({ gatewayKey: up.conn.key, deviceKey: keyOf(item.productKey, item.deviceName), msgId: String(up.id), time: core.now() });
  core.reply(up, 200, { data: {} });
}
