/**
 * Loads node-opcua on first use. It costs about a second and tens of MB, so it is imported only when an
 * OPC UA channel starts; every other module of this driver imports its types only.
 */
import { format } from "node:util";
import type * as NodeOpcua from "node-opcua";
import type { Logger } from "pino";

export type Ua = typeof NodeOpcua;

let loading: Promise<Ua> | undefined;
/** Passwords of running channels (with a use count), scrubbed from node-opcua's log text before it reaches ours. */
const secrets = new Map<string, number>();

export function registerSecret(secret: string | undefined): () => void {
  if (!secret) return () => {};
  secrets.set(secret, (secrets.get(secret) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (secrets.get(secret) ?? 1) - 1;
    if (n > 0) secrets.set(secret, n);
    else secrets.delete(secret);
  };
}

function scrub(text: string): string {
  let out = text;
  for (const s of secrets.keys()) out = out.split(s).join("[redacted]");
  return out;
}

/**
 * node-opcua prints its warnings as coloured text on stdout, which would break the JSON-lines log.
 * They are routed into our logger at debug level: the driver logs every state change itself.
 */
function routeLibraryLogs(ua: Ua, logger: Logger): void {
  const log = logger.child({ component: "node-opcua" });
  const sink =
    (kind: string) =>
    (context?: unknown, ...args: unknown[]) => {
      if (!log.isLevelEnabled("debug")) return;
      const where = (context as { filename?: string } | undefined)?.filename;
      log.debug({ kind, src: where }, scrub(format(...args)).slice(0, 2000));
    };
  ua.setWarningLogger(sink("warning"));
  ua.setErrorLogger(sink("error"));
}

const LOG_LEVEL_ENV = "NODEOPCUA_LOG_LEVEL";
const LOG_LEVEL_ERROR = "3";

export function loadNodeOpcua(logger: Logger): Promise<Ua> {
  loading ??= (async () => {
    // node-opcua prints warnings while it loads, before its logger can be replaced; they are held back by
    // its log level (read once at load) unless the operator set one.
    const own = process.env[LOG_LEVEL_ENV] === undefined;
    if (own) process.env[LOG_LEVEL_ENV] = LOG_LEVEL_ERROR;
    try {
      const ua = await import("node-opcua");
      routeLibraryLogs(ua, logger);
      if (own) ua.setLogLevel(ua.LogLevel.Warning);
      return ua;
    } finally {
      if (own) delete process.env[LOG_LEVEL_ENV];
    }
  })();
  return loading;
}
