/** Alink signatures (alink.md section 4): sorted name+value content, HMAC rendered as hex. */
import { createHmac } from "node:crypto";

const HASH: Record<string, string> = { hmacmd5: "md5", hmacsha1: "sha1", hmacsha256: "sha256" };

export type ConnectSignMethod = "hmacmd5" | "hmacsha1" | "hmacsha256";

export function isSignMethod(method: string): boolean {
  return method.toLowerCase() in HASH;
}

/** Sorted name+value concatenation; excluded names are compared case-insensitively. */
export function signContent(params: Record<string, string | undefined>, exclude: readonly string[] = []): string {
  const ex = new Set(exclude.map((k) => k.toLowerCase()));
  return Object.keys(params)
    .filter((k) => !ex.has(k.toLowerCase()) && params[k] !== undefined)
    .sort()
    .map((k) => k + params[k])
    .join("");
}

/** method: hmacmd5 | hmacsha1 | hmacsha256 in any letter case (hmacSha256 works too). Lower-case hex. */
export function hmacHex(method: string, key: string, content: string): string {
  const alg = HASH[method.toLowerCase()];
  if (!alg) throw new Error(`unsupported sign method ${method}`);
  return createHmac(alg, Buffer.from(key, "utf8")).update(content, "utf8").digest("hex");
}

export interface ConnectIdentity {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

export interface ConnectFields {
  clientId: string;
  username: string;
  password: string;
}

/** Gateway MQTT CONNECT fields (alink.md section 1.5). securemode 2 = TLS, 3 = plain TCP. */
export function mqttConnectFields(o: ConnectIdentity & {
  clientId: string;
  timestamp: string;
  signMethod: ConnectSignMethod;
  tls: boolean;
}): ConnectFields {
  const content = signContent({ clientId: o.clientId, deviceName: o.deviceName, productKey: o.productKey, timestamp: o.timestamp });
  return {
    clientId: `${o.clientId}|securemode=${o.tls ? 2 : 3},signmethod=${o.signMethod},timestamp=${o.timestamp}|`,
    username: `${o.deviceName}&${o.productKey}`,
    password: hmacHex(o.signMethod, o.deviceSecret, content),
  };
}

/** Parses an MQTT client id `id|k=v,k=v|` (the emulator's side of the CONNECT). */
export function parseConnectClientId(mqttClientId: string): { clientId: string; ext: Record<string, string> } | null {
  const m = /^([^|]*)\|([^|]*)\|$/.exec(mqttClientId);
  if (!m) return null;
  const ext: Record<string, string> = {};
  for (const part of m[2]!.split(",")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) return null;
    ext[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { clientId: m[1]!, ext };
}

export interface SubDeviceIdentity {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

/** One params[] item for thing.topo.add (alink.md section 3.2); key = the sub-device's secret. */
export function topoAddItem(sub: SubDeviceIdentity, timestamp = String(Date.now()), signmethod = "hmacSha256") {
  const base = { productKey: sub.productKey, deviceName: sub.deviceName, clientId: `${sub.productKey}&${sub.deviceName}`, timestamp };
  return { ...base, signmethod, sign: hmacHex(signmethod, sub.deviceSecret, signContent(base)) };
}

/** params for combine/login (alink.md section 3.7); cleanSession is not signed. */
export function loginParams(sub: SubDeviceIdentity, timestamp = String(Date.now()), signMethod = "hmacSha256", cleanSession = "true") {
  const base = { productKey: sub.productKey, deviceName: sub.deviceName, clientId: `${sub.productKey}&${sub.deviceName}`, timestamp };
  return { ...base, signMethod, sign: hmacHex(signMethod, sub.deviceSecret, signContent(base)), cleanSession };
}

/** Verifies a signed item (topo add item or login params) the way the platform does. */
export function verifySubDeviceSign(item: Record<string, unknown>, secret: string): boolean {
  const method = String(item["signmethod"] ?? item["signMethod"] ?? "");
  const sign = item["sign"];
  if (typeof sign !== "string" || !isSignMethod(method)) return false;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(item)) if (typeof v === "string" || typeof v === "number") params[k] = String(v);
  const content = signContent(params, ["sign", "signmethod", "cleanSession"]);
  return hmacHex(method, secret, content) === sign.toLowerCase();
}
