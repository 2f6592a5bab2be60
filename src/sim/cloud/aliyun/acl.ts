/**
 * Topic access rules of the platform as seen by one connected gateway (alink.md sections 1.4, 2, 2.1):
 * a client publishes and subscribes under its own identity or under sub-devices that hold a session on
 * its connection. Identity levels must be literal; wildcards are allowed only below a device's prefix.
 * Publishing under a sub-device without a session is allowed at the MQTT level: the platform answers it
 * on `/ext/error` with 520 instead.
 */

export type TopicKind = "sys" | "session" | "error" | "ota" | "icsys";

export interface TopicScope {
  kind: TopicKind;
  productKey: string;
  deviceName: string;
  /** The levels after the identity, joined with "/" ("" when none). For `ota`: the operation. */
  rest: string;
}

/** Classifies a topic or filter by the identity it names; null when it is outside the platform's namespaces. */
export function topicScope(topic: string): TopicScope | null {
  const parts = topic.split("/");
  if (parts[0] !== "") return null;
  switch (parts[1]) {
    case "sys":
    case "icsys":
      if (parts.length < 5) return null;
      return { kind: parts[1], productKey: parts[2]!, deviceName: parts[3]!, rest: parts.slice(4).join("/") };
    case "ext":
      if (parts[2] === "session" && parts.length >= 6) {
        return { kind: "session", productKey: parts[3]!, deviceName: parts[4]!, rest: parts.slice(5).join("/") };
      }
      if (parts[2] === "error" && parts.length === 5) return { kind: "error", productKey: parts[3]!, deviceName: parts[4]!, rest: "" };
      return null;
    case "ota":
      if (parts[2] === "device" && parts.length === 6) return { kind: "ota", productKey: parts[4]!, deviceName: parts[5]!, rest: parts[3]! };
      return null;
    default:
      return null;
  }
}

const isLiteral = (level: string) => level.length > 0 && level !== "+" && level !== "#";

export interface AclSubject {
  /** `pk/dn` of the connected device. */
  ownKey: string;
  /** Whether the sub-device `pk/dn` has a session on this connection. */
  hasSession(key: string): boolean;
}

export type AclVerdict = { ok: true; scope: TopicScope } | { ok: false; reason: string };

function owner(scope: TopicScope, s: AclSubject): "own" | "session" | "other" {
  const key = `${scope.productKey}/${scope.deviceName}`;
  if (key === s.ownKey) return "own";
  return s.hasSession(key) ? "session" : "other";
}

export function mayPublish(topic: string, s: AclSubject): AclVerdict {
  const scope = topicScope(topic);
  if (!scope) return { ok: false, reason: `topic ${topic} is outside the platform's namespaces` };
  const who = owner(scope, s);
  switch (scope.kind) {
    case "sys":
      return { ok: true, scope };
    case "session":
      if (who !== "own") return { ok: false, reason: "session topics carry the gateway's own identity" };
      if (scope.rest !== "combine/login" && scope.rest !== "combine/logout") return { ok: false, reason: `no such session topic ${topic}` };
      return { ok: true, scope };
    case "ota":
      if (!["inform", "progress", "request"].includes(scope.rest)) return { ok: false, reason: `devices do not publish on ${topic}` };
      return who === "other" ? { ok: false, reason: `no session for ${scope.productKey}/${scope.deviceName}` } : { ok: true, scope };
    case "icsys":
      return who === "own" ? { ok: true, scope } : { ok: false, reason: "icsys topics carry the gateway's own identity" };
    case "error":
      return { ok: false, reason: "devices do not publish on /ext/error" };
  }
}

export function maySubscribe(filter: string, s: AclSubject): AclVerdict {
  const scope = topicScope(filter);
  if (!scope) return { ok: false, reason: `filter ${filter} is outside the platform's namespaces` };
  if (!isLiteral(scope.productKey) || !isLiteral(scope.deviceName)) {
    return { ok: false, reason: "wildcards are not allowed at the productKey/deviceName level" };
  }
  const who = owner(scope, s);
  switch (scope.kind) {
    case "sys":
    case "ota":
      if (who === "other") return { ok: false, reason: `${scope.productKey}/${scope.deviceName} is neither this device nor a sub-device with a session` };
      return { ok: true, scope };
    case "session":
    case "error":
      return who === "own" ? { ok: true, scope } : { ok: false, reason: "only the gateway's own session and error topics" };
    case "icsys":
      return { ok: false, reason: "icsys is not a subscribable namespace" };
  }
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
