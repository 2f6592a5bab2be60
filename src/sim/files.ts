/**
 * A tiny static file server standing in for OSS: it hosts pushed gateway configs and firmware images.
 * HTTPS uses the test PKI (test/fixtures/tls), so a client must trust `ca.pem`; plain HTTP is for rigs that
 * enable `download.allowHttp`. Per-file behaviour makes a download slow, fail with a status, or break off
 * mid-body, for timeout and download-failure tests.
 *
 *   const files = await startFileServer({ tls: true });
 *   const url = files.put("config.json", JSON.stringify(doc));
 *   files.behave("config.json", { delayMs: 5_000 });   // headers only after 5 s
 *   files.requests;                                    // ["/config.json", …]
 *   await files.close();
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { testPki, type ServerTlsMaterial } from "./cloud/tls-material.js";

export interface FileBehaviour {
  /** Wait this long before answering (the socket stays open). */
  delayMs?: number;
  /** Answer with this HTTP status and a short text body instead of the file. */
  status?: number;
  /** Send the headers and half of the body, then destroy the socket. */
  truncate?: boolean;
}

export interface FileServerOptions {
  tls: boolean;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Certificate to present; default the fixture `server.pem`. */
  tlsMaterial?: ServerTlsMaterial;
}

export interface FileServer {
  /** Base URL without a trailing slash, e.g. `https://127.0.0.1:40123`. */
  readonly url: string;
  /** Hosts `body` under `/name` (replacing an earlier one) and returns its full URL. */
  put(name: string, body: Buffer | string, behaviour?: FileBehaviour): string;
  /** Stops serving `name` (later requests get 404). */
  remove(name: string): void;
  /** Sets or clears (null) the behaviour of `name`; it applies even before the file is put. */
  behave(name: string, behaviour: FileBehaviour | null): void;
  /** The path and query of every request received, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9._~-][A-Za-z0-9._~/-]*$/;

export async function startFileServer(opts: FileServerOptions): Promise<FileServer> {
  const files = new Map<string, Buffer>();
  const behaviours = new Map<string, FileBehaviour>();
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const handler: http.RequestListener = (req, res) => {
    const target = req.url ?? "/";
    requests.push(target);
    let name: string;
    try {
      name = decodeURIComponent(target.split("?")[0]!.replace(/^\/+/, ""));
    } catch {
      res.writeHead(400, { "content-type": "text/plain" }).end("bad path\n");
      return;
    }
    const respond = () => serve(name, req.method ?? "GET", res);
    const delay = behaviours.get(name)?.delayMs ?? 0;
    if (delay <= 0) return respond();
    const timer = setTimeout(() => {
      timers.delete(timer);
      respond();
    }, delay);
    timers.add(timer);
  };

  function serve(name: string, method: string, res: http.ServerResponse): void {
    if (method !== "GET" && method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    const b = behaviours.get(name);
    if (b?.status !== undefined) {
      res.writeHead(b.status, { "content-type": "text/plain" }).end(`status ${b.status}\n`);
      return;
    }
    const body = files.get(name);
    if (!body) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const type = name.endsWith(".json") ? "application/json" : "application/octet-stream";
    res.writeHead(200, { "content-type": type, "content-length": String(body.length) });
    if (method === "HEAD") return void res.end();
    if (b?.truncate) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }

  const server = opts.tls
    ? https.createServer({ ...(opts.tlsMaterial ?? testPki().server) }, handler)
    : http.createServer(handler);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("file server has no TCP address");
  const url = `${opts.tls ? "https" : "http"}://${host}:${address.port}`;

  return {
    url,
    requests,
    put(name, body, behaviour) {
      if (!NAME_RE.test(name) || name.includes("..")) throw new Error(`invalid file name ${JSON.stringify(name)}`);
      files.set(name, Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(body, "utf8"));
      if (behaviour) behaviours.set(name, behaviour);
      return `${url}/${name}`;
    },
    remove(name) {
      files.delete(name);
    },
    behave(name, behaviour) {
      if (behaviour) behaviours.set(name, behaviour);
      else behaviours.delete(name);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
