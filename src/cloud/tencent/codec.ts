/**
 * Uplink encoding (tencent.md 3.3, 3.5, 6.2, 6.3): one `timestamp` per `report`, so the samples of a record are
 * grouped by their timestamp, an identifier at most once per message, at most 16 KiB per message. Values are
 * written by their TSL type (float keeps its decimal point). The clientToken is added when a message is
 * published, so a re-send gets a new one with the same timestamp and values.
 */
import { encoderFor } from "../../things/json.js";
import type { TslDocument } from "../../things/tsl-types.js";
import type { EventRecord, PropertiesRecord } from "../platform.js";

export const MAX_PUBLISH_BYTES = 16 * 1024;
export type TimestampUnit = "s" | "ms";

/** Sample time (epoch ms) as the wire timestamp: Unix seconds floored, or milliseconds. */
export function wireTimestamp(timeMs: number, unit: TimestampUnit): number {
  return unit === "ms" ? Math.trunc(timeMs) : Math.floor(timeMs / 1000);
}

/** A message without its clientToken: `render(token)` gives the payload. */
export interface PendingMessage {
  method: "report" | "event_post";
  timestamp: number;
  render(token: string): string;
}

function propertyTypes(tsl: TslDocument | undefined): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const p of tsl?.properties ?? []) if (p && typeof p.identifier === "string") m.set(p.identifier, p.dataType);
  return m;
}

const REPORT_OVERHEAD = '{"method":"report","clientToken":"","timestamp":,"params":{}}'.length + 64 + 20;

/** The `report` messages of one properties record, in sample order. */
export function encodeProperties(rec: PropertiesRecord, tsl: TslDocument | undefined, unit: TimestampUnit): PendingMessage[] {
  const types = propertyTypes(tsl);
  const samples = [...rec.values].sort((a, b) => a.time - b.time);
  const out: Array<{ ts: number; members: string[]; ids: Set<string>; bytes: number }> = [];
  let cur: (typeof out)[number] | undefined;
  for (const s of samples) {
    const ts = wireTimestamp(s.time, unit);
    const member = `${JSON.stringify(s.identifier)}:${encoderFor(types.get(s.identifier) as never)(s.value)}`;
    const size = Buffer.byteLength(member) + 1;
    if (!cur || cur.ts !== ts || cur.ids.has(s.identifier) || cur.bytes + size > MAX_PUBLISH_BYTES) {
      cur = { ts, members: [], ids: new Set(), bytes: REPORT_OVERHEAD };
      out.push(cur);
    }
    cur.members.push(member);
    cur.ids.add(s.identifier);
    cur.bytes += size;
  }
  return out.map((g) => ({
    method: "report" as const,
    timestamp: g.ts,
    render: (token: string) =>
      `{"method":"report","clientToken":${JSON.stringify(token)},"timestamp":${g.ts},"params":{${g.members.join(",")}}}`,
  }));
}

const EVENT_TYPES: Record<string, string> = { info: "info", alert: "alert", error: "fault" };

/** The `event_post` of one event record; undefined when the TSL lacks the event. */
export function encodeEvent(rec: EventRecord, tsl: TslDocument | undefined, unit: TimestampUnit): PendingMessage | undefined {
  const ev = tsl?.events?.find((e) => e.identifier === rec.identifier);
  if (!ev) return undefined;
  const types = new Map<string, unknown>();
  for (const o of ev.outputData ?? []) types.set(o.identifier, o.dataType);
  const members = Object.entries(rec.outputs).map(([k, v]) => `${JSON.stringify(k)}:${encoderFor(types.get(k) as never)(v)}`);
  const ts = wireTimestamp(rec.time, unit);
  const type = EVENT_TYPES[ev.type ?? "info"] ?? "info";
  return {
    method: "event_post",
    timestamp: ts,
    render: (token) =>
      `{"method":"event_post","clientToken":${JSON.stringify(token)},"version":"1.0","eventId":${JSON.stringify(rec.identifier)},` +
      `"type":"${type}","timestamp":${ts},"params":{${members.join(",")}}}`,
  };
}

/** `fb-{r}-{n}` tokens (3.2): r chosen at each start, n counting. */
export class TokenSource {
  private n = 0;
  constructor(private readonly r: string) {}
  next(): string {
    return `fb-${this.r}-${++this.n}`;
  }
}

/** What the gateway does with a thing-model reply code (10.1). */
export function replyVerdict(code: unknown): { result: "ok" } | { result: "retry" | "reject"; reason: string } {
  if (code === 0) return { result: "ok" };
  if (code === 405) return { result: "reject", reason: "expired: 405 timestamp outside the platform's window (check the clock)" };
  if (code === 400 || code === 403 || code === 406) return { result: "reject", reason: `refused with code ${code}` };
  return { result: "retry", reason: `code ${String(code)}` };
}
