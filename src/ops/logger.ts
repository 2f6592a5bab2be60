/** pino logger: JSON lines on stdout, secret fields redacted wherever they appear. */
import { pino, type Logger, type LevelWithSilent } from "pino";

/** Field names whose values are secrets, at any depth of a logged object. */
export const SECRET_KEYS = ["deviceSecret", "password", "passwordCipher", "secret", "sign", "productSecret", "iotToken"];

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function createLogger(level: LevelWithSilent = "info", destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { name: "fieldbridge" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    (destination ?? process.stdout) as pino.DestinationStream,
  );
}

export type { Logger };
