/**
 * Local status endpoint (http.listen): GET /healthz, GET /status (JSON, no secrets), GET /metrics (Prometheus),
 * and, when a view is given, the status page: GET / (with /page.js, /page.css), GET /api/view (one picture, JSON)
 * and GET /events (the same picture every second as server-sent events). With a token every request but the login
 * form and its stylesheet must carry it (see ops/access.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { TokenBucket } from "../core/token-bucket.js";
import { authorised, CLEARED_COOKIE, loginPage, sameSecret, sessionCookie } from "./access.js";
import { parseViewQuery, type ViewQuery } from "./status-view.js";
import { parseHostPort } from "../config/host-port.js";

export interface OpsHandlers {
  health(): { ok: boolean; reason?: string };
  status(): unknown;
  metrics(): string;
  /**
   * The status page's picture for one device filter and page; without it the page is not served. `shared`: for an
   * event stream, where a picture a fraction of a second old may be reused across open pages.
   */
  view?(q: ViewQuery, shared?: boolean): unknown;
}

export interface OpsOptions {
  /** http.token: required on every request when set. */
  token?: string;
  /** How often /events sends the picture (default 1 s). */
  eventIntervalMs?: number;
  /** Open /events streams at most (each costs a picture per interval). */
  maxEventStreams?: number;
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

const TEXT = "text/plain; charset=utf-8";
const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";
/** The page loads nothing from elsewhere and runs no inline code. */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function send(res: ServerResponse, code: number, type: string, body: string, extra: Record<string, string> = {}): void {
  // Scrapers and load balancers must always see the current state.
  res.writeHead(code, { "content-type": type, "cache-control": "no-store", ...extra }).end(body);
}

/** The page's files, read once from src/ops/page (dist/ops/page once built). */
const ASSETS: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: HTML },
  "/page.js": { file: "page.js", type: "text/javascript; charset=utf-8" },
  "/page.css": { file: "page.css", type: "text/css; charset=utf-8" },
};
const assetCache = new Map<string, string>();
function asset(name: string): string {
  let body = assetCache.get(name);
  if (body === undefined) {
    body = readFileSync(new URL(`./page/${name}`, import.meta.url), "utf8");
    assetCache.set(name, body);
  }
  return body;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
      if (body.length > limit) {
        reject(new Error("request body too large"));
        req.destroy();
      }
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

export class OpsServer {
  private server: Server | undefined;
  /** The last handler error logged per path: a scraper hitting the same failure every few seconds logs it once. */
  private readonly lastError = new Map<string, string>();
  private readonly streams = new Set<ServerResponse>();
  /** Wrong tokens at the login form: a few at once, then one per second. */
  private readonly loginFailures = new TokenBucket(1, 5);

  constructor(
    private readonly listen: string,
    private readonly h: OpsHandlers,
    private readonly logger: Logger,
    private readonly opts: OpsOptions = {},
  ) {}

  async start(): Promise<void> {
    const { host, port } = parseListen(this.listen);
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.info({ listen: this.listen, port: this.port, page: this.h.view !== undefined, tokenRequired: this.opts.token !== undefined }, "status endpoint listening");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://local");
    const path = url.pathname;
    const page = this.h.view !== undefined;
    try {
      if (page && path === "/login" && (req.method === "GET" || req.method === "POST")) {
        await this.login(req, res);
      } else if (page && path === "/logout" && req.method === "POST") {
        send(res, 303, TEXT, "signed out\n", { location: this.opts.token ? "/login" : "/", "set-cookie": CLEARED_COOKIE });
      } else if (req.method !== "GET" && req.method !== "HEAD") {
        send(res, 405, TEXT, "method not allowed\n", { allow: "GET, HEAD" });
      } else if (page && path === "/page.css") {
        // The login form uses the stylesheet; it holds nothing about the gateway.
        send(res, 200, ASSETS[path]!.type, asset(ASSETS[path]!.file), PAGE_HEADERS);
      } else if (!authorised(req, this.opts.token)) {
        if (page && path === "/") send(res, 303, TEXT, "sign in at /login\n", { location: "/login" });
        else send(res, 401, TEXT, "unauthorised: this endpoint needs http.token (Authorization: Bearer <token>)\n", { "www-authenticate": 'Bearer realm="fieldbridge"' });
      } else if (path === "/healthz") {
        const hs = this.h.health();
        send(res, hs.ok ? 200 : 503, TEXT, hs.ok ? "ok\n" : `unhealthy: ${hs.reason ?? "unknown"}\n`);
      } else if (path === "/status") {
        send(res, 200, JSON_TYPE, JSON.stringify(this.h.status(), null, 2) + "\n");
      } else if (path === "/metrics") {
        send(res, 200, "text/plain; version=0.0.4; charset=utf-8", this.h.metrics());
      } else if (page && ASSETS[path]) {
        let body = asset(ASSETS[path]!.file);
        // The page offers "sign out" only where there is a session.
        if (path === "/" && this.opts.token) body = body.replace("<body>", '<body data-signin="1">');
        send(res, 200, ASSETS[path]!.type, body, PAGE_HEADERS);
      } else if (page && path === "/api/view") {
        send(res, 200, JSON_TYPE, JSON.stringify(this.h.view!(parseViewQuery(url.searchParams))) + "\n");
      } else if (page && path === "/events") {
        this.events(req, res, parseViewQuery(url.searchParams));
      } else {
        send(res, 404, TEXT, `not found: try ${page ? "/, " : ""}/healthz, /status or /metrics\n`);
      }
      this.lastError.delete(path);
    } catch (err) {
      const message = (err as Error).message;
      if (this.lastError.get(path) !== message) this.logger.warn({ path, err: message }, "status endpoint error");
      this.lastError.set(path, message);
      if (!res.headersSent) send(res, 500, TEXT, "internal error\n");
      else res.destroy();
    }
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = this.opts.token;
    if (!token) {
      send(res, 303, TEXT, "no sign-in needed\n", { location: "/" });
      return;
    }
    if (req.method === "GET") {
      send(res, 200, HTML, loginPage(), PAGE_HEADERS);
      return;
    }
    if (this.loginFailures.available() < 1) {
      send(res, 429, HTML, loginPage("Too many wrong tokens; wait a few seconds."), { ...PAGE_HEADERS, "retry-after": "2" });
      return;
    }
    const given = new URLSearchParams(await readBody(req, 4096)).get("token") ?? "";
    if (sameSecret(given, token)) {
      send(res, 303, TEXT, "signed in\n", { location: "/", "set-cookie": sessionCookie(token) });
      return;
    }
    this.loginFailures.consume(1);
    this.logger.warn({ remote: req.socket.remoteAddress }, "status page: wrong access token at the sign-in form");
    send(res, 401, HTML, loginPage("Wrong token."), PAGE_HEADERS);
  }

  private events(req: IncomingMessage, res: ServerResponse, q: ViewQuery): void {
    if (this.streams.size >= (this.opts.maxEventStreams ?? 16)) {
      send(res, 503, TEXT, "too many open status pages\n", { "retry-after": "10" });
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    this.streams.add(res);
    const push = () => {
      try {
        res.write(`data: ${JSON.stringify(this.h.view!(q, true))}\n\n`);
      } catch (err) {
        this.logger.warn({ path: "/events", err: (err as Error).message }, "status endpoint error");
        res.destroy();
      }
    };
    res.write("retry: 2000\n\n");
    push();
    const timer = setInterval(push, this.opts.eventIntervalMs ?? 1000);
    res.on("close", () => {
      clearInterval(timer);
      this.streams.delete(res);
    });
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
    for (const r of this.streams) r.end();
    const closed = new Promise<void>((r) => s.close(() => r()));
    // Keep-alive connections of scrapers would hold close() open.
    s.closeAllConnections();
    await closed;
  }
}
