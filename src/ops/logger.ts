/** pino logger: JSON lines on stdout, secret fields redacted wherever they appear. */
import { pino, type Logger, type LevelWithSilent } from "pino";

/** Field names whose values are secrets, at any depth of a logged object. */
export const SECRET_KEYS = ["deviceSecret", "password", "passwordCipher", "secret", "sign", "productSecret", "iotToken", "token"];

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

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
      formatters: { level: (label) => ({ level: label }) },
    },
    stream as pino.DestinationStream,
  );
}

export type { Logger };
