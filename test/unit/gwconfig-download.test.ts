import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DownloadError, downloadDocument, redactUrl } from "../../src/config/gateway/download.js";

const BODY = Buffer.from(JSON.stringify({ serverList: [], deviceList: [], note: "ünïcödé" }));
let dir: string;
let caFile: string;
let httpsServer: https.Server;
let httpServer: http.Server;
let httpsBase: string;
let httpBase: string;
const hits = new Map<string, number>();
let streamedChunks = 0;
let streamClosed: Promise<void> = Promise.resolve();

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe", timeout: 20_000 });
}

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  hits.set(path, (hits.get(path) ?? 0) + 1);
  switch (path) {
    case "/config.json":
      res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length }).end(BODY);
      return;
    case "/redirect":
      res.writeHead(302, { location: "/config.json?token=abc" }).end();
      return;
    case "/big":
      res.writeHead(200, { "content-length": 4096 }).end(Buffer.alloc(4096, 0x20));
      return;
    case "/stream": {
      // no Content-Length: the cap must be enforced while reading
      res.writeHead(200, { "content-type": "application/json" });
      streamedChunks = 0;
      streamClosed = new Promise((resolve) => res.on("close", () => resolve()));
      const timer = setInterval(() => {
        if (res.destroyed || streamedChunks >= 1000) {
          clearInterval(timer);
          if (!res.destroyed) res.end();
          return;
        }
        streamedChunks++;
        res.write(Buffer.alloc(1024, 0x20));
      }, 5);
      res.on("close", () => clearInterval(timer));
      return;
    }
    case "/hang":
      return; // never answers
    case "/flaky":
      if (hits.get(path) === 1) res.writeHead(503).end("busy");
      else res.writeHead(200, { "content-length": BODY.length }).end(BODY);
      return;
    default:
      res.writeHead(404).end("not found");
  }
}

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function close(server: http.Server | https.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "fb-gwdl-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=fieldbridge test CA");
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
  caFile = join(dir, "ca.pem");
  httpsServer = https.createServer({ key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.pem")) }, handler);
  httpServer = http.createServer(handler);
  httpsBase = `https://127.0.0.1:${await listen(httpsServer)}`;
  httpBase = `http://127.0.0.1:${await listen(httpServer)}`;
});

after(async () => {
  await Promise.all([close(httpsServer), close(httpServer)]);
  rmSync(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<DownloadError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DownloadError, String(err));
    return err;
  }
  assert.fail("expected the download to fail");
}

test("HTTPS verified with caFile returns the exact bytes", async () => {
  const bytes = await downloadDocument(`${httpsBase}/config.json?Signature=abc&security-token=xyz`, { caFile, allowHttp: false });
  assert.deepEqual(bytes, BODY);
});

test("without caFile the test CA is not trusted (system CAs) and the failure is not retried", async () => {
  const err = await rejection(downloadDocument(`${httpsBase}/config.json?Signature=s3cr3t`, { allowHttp: false, retries: 2, retryDelayMs: 10 }));
  assert.equal(err.kind, "tls");
  assert.match(err.message, /^download failed: TLS certificate not accepted \(/);
  assert.ok(!err.message.includes("s3cr3t"));
  assert.ok(!err.message.includes("attempts"));
});

test("http:// is refused unless allowed", async () => {
  const before = hits.get("/config.json") ?? 0;
  const err = await rejection(downloadDocument(`${httpBase}/config.json`, { allowHttp: false }));
  assert.equal(err.kind, "refused");
  assert.match(err.message, /http:\/\/ download refused \(download\.allowHttp is false\)/);
  assert.equal(hits.get("/config.json") ?? 0, before, "no request may be sent");
  assert.deepEqual(await downloadDocument(`${httpBase}/config.json`, { allowHttp: true }), BODY);
});

test("a redirect to https is followed; a redirect to http is refused when http is not allowed", async () => {
  assert.deepEqual(await downloadDocument(`${httpsBase}/redirect`, { caFile, allowHttp: false }), BODY);
  const err = await rejection(downloadDocument(`${httpBase}/redirect`, { allowHttp: false }));
  assert.equal(err.kind, "refused");
});

test("HTTP errors name the status and never the query string; 404 is not retried", async () => {
  const before = hits.get("/missing") ?? 0;
  const err = await rejection(
    downloadDocument(`${httpsBase}/missing?OSSAccessKeyId=AK&Signature=topsecret`, { caFile, allowHttp: false, retries: 2, retryDelayMs: 10 }),
  );
  assert.equal(err.message, `download failed: HTTP 404; url ${httpsBase}/missing`);
  assert.equal(err.status, 404);
  assert.equal((hits.get("/missing") ?? 0) - before, 1);
});

test("a 503 is retried and the retry succeeds", async () => {
  hits.delete("/flaky");
  const bytes = await downloadDocument(`${httpsBase}/flaky`, { caFile, allowHttp: false, retries: 2, retryDelayMs: 20 });
  assert.deepEqual(bytes, BODY);
  assert.equal(hits.get("/flaky"), 2);
});

test("the size cap is checked against Content-Length", async () => {
  const err = await rejection(downloadDocument(`${httpsBase}/big`, { caFile, allowHttp: false, maxBytes: 1024 }));
  assert.equal(err.kind, "size");
  assert.match(err.message, /exceeds 1 KiB/);
});

test("the size cap is enforced while streaming and aborts early", async () => {
  const err = await rejection(downloadDocument(`${httpsBase}/stream`, { caFile, allowHttp: false, maxBytes: 4096, retries: 0 }));
  assert.equal(err.kind, "size");
  assert.match(err.message, /exceeds 4 KiB/);
  await streamClosed;
  assert.ok(streamedChunks < 100, `server kept sending: ${streamedChunks} chunks`);
});

test("a server that never answers times out (and is retried within the budget)", async () => {
  hits.delete("/hang");
  const err = await rejection(downloadDocument(`${httpsBase}/hang`, { caFile, allowHttp: false, timeoutMs: 300, retries: 1, retryDelayMs: 10 }));
  assert.equal(err.kind, "timeout");
  assert.match(err.message, /^download failed after 2 attempts: timed out after 0\.3 s; url https:\/\/127\.0\.0\.1:\d+\/hang$/);
  assert.equal(hits.get("/hang"), 2);
  const single = await rejection(downloadDocument(`${httpsBase}/hang`, { caFile, allowHttp: false, timeoutMs: 1000, retries: 0 }));
  assert.match(single.message, /^download failed: timed out after 1 s;/);
});

test("an abort signal stops a pending download", async () => {
  const controller = new AbortController();
  const pending = downloadDocument(`${httpsBase}/hang`, { caFile, allowHttp: false, timeoutMs: 20_000, retries: 2, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  const err = await rejection(pending);
  assert.equal(err.kind, "aborted");
});

test("redactUrl keeps only origin and path", () => {
  assert.equal(redactUrl("https://user:pw@bucket.oss-cn-shanghai.aliyuncs.com/a/b.json?Expires=1&Signature=x#f"), "https://bucket.oss-cn-shanghai.aliyuncs.com/a/b.json");
});
