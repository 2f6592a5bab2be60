/** pino logger: JSON lines on stdout, secret fields redacted wherever they appear. */
import { pino, type Logger, type LevelWithSilent } from "pino";

/** Field names whose values are secrets, at any depth of a logged object. */
export const SECRET_KEYS = ["deviceSecret", "password", "passwordCipher", "secret", "sign", "productSecret", "iotToken", "token"];

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);
const SECRET_SET = new Set(SECRET_KEYS);

/**
 * The redaction paths reach four levels; a secret field nested deeper (a whole config section, a document) is
 * censored here. Returns the object itself when it holds none (the common case costs a walk, no copy).
 */
function censorDeep(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object" || depth > 32) return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => censorDeep(v, depth + 1));
    return out.some((v, i) => v !== value[i]) ? out : value;
  }
  // Errors, Buffers and other instances keep their own serializers.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const next = SECRET_SET.has(k) ? "[redacted]" : censorDeep(v, depth + 1);
    if (next !== v) (copy ??= { ...(value as Record<string, unknown>) })[k] = next;
  }
  return copy ?? value;
}

/** Sees every line after redaction (the status page keeps the last warnings and errors: ops/log-ring.ts). */
export interface LogTap {
  offer(line: string): void;
}

/** `tap`: sees every written line (already redacted). */
export function createLogger(level: LevelWithSilent = "info", destination?: NodeJS.WritableStream, tap?: LogTap): Logger {
  const out = destination ?? process.stdout;
  const stream = tap ? { write: (s: string) => (tap.offer(s), out.write(s)) } : out;
  return pino(
    {
      level,
      base: { name: "fieldbridge" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }), log: (obj) => censorDeep(obj, 0) as Record<string, unknown> },
    },
    stream as pino.DestinationStream,
  );
}

export type { Logger };
