/**
 * The emulator's own reading of the Alink wire format (alink.md sections 1, 2 and 4), written from the spec and
 * independent of the client's topic builder and signing: a mistake in the client must not pass here too.
 */
import { createHmac } from "node:crypto";

export interface Identity {
  productKey: string;
  deviceName: string;
}

const SYS = (d: Identity) => `/sys/${d.productKey}/${d.deviceName}`;

/** Downlink and notice topics the platform publishes to (alink.md section 2). */
export const wire = {
  configPush: (gw: Identity) => `${SYS(gw)}/thing/model/config/push`,
  remoteConfigPush: (d: Identity) => `${SYS(d)}/thing/config/push`,
  propertySet: (d: Identity) => `${SYS(d)}/thing/service/property/set`,
  propertyGet: (d: Identity) => `${SYS(d)}/thing/service/property/get`,
  service: (d: Identity, identifier: string) => `${SYS(d)}/thing/service/${identifier}`,
  rrpcRequest: (d: Identity, messageId: string) => `${SYS(d)}/rrpc/request/${messageId}`,
  rrpcResponse: (d: Identity, messageId: string) => `${SYS(d)}/rrpc/response/${messageId}`,
  lifecycle: (d: Identity, what: "disable" | "enable" | "delete") => `${SYS(d)}/thing/${what}`,
  topoAddNotify: (gw: Identity) => `${SYS(gw)}/thing/topo/add/notify`,
  extError: (gw: Identity) => `/ext/error/${gw.productKey}/${gw.deviceName}`,
  logoutReply: (gw: Identity) => `/ext/session/${gw.productKey}/${gw.deviceName}/combine/logout_reply`,
  otaUpgrade: (d: Identity) => `/ota/device/upgrade/${d.productKey}/${d.deviceName}`,
  otaRequest: (d: Identity) => `/ota/device/request/${d.productKey}/${d.deviceName}`,
} as const;

/** A request's reply goes to the request topic + `_reply` (alink.md 0.4). */
export const replyOf = (topic: string): string => `${topic}_reply`;

const ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ["hmacmd5", "md5"],
  ["hmacsha1", "sha1"],
  ["hmacsha256", "sha256"],
]);

/** The platform accepts the method name in any letter case (hmacSha256 in sub-device items). */
export function signAlgorithm(method: unknown): string | undefined {
  return typeof method === "string" ? ALGORITHMS.get(method.toLowerCase()) : undefined;
}

/** HMAC over the parameters named in the spec, sorted by name, each written as name + value (alink.md 4.1). */
export function expectedSign(method: string, secret: string, params: Record<string, string>): string | undefined {
  const alg = signAlgorithm(method);
  if (!alg) return undefined;
  const names = Object.keys(params).sort();
  let content = "";
  for (const n of names) content += n + params[n];
  return createHmac(alg, secret).update(content).digest("hex");
}

/**
 * A topo add item or login params: signed over productKey, deviceName, clientId, timestamp and whatever else the
 * device sent, except sign, signmethod/signMethod and cleanSession; the hex may be in any case.
 */
export function signedItemValid(item: Record<string, unknown>, secret: string): boolean {
  const method = item["signmethod"] ?? item["signMethod"];
  const sign = item["sign"];
  if (typeof sign !== "string" || typeof method !== "string") return false;
  const signed: Record<string, string> = {};
  for (const [k, v] of Object.entries(item)) {
    const lower = k.toLowerCase();
    if (lower === "sign" || lower === "signmethod" || lower === "cleansession") continue;
    if (typeof v === "string" || typeof v === "number") signed[k] = String(v);
  }
  const want = expectedSign(method, secret, signed);
  return want !== undefined && want === sign.toLowerCase();
}

/** `clientId|k=v,k=v|` → its parts; null when it is not of that form. */
export function splitClientId(mqttClientId: string): { clientId: string; ext: Record<string, string> } | null {
  const open = mqttClientId.indexOf("|");
  if (open < 0 || !mqttClientId.endsWith("|") || open === mqttClientId.length - 1) return null;
  const inner = mqttClientId.slice(open + 1, -1);
  if (inner.includes("|")) return null;
  const ext: Record<string, string> = {};
  for (const pair of inner.split(",")) {
    if (pair === "") continue;
    const [k, ...rest] = pair.split("=");
    if (!k || rest.length === 0) return null;
    ext[k] = rest.join("=");
  }
  return { clientId: mqttClientId.slice(0, open), ext };
}
