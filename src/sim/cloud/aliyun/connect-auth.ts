/**
 * The platform's check of an MQTT CONNECT (alink.md sections 1.4, 1.5): client id extension, securemode
 * against the transport, username, HMAC password, device state and keepalive.
 *
 * CONNACK codes: 4 "bad username or password" for anything about the credentials (malformed client id or
 * username, unknown device, unsupported signmethod, wrong signature); 5 "not authorized" for a valid
 * identity that may not connect this way (securemode mismatch, keepalive outside 30..1200, a will
 * message, a disabled or deleted device).
 */
import { timingSafeEqual } from "node:crypto";
import { expectedSign as signOf, signAlgorithm, splitClientId } from "./wire.js";

export const KEEPALIVE_MIN = 30;
export const KEEPALIVE_MAX = 1200;
export const CLIENT_ID_MAX = 64;

export interface ConnectAttempt {
  mqttClientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  keepalive: number;
  tls: boolean;
  hasWill: boolean;
}

export interface ConnectDeviceLookup {
  (productKey: string, deviceName: string): { secret: string; disabled: boolean; deleted: boolean } | undefined;
}

export type ConnectVerdict =
  | { ok: true; productKey: string; deviceName: string }
  | { ok: false; returnCode: 4 | 5; reason: string; productKey?: string; deviceName?: string };

const bad = (reason: string, id?: { productKey: string; deviceName: string }): ConnectVerdict => ({ ok: false, returnCode: 4, reason, ...id });
const denied = (reason: string, id?: { productKey: string; deviceName: string }): ConnectVerdict => ({ ok: false, returnCode: 5, reason, ...id });

export function verifyConnect(a: ConnectAttempt, lookup: ConnectDeviceLookup): ConnectVerdict {
  const parsed = splitClientId(a.mqttClientId);
  if (!parsed) return bad("client id is not of the form id|k=v,…|");
  if (parsed.clientId.length === 0 || parsed.clientId.length > CLIENT_ID_MAX) return bad(`client id must have 1..${CLIENT_ID_MAX} characters`);

  const m = /^([^&]+)&([^&]+)$/.exec(a.username ?? "");
  if (!m) return bad("username is not deviceName&productKey");
  const id = { deviceName: m[1]!, productKey: m[2]! };

  const securemode = parsed.ext["securemode"];
  const expected = a.tls ? "2" : "3";
  if (securemode !== expected) {
    return denied(`securemode=${securemode ?? "(absent)"} does not match the ${a.tls ? "TLS" : "plain TCP"} transport (expected ${expected})`, id);
  }
  const signmethod = parsed.ext["signmethod"] ?? "hmacmd5";
  if (!signAlgorithm(signmethod)) return bad(`unsupported signmethod ${signmethod}`, id);

  const device = lookup(id.productKey, id.deviceName);
  if (!device) return bad(`device ${id.productKey}/${id.deviceName} does not exist`, id);
  if (!a.password || a.password.length === 0) return bad("password missing", id);

  const signed: Record<string, string> = { clientId: parsed.clientId, deviceName: id.deviceName, productKey: id.productKey };
  if (parsed.ext["timestamp"] !== undefined) signed["timestamp"] = parsed.ext["timestamp"];
  const expectedSign = Buffer.from(signOf(signmethod, device.secret, signed) ?? "", "utf8");
  const given = Buffer.from(a.password.toString("utf8").toLowerCase(), "utf8");
  if (given.length !== expectedSign.length || !timingSafeEqual(given, expectedSign)) return bad("signature mismatch", id);

  if (device.deleted) return denied("device deleted", id);
  if (device.disabled) return denied("device disabled", id);
  if (a.keepalive < KEEPALIVE_MIN || a.keepalive > KEEPALIVE_MAX) {
    return denied(`keepalive ${a.keepalive} s outside ${KEEPALIVE_MIN}..${KEEPALIVE_MAX}`, id);
  }
  if (a.hasWill) return denied("will messages are not supported", id);
  return { ok: true, ...id };
}
