/**
 * The emulator's own reading of tencent.md: CONNECT verification (2.2, 2.4), bind signatures (4.3) and topic
 * scopes (3.1). Written from the spec, independent of the client code, so one shared mistake cannot pass both.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type Verdict = { ok: true } | { ok: false; code: number; reason: string };

export interface ConnectAttempt {
  clientId: string;
  username: string | undefined;
  password: string | undefined;
  keepalive: number;
}

const eq = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** CONNACK codes of the reference emulator: 2 unknown ClientId, 4 bad credentials, 5 keepalive or a sub-device. */
export function checkConnect(a: ConnectAttempt, gw: { productId: string; deviceName: string; psk: string; sdkAppId: string }, isSubDevice: (clientId: string) => boolean, nowS: number): Verdict {
  if (isSubDevice(a.clientId)) return { ok: false, code: 5, reason: "a sub-device has no connection of its own" };
  if (a.clientId !== `${gw.productId}${gw.deviceName}`) return { ok: false, code: 2, reason: "unknown ClientId" };
  if (a.keepalive < 30 || a.keepalive > 900) return { ok: false, code: 5, reason: `keepalive ${a.keepalive} outside 30..900` };
  const parts = (a.username ?? "").split(";");
  if (parts.length !== 4 || parts[0] !== a.clientId || !/^[A-Za-z0-9]{5}$/.test(parts[2]!) || !/^\d+$/.test(parts[3]!)) {
    return { ok: false, code: 4, reason: "malformed UserName" };
  }
  if (parts[1] !== gw.sdkAppId) return { ok: false, code: 4, reason: "wrong sdkappid" };
  if (Number(parts[3]) < nowS) return { ok: false, code: 4, reason: "expiry in the past" };
  const m = /^([0-9a-f]+);(hmacsha256|hmacsha1)$/.exec(a.password ?? "");
  if (!m) return { ok: false, code: 4, reason: "malformed PassWord" };
  const alg = m[2] === "hmacsha1" ? "sha1" : "sha256";
  const want = createHmac(alg, Buffer.from(gw.psk, "base64")).update(a.username!, "utf8").digest("hex");
  if (!eq(want, m[1]!)) return { ok: false, code: 4, reason: "wrong token" };
  return { ok: true };
}

/** 0, or the bind result code (803 bad signature, 804 method, 805 expired). */
export function checkBind(e: Record<string, unknown>, psk: string, nowS: number): number {
  if (typeof e.random !== "number" || typeof e.timestamp !== "number" || typeof e.signature !== "string" || e.authtype !== "psk") return 801;
  if (e.signmethod !== "hmacsha256" && e.signmethod !== "hmacsha1") return 804;
  if (Math.abs(nowS - e.timestamp) > 600) return 805;
  const text = `${String(e.product_id)}${String(e.device_name)};${e.random};${e.timestamp}`;
  const want = createHmac(e.signmethod === "hmacsha1" ? "sha1" : "sha256", Buffer.from(psk, "utf8")).update(text, "utf8").digest("base64");
  return eq(want, e.signature) ? 0 : 803;
}

/** `{dir, kind, pair}` of a `$thing/…` topic, `{kind: "op"|"opResult"|"otaReport"|"otaUpdate", pair}` of the others. */
export function scopeOf(topic: string): { kind: string; pair: string } | undefined {
  let m = /^\$thing\/(up|down)\/(property|event|action|service)\/([A-Z0-9]{10}\/[^/+#]+)$/.exec(topic);
  if (m) return { kind: `${m[1]}/${m[2]}`, pair: m[3]! };
  m = /^\$gateway\/operation\/(result\/)?([^/]+\/[^/+#]+)$/.exec(topic);
  if (m) return { kind: m[1] ? "opResult" : "op", pair: m[2]! };
  m = /^\$ota\/(report|update)\/([^/]+\/[^/+#]+)$/.exec(topic);
  if (m) return { kind: m[1] === "report" ? "otaReport" : "otaUpdate", pair: m[2]! };
  return undefined;
}

export const SUB_DOWN = ["down/property", "down/event", "down/action", "down/service"];
export const SUB_UP = ["up/property", "up/event", "up/action"];
