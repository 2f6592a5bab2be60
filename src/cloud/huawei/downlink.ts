/**
 * Commands (`cloudReq`, huawei.md sections 3.3, 3.5) and their responses (`deviceRsp`, section 3.4), with the
 * codes of section 9.2. A payload that is not a JSON object, has another msgType or no usable `mid` cannot be
 * answered and is dropped; anything else that is wrong is answered with errcode 1, code 460.
 */
import type { FailureKind } from "../platform.js";

export const MAX_COMMAND_BYTES = 1024 * 1024;
export const MAX_RESPONSE_BYTES = 64 * 1024;

export const CODE = {
  ok: 200,
  internal: 400,
  busy: 429,
  invalid: 460,
  timeout: 100001,
  modbusException: 100002,
  opcuaBadStatus: 100003,
  notConnected: 100004,
  unsupported: 100005,
  downloadFailed: 100010,
  documentInvalid: 100011,
} as const;

export type ParsedCommand =
  | { kind: "drop"; reason: string }
  | { kind: "invalid"; mid: number; reason: string }
  | { kind: "command"; mid: number; serviceId: string; cmd: string; paras: Record<string, unknown> };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const validMid = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;

export function parseCloudReq(payload: Buffer): ParsedCommand {
  if (payload.length > MAX_COMMAND_BYTES) return { kind: "drop", reason: `command of ${payload.length} bytes exceeds ${MAX_COMMAND_BYTES}` };
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString("utf8"));
  } catch {
    return { kind: "drop", reason: "command is not JSON" };
  }
  if (!isPlainObject(msg)) return { kind: "drop", reason: "command is not a JSON object" };
  if (msg.msgType !== "cloudReq") return { kind: "drop", reason: "msgType is not cloudReq" };
  if (!validMid(msg.mid)) return { kind: "drop", reason: "mid is not an integer in 1..65535" };
  const mid = msg.mid;
  const { serviceId, cmd, paras } = msg;
  if (typeof serviceId !== "string" || serviceId.length < 1 || serviceId.length > 64) {
    return { kind: "invalid", mid, reason: "serviceId must be a string of 1..64 characters" };
  }
  if (typeof cmd !== "string" || cmd.length < 1 || cmd.length > 32) return { kind: "invalid", mid, reason: "cmd must be a string of 1..32 characters" };
  if (!isPlainObject(paras)) return { kind: "invalid", mid, reason: "paras must be an object" };
  return { kind: "command", mid, serviceId, cmd, paras };
}

export type RspBody = { code: number; message?: string; data?: unknown; [k: string]: unknown };

/** The response; one too large for an uplink is replaced by a 400 (the command did run). */
export function deviceRsp(mid: number, body: RspBody): string {
  const errcode = body.code === CODE.ok ? 0 : 1;
  const text = JSON.stringify({ msgType: "deviceRsp", mid, errcode, body });
  if (Buffer.byteLength(text, "utf8") <= MAX_RESPONSE_BYTES) return text;
  return JSON.stringify({ msgType: "deviceRsp", mid, errcode: 1, body: { code: CODE.internal, message: `response exceeds ${MAX_RESPONSE_BYTES} bytes` } });
}

export const fail = (code: number, message: string): RspBody => ({ code, message: message.length > 200 ? `${message.slice(0, 200)}…` : message });

/** The code for a failed request of the core (section 9.2); `fieldError` depends on the device's field protocol. */
export function failureCode(kind: FailureKind, protocol: "modbus" | "opcua" | undefined): number {
  switch (kind) {
    case "badRequest":
    case "unknownIdentifier":
    case "readOnly":
    case "unknownDevice":
      return CODE.invalid;
    case "timeout":
      return CODE.timeout;
    case "fieldError":
      return protocol === "opcua" ? CODE.opcuaBadStatus : CODE.modbusException;
    case "modbusException":
      return CODE.modbusException;
    case "opcuaBadStatus":
      return CODE.opcuaBadStatus;
    case "notConnected":
      return CODE.notConnected;
    case "unsupported":
      return CODE.unsupported;
    case "internal":
      return CODE.internal;
  }
}

// ---- CONFIG_PUSH and REMOVE parameters (section 6) ----

export type ConfigParas = { url: string; digest: string; digestMethod: "sha256"; version?: string };

export function parseConfigParas(p: Record<string, unknown>, allowHttp: boolean): ConfigParas | string {
  for (const k of Object.keys(p)) if (!["url", "digest", "digestMethod", "version"].includes(k)) return `unknown parameter ${JSON.stringify(k.slice(0, 32))}`;
  const { url, digest, digestMethod, version } = p;
  if (typeof url !== "string" || url.length === 0) return "url is required";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "url is not a URL";
  }
  if (parsed.protocol !== "https:" && !(allowHttp && parsed.protocol === "http:")) return allowHttp ? "url must be https:// or http://" : "url must be https://";
  if (typeof digest !== "string" || !(/^[0-9a-fA-F]{64}$/.test(digest) || /^[A-Za-z0-9+/]{43}=$/.test(digest))) {
    return "digest must be a SHA-256 in hex (64 characters) or base64 (44 characters)";
  }
  if (digestMethod !== undefined && digestMethod !== "sha256") return "digestMethod must be sha256";
  if (version !== undefined && (typeof version !== "string" || version.length > 128)) return "version must be a string of at most 128 characters";
  return { url, digest, digestMethod: "sha256", ...(version !== undefined ? { version } : {}) };
}

export type RemoveTarget = { productKey: string; deviceName: string } | { deviceId: string };

export function parseRemoveParas(p: Record<string, unknown>): RemoveTarget | string {
  for (const k of Object.keys(p)) if (!["del_subdevice", "productKey", "deviceName", "deviceId"].includes(k)) return `unknown parameter ${JSON.stringify(k.slice(0, 32))}`;
  if (p.del_subdevice !== "YES") return 'del_subdevice must be "YES"';
  const { productKey, deviceName, deviceId } = p;
  const str = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 64;
  if (deviceId !== undefined) {
    if (productKey !== undefined || deviceName !== undefined) return "give either productKey and deviceName or deviceId";
    if (!str(deviceId)) return "deviceId must be a string of 1..64 characters";
    return { deviceId: deviceId as string };
  }
  if (!str(productKey) || !str(deviceName)) return "productKey and deviceName (or deviceId) are required";
  return { productKey: productKey as string, deviceName: deviceName as string };
}
