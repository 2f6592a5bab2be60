/**
 * Tencent IoT Explorer signing (tencent.md 2.2 and 4.3). The CONNECT password is keyed with the base64-DECODED
 * device key; the bind signature with the key TEXT (as the official SDKs do). Mixing the two is the classic
 * mistake, so both live here side by side with their vectors in the tests.
 */
import { createHmac, randomInt } from "node:crypto";

export type TencentSignMethod = "hmacsha256" | "hmacsha1";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** The largest expiry: a signed 32-bit integer (the seed's C# sample uses it). */
export const MAX_EXPIRY = 2147483647;

export interface ConnectInput {
  productId: string;
  deviceName: string;
  /** The device key (PSK) as base64 text. */
  psk: string;
  sdkAppId: string;
  method: TencentSignMethod;
  expirySeconds: number;
  nowS?: number;
  connid?: string;
}

export interface ConnectFields {
  clientId: string;
  username: string;
  password: string;
}

const hash = (m: TencentSignMethod) => (m === "hmacsha1" ? "sha1" : "sha256");

export function randomConnid(): string {
  let s = "";
  for (let i = 0; i < 5; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

/** ClientId, UserName and PassWord of one CONNECT attempt (new connid and expiry every time). */
export function connectFields(i: ConnectInput): ConnectFields {
  const nowS = i.nowS ?? Math.floor(Date.now() / 1000);
  const connid = i.connid ?? randomConnid();
  const expiry = Math.min(nowS + i.expirySeconds, MAX_EXPIRY);
  const clientId = `${i.productId}${i.deviceName}`;
  const username = `${clientId};${i.sdkAppId};${connid};${expiry}`;
  const rawKey = Buffer.from(i.psk, "base64");
  if (rawKey.length === 0) throw new Error("device key is not base64");
  const token = createHmac(hash(i.method), rawKey).update(username, "utf8").digest("hex");
  return { clientId, username, password: `${token};${i.method}` };
}

export interface BindEntry {
  product_id: string;
  device_name: string;
  signature: string;
  random: number;
  timestamp: number;
  signmethod: TencentSignMethod;
  authtype: "psk";
}

/** base64 HMAC of `{pid}{dn};{random};{timestamp}` keyed with the PSK text. */
export function bindSignature(productId: string, deviceName: string, psk: string, random: number, timestamp: number, method: TencentSignMethod): string {
  const text = `${productId}${deviceName};${random};${timestamp}`;
  return createHmac(hash(method), Buffer.from(psk, "utf8")).update(text, "utf8").digest("base64");
}

export function bindEntry(productId: string, deviceName: string, psk: string, method: TencentSignMethod, nowS = Math.floor(Date.now() / 1000), random = randomInt(2147483647)): BindEntry {
  return {
    product_id: productId,
    device_name: deviceName,
    signature: bindSignature(productId, deviceName, psk, random, nowS, method),
    random,
    timestamp: nowS,
    signmethod: method,
    authtype: "psk",
  };
}
