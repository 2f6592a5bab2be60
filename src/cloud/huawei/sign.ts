/**
 * Huawei device management (OceanConnect) device credentials (huawei.md section 2.2): the clientId
 * `{id}_{authType}_{signType}_{YYYYMMDDHH}`, the username `{id}` and the password
 * HMAC-SHA256(key = the 10-digit UTC hour stamp, message = the secret as text), hex or base64.
 * Also the platform's compact UTC time (eventTime) and the OPC UA password key of section 6.1.
 */
import { createHash, createHmac } from "node:crypto";

/** 0: access by deviceId; 2: access by nodeId (seed 003 §2.2). */
export type AuthType = 0 | 2;
export type SignType = 0 | 1;
export type PasswordEncoding = "hex" | "base64";

/** The UTC hour of `d` as `YYYYMMDDHH`, e.g. 2018-07-24T17:56:20Z → "2018072417". */
export function hourStamp(d: Date): string {
  return d.toISOString().slice(0, 13).replace(/[-T]/g, "");
}

export interface ConnectInput {
  /** The connection's MQTT identity: the deviceId (auth type 0) or the nodeId (auth type 2). */
  id: string;
  authType: AuthType;
  signType: SignType;
  secret: string;
  encoding: PasswordEncoding;
  now: Date;
}

export interface ConnectFields {
  clientId: string;
  username: string;
  password: string;
}

/** The password alone: the key is the hour stamp, the message the secret (never hex-decoded). */
export function password(stamp: string, secret: string, encoding: PasswordEncoding): string {
  return createHmac("sha256", Buffer.from(stamp, "utf8")).update(Buffer.from(secret, "utf8")).digest(encoding);
}

export function connectFields(i: ConnectInput): ConnectFields {
  const ts = hourStamp(i.now);
  return { clientId: `${i.id}_${i.authType}_${i.signType}_${ts}`, username: i.id, password: password(ts, i.secret, i.encoding) };
}

/** An epoch-ms sample time as the platform's `yyyyMMddTHHmmssZ`, floored to the second. */
export function compactUtc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * The secret string that encrypts OPC UA passwords of the document on this platform (section 6.1): a Huawei
 * secret (20 characters) is no AES key length, so K = the first 32 characters of the lowercase hex SHA-256 of
 * the gateway secret; AES-256-CBC with K as key and its first 16 characters as IV (the common rule).
 */
export function documentKey(gatewaySecret: string): string {
  return createHash("sha256").update(Buffer.from(gatewaySecret, "utf8")).digest("hex").slice(0, 32);
}
