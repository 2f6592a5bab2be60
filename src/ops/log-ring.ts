/**
 * The last log records at warn or above, for the status page. It taps the logger's output: what it keeps is the
 * line pino already wrote with its secret fields redacted; it censors the same field names once more at any depth
 * (pino's redaction paths reach four levels), so a record nested deeper cannot bring a secret onto the page.
 */
import { Ring } from "./history.js";
import { SECRET_KEYS, type LogTap } from "./logger.js";

export interface LogRecord {
  time: string;
  level: "warn" | "error" | "fatal";
  msg: string;
  /** The record's other fields (component, err, device, …), secrets censored. */
  fields: Record<string, unknown>;
}

const KEPT = new Set(["warn", "error", "fatal"]);
const SECRET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));
const OMIT = new Set(["time", "level", "msg", "name", "pid", "hostname"]);

function censor(value: unknown, depth: number): unknown {
  if (depth > 12) return "[…]";
  if (Array.isArray(value)) return value.map((v) => censor(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET.has(k.toLowerCase()) ? "[redacted]" : censor(v, depth + 1);
    return out;
  }
  return value;
}

export class LogRing implements LogTap {
  private readonly ring: Ring<LogRecord>;

  constructor(capacity = 50) {
    this.ring = new Ring(capacity);
  }

  /** One or more JSON lines as the logger wrote them; lines below warn are ignored cheaply. */
  offer(chunk: string): void {
    if (!chunk.includes('"level":"warn"') && !chunk.includes('"level":"error"') && !chunk.includes('"level":"fatal"')) return;
    for (const line of chunk.split("\n")) {
      if (!line.trim()) continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const level = rec["level"];
      if (typeof level !== "string" || !KEPT.has(level)) continue;
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rec)) if (!OMIT.has(k)) fields[k] = v;
      this.ring.push({
        time: typeof rec["time"] === "string" ? rec["time"] : new Date().toISOString(),
        level: level as LogRecord["level"],
        msg: typeof rec["msg"] === "string" ? rec["msg"] : "",
        fields: censor(fields, 0) as Record<string, unknown>,
      });
    }
  }

  /** Newest first. */
  records(): LogRecord[] {
    return this.ring.toArray().reverse();
  }
}
