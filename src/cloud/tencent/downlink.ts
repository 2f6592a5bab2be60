/**
 * Downlink validation (tencent.md 3.8, 4.6, 4.7, 4.8, 6.5, 6.6, 7.2, 9): nothing here has side effects; a message
 * comes out as a typed request or as the reason it is refused (with the code to answer, where it can be answered).
 */
import type { FailureKind, Outcome } from "../platform.js";

export const MAX_DOWNLINK_BYTES = 64 * 1024;

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON object or a reason; payloads over 64 KiB are not parsed. */
export function parseObject(payload: Buffer): { ok: true; value: Obj } | { ok: false; reason: string } {
  if (payload.length > MAX_DOWNLINK_BYTES) return { ok: false, reason: `payload of ${payload.length} bytes is over 64 KiB` };
  let v: unknown;
  try {
    v = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  return isObj(v) ? { ok: true, value: v } : { ok: false, reason: "not a JSON object" };
}

export type CommandParse =
  | { ok: true; token: string; params: Obj; actionId?: string }
  /** Answerable: it has a usable clientToken. */
  | { ok: false; token: string; code: number; status: string }
  /** Not answerable: dropped. */
  | { ok: false; token?: undefined; reason: string };

function usableToken(msg: Obj): string | undefined {
  const t = msg.clientToken;
  return typeof t === "string" && t.length > 0 && t.length <= 128 ? t : undefined;
}

/** `control` on a property topic, `action` on an action topic. */
export function parseCommand(msg: Obj, method: "control" | "action"): CommandParse {
  if (msg.method !== method) return { ok: false, reason: `method ${JSON.stringify(msg.method)} is not ${method}` };
  const token = usableToken(msg);
  if (!token) return { ok: false, reason: "no usable clientToken" };
  if (method === "action") {
    if (typeof msg.actionId !== "string" || msg.actionId === "") return { ok: false, token, code: 403, status: "actionId missing" };
    const params = msg.params === undefined ? {} : msg.params;
    if (!isObj(params)) return { ok: false, token, code: 406, status: "params is not an object" };
    return { ok: true, token, params, actionId: msg.actionId };
  }
  if (!isObj(msg.params)) return { ok: false, token, code: 406, status: "params is not an object" };
  if (Object.keys(msg.params).length === 0) return { ok: false, token, code: 406, status: "params is empty" };
  return { ok: true, token, params: msg.params };
}

/** The reply code of an Outcome (10.2). `opcua`: field errors of that device are OPC UA bad statuses. */
export function outcomeCode(o: Outcome, opcua: boolean): number {
  if (o.ok) return 0;
  // Kinds a newer core may add (per-protocol field errors) map too; anything unknown is an internal error.
  const map: Record<FailureKind | "modbusException" | "opcuaBadStatus", number> = {
    badRequest: 406,
    unknownIdentifier: 403,
    readOnly: 403,
    unknownDevice: 403,
    timeout: 100001,
    fieldError: opcua ? 100003 : 100002,
    notConnected: 100004,
    unsupported: 100005,
    internal: 503,
    modbusException: 100002,
    opcuaBadStatus: 100003,
  };
  return map[o.kind as FailureKind] ?? 503;
}

export interface DevicePair {
  product_id: string;
  device_name: string;
}

function pairs(v: unknown): DevicePair[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: DevicePair[] = [];
  for (const d of v) {
    if (!isObj(d) || typeof d.product_id !== "string" || typeof d.device_name !== "string") return undefined;
    out.push({ product_id: d.product_id, device_name: d.device_name });
  }
  return out;
}

/** A reply to one of our gateway operations: each device with its result. */
export function parseOpReply(msg: Obj): { type: string; devices: Array<DevicePair & { result: number }> } | undefined {
  if (typeof msg.type !== "string" || !isObj(msg.payload)) return undefined;
  const list = msg.payload.devices;
  if (!Array.isArray(list)) return undefined;
  const devices: Array<DevicePair & { result: number }> = [];
  for (const d of list) {
    if (!isObj(d) || typeof d.product_id !== "string" || typeof d.device_name !== "string") continue;
    devices.push({ product_id: d.product_id, device_name: d.device_name, result: typeof d.result === "number" ? d.result : 0 });
  }
  return { type: msg.type, devices };
}

export function parseChange(msg: Obj): { status: 0 | 1; devices: DevicePair[] } | undefined {
  if (!isObj(msg.payload)) return undefined;
  const status = msg.payload.status;
  const devices = pairs(msg.payload.devices);
  if ((status !== 0 && status !== 1) || !devices) return undefined;
  return { status, devices };
}

export interface ResourceUpdate {
  name: string;
  version: string;
  url: string;
  md5: string;
  size: number;
}

/** update_resource (7.2): undefined when there is nothing to report against; else the update or a -6 reason. */
export function parseResourceUpdate(msg: Obj, resourceName: string, allowHttp: boolean):
  | undefined
  | { ok: true; update: ResourceUpdate }
  | { ok: false; name: string; version: string; reason: string } {
  const name = msg.resource_name;
  const version = msg.version;
  if (typeof name !== "string" || typeof version !== "string") return undefined;
  const bad = (reason: string) => ({ ok: false as const, name, version, reason });
  if (name !== resourceName) return bad(`not the gateway config resource`);
  if (typeof msg.resource_type !== "string" || msg.resource_type.toUpperCase() !== "FILE") return bad("resource_type is not FILE");
  if (version === "" || version.length > 64) return bad("version must be 1-64 characters");
  const url = msg.url;
  if (typeof url !== "string" || !(url.startsWith("https://") || (allowHttp && url.startsWith("http://")))) return bad("url is not https");
  if (typeof msg.md5sum !== "string" || !/^[0-9a-fA-F]{32}$/.test(msg.md5sum)) return bad("md5sum is not 32 hex characters");
  const size = msg.file_size;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 0) return bad("file_size is not an integer >= 0");
  return { ok: true, update: { name, version, url, md5: msg.md5sum.toLowerCase(), size } };
}

export interface FirmwareUpdate {
  version: string;
  url: string;
  md5: string;
  size: number;
}

/** update_firmware (9): undefined without a string version (ignored), else the update or a -5 reason. */
export function parseFirmwareUpdate(msg: Obj, allowHttp: boolean): undefined | { ok: true; update: FirmwareUpdate } | { ok: false; version: string; reason: string } {
  if (msg.type !== "update_firmware" || typeof msg.version !== "string") return undefined;
  const version = msg.version;
  const url = msg.url;
  if (typeof url !== "string" || !(url.startsWith("https://") || (allowHttp && url.startsWith("http://")))) return { ok: false, version, reason: "invalid url" };
  if (typeof msg.md5sum !== "string" || !/^[0-9a-fA-F]{32}$/.test(msg.md5sum)) return { ok: false, version, reason: "invalid md5sum" };
  if (typeof msg.file_size !== "number" || !Number.isInteger(msg.file_size) || msg.file_size < 0) return { ok: false, version, reason: "invalid file_size" };
  return { ok: true, update: { version, url, md5: msg.md5sum.toLowerCase(), size: msg.file_size } };
}

/** result_code of a failed config offer (7.2). */
export function configFailureCode(stage: string, message: string): string {
  if (stage === "download") {
    if (/\b404\b/.test(message)) return "-2";
    if (/\b403\b/.test(message)) return "-3";
    return "-1";
  }
  if (stage === "digest") return "-4";
  if (stage === "request") return "-6";
  return "-5";
}
