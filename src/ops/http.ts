/** Local status endpoint (http.listen): GET /healthz, GET /status (JSON, no secrets), GET /metrics (Prometheus). */
import { createServer, type Server } from "node:http";
import type { Logger } from "pino";

export interface OpsHandlers {
  health(): { ok: boolean; reason?: string };
  status(): unknown;
  metrics(): string;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(listen.slice(i + 1)) };
}

export class OpsServer {
  private server: Server | undefined;

  constructor(private readonly listen: string, private readonly h: OpsHandlers, private readonly logger: Logger) {}

  async start(): Promise<void> {
    const { host, port } = parseListen(this.listen);
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      try {
        if (req.method !== "GET" && req.method !== "HEAD") {
          res.writeHead(405, { allow: "GET" }).end();
        } else if (path === "/healthz") {
          const hs = this.h.health();
          res.writeHead(hs.ok ? 200 : 503, { "content-type": "text/plain; charset=utf-8" }).end(hs.ok ? "ok\n" : `unhealthy: ${hs.reason ?? "unknown"}\n`);
        } else if (path === "/status") {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(this.h.status(), null, 2) + "\n");
        } else if (path === "/metrics") {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(this.h.metrics());
        } else {
          res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        }
      } catch (err) {
        this.logger.warn({ path, err: (err as Error).message }, "status endpoint error");
        if (!res.headersSent) res.writeHead(500).end();
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
    this.logger.info({ listen: this.listen }, "status endpoint listening");
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
