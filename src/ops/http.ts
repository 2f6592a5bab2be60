/** Local status endpoint (http.listen): GET /healthz, GET /status (JSON, no secrets), GET /metrics (Prometheus). */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { parseHostPort } from "../config/host-port.js";

export interface OpsHandlers {
  health(): { ok: boolean; reason?: string };
  status(): unknown;
  metrics(): string;
}

/**
 * `host:port`, `[v6]:port`: the same rules as the bootstrap check of http.listen (src/config/host-port.ts),
 * except that port 0 (an ephemeral port, read back through `port`) is allowed here.
 */
export function parseListen(listen: string): { host: string; port: number } {
  const r = parseHostPort(listen, { minPort: 0 });
  if ("error" in r) throw new Error(`http.listen: ${r.error}`);
  return r;
}

function send(res: ServerResponse, code: number, type: string, body: string, extra: Record<string, string> = {}): void {
  // Scrapers and load balancers must always see the current state.
  res.writeHead(code, { "content-type": type, "cache-control": "no-store", ...extra }).end(body);
}

export class OpsServer {
  private server: Server | undefined;
  /** The last handler error logged per path: a scraper hitting the same failure every few seconds logs it once. */
  private readonly lastError = new Map<string, string>();

  constructor(private readonly listen: string, private readonly h: OpsHandlers, private readonly logger: Logger) {}

  async start(): Promise<void> {
    const { host, port } = parseListen(this.listen);
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      try {
        if (req.method !== "GET" && req.method !== "HEAD") {
          send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
        } else if (path === "/healthz") {
          const hs = this.h.health();
          send(res, hs.ok ? 200 : 503, "text/plain; charset=utf-8", hs.ok ? "ok\n" : `unhealthy: ${hs.reason ?? "unknown"}\n`);
        } else if (path === "/status") {
          send(res, 200, "application/json; charset=utf-8", JSON.stringify(this.h.status(), null, 2) + "\n");
        } else if (path === "/metrics") {
          send(res, 200, "text/plain; version=0.0.4; charset=utf-8", this.h.metrics());
        } else {
          send(res, 404, "text/plain; charset=utf-8", "not found: try /healthz, /status or /metrics\n");
        }
        this.lastError.delete(path);
      } catch (err) {
        const message = (err as Error).message;
        if (this.lastError.get(path) !== message) this.logger.warn({ path, err: message }, "status endpoint error");
        this.lastError.set(path, message);
        if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
        else res.destroy();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.info({ listen: this.listen, port: this.port }, "status endpoint listening");
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    // Keep-alive connections of scrapers would hold close() open.
    s.closeAllConnections();
    await closed;
  }
}
