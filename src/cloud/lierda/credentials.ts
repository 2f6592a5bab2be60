/**
 * Lierda X-platform credentials (lierda.md §3.3, §3.4): the auth connection's plain ProductKey and the device
 * connection's AES-128-ECB password. Keys are hex-decoded; a key that is not exactly 32 hex characters is an
 * error (Buffer.from(hex) would silently truncate it). Errors never contain a key or a secret.
 */
import { createCipheriv } from "node:crypto";

export type AuthType = 0 | 1 | 2;
export type ConnectType = 0 | 1;

const HEX32 = /^[0-9A-Fa-f]{32}$/;

export function isHex32(s: unknown): s is string {
  return typeof s === "string" && HEX32.test(s);
}

/** HEXUPPER(AES-128-ECB-PKCS5Padding(key = hexdecode(keyHex), data = utf8(text))). */
export function aesEcbHexUpper(keyHex: string, text: string): string {
  if (!isHex32(keyHex)) throw new Error("AES key must be 32 hex characters");
  const cipher = createCipheriv("aes-128-ecb", Buffer.from(keyHex, "hex"), null);
  return Buffer.concat([cipher.update(text, "utf8"), cipher.final()]).toString("hex").toUpperCase();
}

export interface DeviceIdentity {
  openId: string;
  productId: string;
  nodeEui: string;
}

export interface MqttCredentials {
  clientId: string;
  username: string;
  password: string;
}

/** The auth connection (§3.3): clientId `${ProductID}-${NodeEui}`, username `AUTH-${OpenID}-${ProductID}`, password the ProductKey. */
export function authCredentials(id: DeviceIdentity, productKey: string): MqttCredentials {
  return { clientId: `${id.productId}-${id.nodeEui}`, username: `AUTH-${id.openId}-${id.productId}`, password: productKey };
}

/** The content encrypted into the device password: type 0 without, type 1 with the timestamp (seconds). */
export function passwordContent(id: DeviceIdentity, productKey: string, type: ConnectType, timestampS: number): string {
  const base = `${id.productId}.${id.nodeEui}_${productKey}`;
  return type === 1 ? `${base}_${timestampS}` : base;
}

/** The device connection (§3.4). */
export function deviceCredentials(
  id: DeviceIdentity,
  productKey: string,
  deviceSecret: string,
  type: ConnectType,
  timestampS: number,
): MqttCredentials {
  return {
    clientId: `V2_${id.productId}.${id.nodeEui}_${type}_${timestampS}`,
    username: `${id.openId}-${id.productId}-${id.nodeEui}`,
    password: aesEcbHexUpper(deviceSecret, passwordContent(id, productKey, type, timestampS)),
  };
}

/**
 * The Timestamp of a type-1 connect (§3.4): never the second of the last disconnect, so the platform's
 * "greater than the last offline time" check holds; `offsetMs` is the measured clock offset when above 2 s.
 */
export function connectTimestamp(nowMs: number, lastDisconnectS: number | undefined, offsetMs = 0): number {
  const now = Math.floor((nowMs + (Math.abs(offsetMs) > 2000 ? offsetMs : 0)) / 1000);
  return lastDisconnectS === undefined ? now : Math.max(now, lastDisconnectS + 1);
}
