/**
 * The emulated platform's own reading of the device side of Huawei device management (huawei.md sections 2, 3),
 * written from the spec independently of the gateway's code: CONNECT fields, topics, `deviceReq` and `deviceRsp`
 * checks, and `cloudReq` building.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type Encoding = "hex" | "base64";

export interface ClientIdParts {
  id: string;
  authType: string;
  signType: string;
  stamp: string;
}

/** `{id}_{authType}_{signType}_{YYYYMMDDHH}`, split from the right (the id may contain `_`). */
export function splitClientId(clientId: string): ClientIdParts | undefined {
  const m = /^(.+)_([0-9])_([0-9])_([0-9]{10})$/.exec(clientId);
  if (!m) return undefined;
  return { id: m[1]!, authType: m[2]!, signType: m[3]!, stamp: m[4]! };
}

/** YYYYMMDDHH → epoch ms of that UTC hour; undefined when it is no real hour. */
export function stampToMs(stamp: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})$/.exec(stamp);
  if (!m) return undefined;
  const [y, mo, d, h] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  const ms = Date.UTC(y, mo - 1, d, h);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h) return undefined;
  return ms;
}

export function utcHourStamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}`;
}

/** Whether `given` is HMAC-SHA256(key = stamp, message = secret) in `encoding` (hex compared case-insensitively). */
export function passwordMatches(given: string, stamp: string, secret: string, encoding: Encoding): boolean {
  const mac = createHmac("sha256", stamp).update(secret, "utf8").digest();
  const expected = encoding === "hex" ? mac.toString("hex") : mac.toString("base64");
  const g = Buffer.from(encoding === "hex" ? given.toLowerCase() : given, "utf8");
  const e = Buffer.from(expected, "utf8");
  return g.length === e.length && timingSafeEqual(g, e);
}

const TOPIC = /^\/huawei\/v1\/devices\/([^/]+)\/(data|command)\/json$/;

export function parseTopic(topic: string): { id: string; kind: "data" | "command" } | undefined {
  const m = TOPIC.exec(topic);
  return m ? { id: m[1]!, kind: m[2] as "data" | "command" } : undefined;
}

export const upTopic = (id: string) => `/huawei/v1/devices/${id}/data/json`;
export const downTopic = (id: string) => `/huawei/v1/devices/${id}/command/json`;

/** `yyyyMMddTHHmmssZ` → epoch ms, or undefined when it is not exactly that form and a real time. */
export function parseEventTime(s: unknown): number | undefined {
  if (typeof s !== "string") return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const n = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(n[0], n[1] - 1, n[2], n[3], n[4], n[5]);
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(".000", "") === s ? ms : undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export interface ReportEntry {
  serviceId: string;
  serviceData: Record<string, unknown>;
  eventTime: string;
  time: number;
}

export type Uplink =
  | { kind: "deviceReq"; entries: ReportEntry[] }
  | { kind: "deviceRsp"; mid: number; errcode: number; body: Record<string, unknown>; problems: string[] }
  | { kind: "invalid"; reason: string };

export const UPLINK_MAX_BYTES = 64 * 1024;
export const MAX_ENTRIES = 100;

/** The platform's check of one message on a data topic. */
export function readUplink(payload: Buffer): Uplink {
  if (payload.length > UPLINK_MAX_BYTES) return { kind: "invalid", reason: `payload of ${payload.length} bytes exceeds ${UPLINK_MAX_BYTES}` };
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString("utf8"));
  } catch {
    return { kind: "invalid", reason: "payload is not JSON" };
  }
  if (!isObj(msg)) return { kind: "invalid", reason: "payload is not a JSON object" };
  if (msg.msgType === "deviceReq") {
    const extra = Object.keys(msg).filter((k) => k !== "msgType" && k !== "data");
    if (extra.length) return { kind: "invalid", reason: `deviceReq: unknown field ${extra[0]}` };
    if (!Array.isArray(msg.data) || msg.data.length === 0) return { kind: "invalid", reason: "deviceReq: data must be a non-empty list" };
    if (msg.data.length > MAX_ENTRIES) return { kind: "invalid", reason: `deviceReq: ${msg.data.length} entries exceed ${MAX_ENTRIES}` };
    const entries: ReportEntry[] = [];
    for (const [i, e] of msg.data.entries()) {
      if (!isObj(e)) return { kind: "invalid", reason: `deviceReq: data[${i}] is not an object` };
      const extraE = Object.keys(e).filter((k) => !["serviceId", "serviceData", "eventTime"].includes(k));
      if (extraE.length) return { kind: "invalid", reason: `deviceReq: data[${i}] has unknown field ${extraE[0]}` };
      if (typeof e.serviceId !== "string" || e.serviceId.length === 0 || e.serviceId.length > 64) {
        return { kind: "invalid", reason: `deviceReq: data[${i}].serviceId must be a string of 1..64 characters` };
      }
      if (!isObj(e.serviceData) || Object.keys(e.serviceData).length === 0) return { kind: "invalid", reason: `deviceReq: data[${i}].serviceData must be a non-empty object` };
      const time = parseEventTime(e.eventTime);
      if (time === undefined) return { kind: "invalid", reason: `deviceReq: data[${i}].eventTime must be yyyyMMddTHHmmssZ (UTC)` };
      entries.push({ serviceId: e.serviceId, serviceData: e.serviceData, eventTime: e.eventTime as string, time });
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.time < entries[i - 1]!.time) return { kind: "invalid", reason: `deviceReq: data[${i}].eventTime is earlier than data[${i - 1}]` };
    }
    return { kind: "deviceReq", entries };
  }
  if (msg.msgType === "deviceRsp") {
    const { mid, errcode, body } = msg;
    if (typeof mid !== "number" || !Number.isInteger(mid) || mid < 1 || mid > 65535) return { kind: "invalid", reason: "deviceRsp: mid must be an integer in 1..65535" };
    if (errcode !== 0 && errcode !== 1) return { kind: "invalid", reason: "deviceRsp: errcode must be 0 or 1" };
    const problems: string[] = [];
    const extra = Object.keys(msg).filter((k) => !["msgType", "mid", "errcode", "body"].includes(k));
    if (extra.length) problems.push(`unknown field ${extra[0]}`);
    if (!isObj(body)) return { kind: "deviceRsp", mid, errcode, body: {}, problems: ["body must be an object"] };
    if (typeof body.code !== "number" || !Number.isInteger(body.code)) problems.push("body.code must be an integer");
    else if ((body.code === 200) !== (errcode === 0)) problems.push(`errcode ${errcode} does not fit code ${body.code}`);
    if (errcode === 1 && typeof body.message !== "string") problems.push("a failure must carry body.message");
    return { kind: "deviceRsp", mid, errcode, body, problems };
  }
  return { kind: "invalid", reason: `unknown msgType ${JSON.stringify(msg.msgType)}` };
}

export function cloudReq(mid: number, serviceId: string, cmd: string, paras: unknown): string {
  return JSON.stringify({ msgType: "cloudReq", serviceId, mid, cmd, paras });
}
