/** The platform's checks of `report` and `event_post` (tencent.md 3.3, 3.5, 10.1). */
import type { Accepted } from "./types.js";

type Json = Record<string, unknown>;
const DAY_S = 24 * 3600;

/** Code 0 with the accepted values, or the platform's refusal code. */
export function checkUplink(pair: string, body: Json, identifiers: Set<string> | undefined, nowMs: number): { code: number; values: Accepted[]; reason?: string } {
  const fail = (code: number, reason: string) => ({ code, values: [], reason });
  if (typeof body.clientToken !== "string" || body.clientToken === "") return fail(400, "clientToken missing");
  const ts = body.timestamp;
  if (typeof ts !== "number" || !Number.isInteger(ts)) return fail(400, "timestamp is not an integer");
  // Seconds on the wire; a 13-digit value is taken as milliseconds (products configured for it).
  const timeMs = ts > 1e11 ? ts : ts * 1000;
  if (Math.abs(nowMs - timeMs) > DAY_S * 1000) return fail(405, "timestamp more than 24 h away");
  const params = body.params;
  if (typeof params !== "object" || params === null || Array.isArray(params)) return fail(400, "params is not an object");
  const event = body.method === "event_post";
  if (event) {
    if (typeof body.eventId !== "string" || !["info", "alert", "fault"].includes(String(body.type)) || body.version !== "1.0") return fail(400, "bad event envelope");
    if (identifiers && !identifiers.has(body.eventId)) return fail(403, `unknown event ${body.eventId}`);
    return { code: 0, values: [{ device: pair, kind: "event", identifier: body.eventId, value: params, timestamp: ts, time: timeMs }] };
  }
  const keys = Object.keys(params);
  if (keys.length === 0) return fail(406, "params is empty");
  const values: Accepted[] = [];
  for (const k of keys) {
    if (identifiers && !identifiers.has(k)) return fail(403, `unknown identifier ${k}`);
    const v = (params as Json)[k];
    if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) return fail(406, `${k}: bad value`);
    values.push({ device: pair, kind: "property", identifier: k, value: v, timestamp: ts, time: timeMs });
  }
  return { code: 0, values };
}
