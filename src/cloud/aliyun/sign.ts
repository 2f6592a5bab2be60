/** Alink signatures (alink.md section 4): sorted name+value content, HMAC rendered as hex. */
import { createHmac } from "node:crypto";

const HASH: Record<string, string> = { hmacmd5: "md5", hmacsha1: "sha1", hmacsha256: "sha256" };

export type ConnectSignMethod = "hmacmd5" | "hmacsha1" | "hmacsha256";

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
