/** A real fieldbridge logger (`createLogger`) whose JSON lines are kept in memory for assertions. */
import { Writable } from "node:stream";
import type { LevelWithSilent } from "pino";
import { createLogger, type Logger } from "../../src/ops/logger.js";

export type LogLine = Record<string, unknown>;

export interface LogCapture {
  logger: Logger;
  /** Everything written so far, exactly as written. */
  text(): string;
  /**
   * The lines written so far, parsed. Always the same array, filled as the logger writes, so a reference
   * taken before the code under test runs sees the lines it logs later.
   */
  lines(): LogLine[];
  /** The same lines unparsed (no trailing newline); live like `lines()`. */
  rawLines(): string[];
  /** The first line whose `msg` equals `match`, or for which `match` returns true. */
  find(match: string | ((line: LogLine) => boolean)): LogLine | undefined;
}

export function captureLogger(level: LevelWithSilent = "debug"): LogCapture {
  let text = "";
  let partial = "";
  const lines: LogLine[] = [];
  const rawLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      text += s;
      // pino writes whole lines; still, a line split over chunks is parsed once it is complete.
      const parts = (partial + s).split("\n");
      partial = parts.pop()!;
      for (const l of parts) {
        if (!l.trim()) continue;
        rawLines.push(l);
        lines.push(JSON.parse(l) as LogLine);
      }
      cb();
    },
  });
  return {
    logger: createLogger(level, sink),
    text: () => text,
    lines: () => lines,
    rawLines: () => rawLines,
    find: (match) => lines.find(typeof match === "string" ? (l) => l["msg"] === match : match),
  };
}
