/**
 * Device tags as the platform keeps them (alink.md 3.17, 4.4, 4.5): per device, set by `thing.deviceinfo.update`
 * and removed by `thing.deviceinfo.delete`, under the device's own identity (a sub-device needs its session). The
 * request must be `{id, version, params: [...], method}` with 1..200 entries; each `attrKey` matches
 * `^[A-Za-z_][A-Za-z0-9_]*$` and is at most 100 bytes; an update's `attrValue` is a string. Anything else is 460 and
 * changes no tag (the whole request is refused). A deleted device is 6100.
 */
import type { Core, Uplink } from "./context.js";
import type { DeviceState } from "./registry.js";
import { fail } from "./topo.js";

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_TAGS = 200;

export class TagStore {
  private readonly byDevice = new Map<string, Map<string, string>>();

  of(deviceKey: string): Record<string, string> {
    return Object.fromEntries(this.byDevice.get(deviceKey) ?? []);
  }

  handle(core: Core, up: Uplink, device: DeviceState, op: "update" | "delete"): void {
    const refuse = (code: number, message: string) => fail(core, up, code, message, device.key);
    const problem = check(up, op);
    if (problem) return refuse(460, `request parameter error: ${problem}`);
    const fault = core.faults.take("tags", [device.key]);
    if (fault) return refuse(fault.code, fault.message);
    if (device.deleted) return refuse(6100, "device not found");
    const tags = this.byDevice.get(device.key) ?? new Map<string, string>();
    for (const item of up.msg!["params"] as Array<Record<string, string>>) {
      if (op === "update") tags.set(item["attrKey"]!, item["attrValue"]!);
      else tags.delete(item["attrKey"]!);
    }
    this.byDevice.set(device.key, tags);
    core.reply(up, 200, { data: {} });
  }
}

function check(up: Uplink, op: "update" | "delete"): string | undefined {
  const msg = up.msg;
  if (!msg || up.id === undefined) return "not an Alink request with an id";
  if (msg["method"] !== `thing.deviceinfo.${op}`) return `method must be thing.deviceinfo.${op}`;
  const params = msg["params"];
  if (!Array.isArray(params) || params.length === 0) return "params must be a non-empty list";
  if (params.length > MAX_TAGS) return `at most ${MAX_TAGS} tags per request`;
  for (const [i, item] of params.entries()) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) return `params[${i}] must be an object`;
    const key = (item as Record<string, unknown>)["attrKey"];
    if (typeof key !== "string" || !KEY.test(key)) return `params[${i}].attrKey must match ${KEY.source}`;
    if (Buffer.byteLength(key, "utf8") > 100) return `params[${i}].attrKey is longer than 100 bytes`;
    if (op === "update" && typeof (item as Record<string, unknown>)["attrValue"] !== "string") return `params[${i}].attrValue must be a string`;
  }
  return undefined;
}
