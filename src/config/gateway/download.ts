/**
 * Downloads the document behind a config push (alink.md 5.1 step 2, C4). HTTPS is verified against
 * `caFile` (then the only trusted CA) or the system CAs; plain http:// only when the operator allows
 * it. The size cap is enforced from Content-Length and while streaming. Messages show only the URL's
 * origin and path: its query string carries OSS signatures and tokens.
 *
 * `downloadDocument` keeps the body in memory (documents are small); `downloadToFile` streams it to disk
 * with an optional digest and progress callback (firmware images can be hundreds of MB).
 */
import { createHash, type Hash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";

export interface DownloadOptions {
  /** PEM bundle that must verify the server; replaces the system CAs. */
  caFile?: string;
  /** Allow plain http:// (test rigs only). */
  allowHttp: boolean;
  /** Default 16 MiB. */
  maxBytes?: number;
  /** Per attempt, from request to the last byte. Default 30 s. */
  timeoutMs?: number;
  /** Further attempts after a transient failure (network, timeout, HTTP 408/429/5xx). Default 2. */
  retries?: number;
  /** Wait before retry n is n × this. Default 2 s. */
  retryDelayMs?: number;
  /** No retry starts after this much time since the first attempt. Default 60 s. */
  retryBudgetMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  signal?: AbortSignal;
}

/** `file`: the body could not be written to disk (downloadToFile only). */
export type DownloadFailure = "refused" | "http" | "size" | "timeout" | "tls" | "network" | "aborted" | "config" | "file";

export class DownloadError extends Error {
  constructor(
    message: string,
    readonly kind: DownloadFailure,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = "DownloadError";
  }
}

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 30_000;

/** origin + path: no credentials, no query string, no fragment. */
export function redactUrl(url: string | URL): string {
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_TLS_CERT|ERR_SSL|HOSTNAME_MISMATCH|ERR_TLS)/;

function failure(reason: string, url: URL, kind: DownloadFailure, retryable: boolean, status?: number): DownloadError {
  return new DownloadError(`download failed: ${reason}; url ${redactUrl(url)}`, kind, retryable, status);
}

interface Attempt {
  url: URL;
  ca?: Buffer;
  allowHttp: boolean;
  maxBytes: number;
  timeoutMs: number;
  /** Fails the attempt when no byte arrives for this long (only with downloadToFile). */
  idleTimeoutMs?: number;
  maxRedirects: number;
  signal?: AbortSignal;
}

/**
 * Where the body of a 200 response goes. Every attempt calls `begin` again, so a retry starts over.
 * `fail` reports a storage error; `write` returns false to pause the response until `resume` is called.
 */
interface BodySink<T> {
  begin(declared: number | undefined, fail: (err: Error) => void): void;
  write(chunk: Buffer, resume: () => void): boolean;
  end(): Promise<T>;
  /** The attempt failed after `begin`: release what it holds. */
  discard(): void;
}

function memorySink(): BodySink<Buffer> {
  let chunks: Buffer[] = [];
  return {
    begin: () => {
      chunks = [];
    },
    write: (chunk) => {
      chunks.push(chunk);
      return true;
    },
    end: async () => Buffer.concat(chunks),
    discard: () => {
      chunks = [];
    },
  };
}

function checkScheme(url: URL, allowHttp: boolean): void {
  if (url.protocol === "https:") return;
  if (url.protocol === "http:") {
    if (allowHttp) return;
    throw failure("http:// download refused (download.allowHttp is false)", url, "refused", false);
  }
  throw failure(`unsupported URL scheme ${url.protocol}`, url, "refused", false);
}

function fetchOnce<T>(a: Attempt, redirectsLeft: number, sink: BodySink<T>): Promise<T> {
  checkScheme(a.url, a.allowHttp);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let sinking = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (err: DownloadError | undefined, body?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(idleTimer);
      a.signal?.removeEventListener("abort", onAbort);
      if (err) {
        req.destroy();
        if (sinking) sink.discard();
        reject(err);
      } else resolve(body!);
    };
    const onAbort = (): void => finish(failure("aborted", a.url, "aborted", false));
    const timer = setTimeout(() => finish(failure(`timed out after ${formatSeconds(a.timeoutMs)}`, a.url, "timeout", true)), a.timeoutMs);
    const idle = a.idleTimeoutMs;
    const touch = (): void => {
      if (idle === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish(failure(`no data for ${formatSeconds(idle)}`, a.url, "timeout", true)), idle);
    };
    touch();

    const options: https.RequestOptions = {
      method: "GET",
      headers: { accept: "application/json, */*", "user-agent": "fieldbridge" },
      // a fresh connection per download: nothing lingers between pushes
      agent: false,
      ...(a.url.protocol === "https:" && a.ca ? { ca: a.ca } : {}),
    };
    const client = a.url.protocol === "https:" ? https : http;
    const req = client.request(a.url, options, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirectsLeft <= 0) return finish(failure("too many redirects", a.url, "http", false, status));
        let target: URL;
        try {
          target = new URL(res.headers.location, a.url);
        } catch {
          return finish(failure(`HTTP ${status} with an invalid Location`, a.url, "http", false, status));
        }
        clearTimeout(timer);
        clearTimeout(idleTimer);
        settled = true;
        a.signal?.removeEventListener("abort", onAbort);
        Promise.resolve()
          .then(() => fetchOnce({ ...a, url: target }, redirectsLeft - 1, sink))
          .then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        const retryable = status === 408 || status === 429 || status >= 500;
        return finish(failure(`HTTP ${status}`, a.url, "http", retryable, status));
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > a.maxBytes) {
        return finish(failure(`the document (${declared} bytes) exceeds ${formatBytes(a.maxBytes)}`, a.url, "size", false));
      }
      sinking = true;
      sink.begin(Number.isFinite(declared) ? declared : undefined, (err) =>
        finish(failure(`cannot write the download (${(err as NodeJS.ErrnoException).code ?? err.message})`, a.url, "file", false)),
      );
      let total = 0;
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        touch();
        total += chunk.length;
        if (total > a.maxBytes) finish(failure(`the document exceeds ${formatBytes(a.maxBytes)}`, a.url, "size", false));
        else if (!sink.write(chunk, () => res.resume())) res.pause();
      });
      res.on("end", () => {
        if (!res.complete) return finish(failure("the connection closed before the whole document arrived", a.url, "network", true));
        sink.end().then(
          (body) => finish(undefined, body),
          (err: Error) => finish(failure(`cannot write the download (${(err as NodeJS.ErrnoException).code ?? err.message})`, a.url, "file", false)),
        );
      });
      res.on("error", (err: NodeJS.ErrnoException) => finish(failure(err.code ?? "response error", a.url, "network", true)));
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      const code = err.code ?? "";
      if (TLS_CODES.test(code)) finish(failure(`TLS certificate not accepted (${code})`, a.url, "tls", false));
      else finish(failure(code || "network error", a.url, "network", true));
    });
    if (a.signal?.aborted) return onAbort();
    a.signal?.addEventListener("abort", onAbort, { once: true });
    req.end();
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function downloadDocument(url: string, opts: DownloadOptions): Promise<Buffer> {
  return download(url, opts, memorySink());
}

async function download<T>(url: string, opts: DownloadOptions & { idleTimeoutMs?: number }, sink: BodySink<T>): Promise<T> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DownloadError("download failed: the URL is not valid", "config", false);
  }
  let ca: Buffer | undefined;
  if (opts.caFile) {
    try {
      ca = await readFile(opts.caFile);
    } catch (err) {
      throw new DownloadError(`download failed: cannot read download.caFile ${opts.caFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`, "config", false);
    }
  }
  const attempt: Attempt = {
    url: parsed,
    ...(ca ? { ca } : {}),
    allowHttp: opts.allowHttp,
    maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    maxRedirects: opts.maxRedirects ?? 5,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const retries = Math.max(0, opts.retries ?? 2);
  const delay = opts.retryDelayMs ?? 2000;
  const budget = opts.retryBudgetMs ?? 60_000;
  const started = Date.now();
  for (let n = 0; ; n++) {
    try {
      return await fetchOnce(attempt, attempt.maxRedirects, sink);
    } catch (err) {
      const e = err as DownloadError;
      const wait = delay * (n + 1);
      const mayRetry = e.retryable && n < retries && Date.now() - started + wait < budget && !opts.signal?.aborted;
      if (!mayRetry) {
        if (n === 0) throw e;
        throw new DownloadError(e.message.replace("download failed:", `download failed after ${n + 1} attempts:`), e.kind, false, e.status);
      }
      await sleep(wait, opts.signal);
    }
  }
}

export interface FileDownloadOptions extends DownloadOptions {
  /** Fails an attempt when no byte arrives for this long; `timeoutMs` still bounds the whole attempt. */
  idleTimeoutMs?: number;
  /** Digest of the stored bytes, computed while streaming. */
  hash?: "md5" | "sha256";
  /** Called for every chunk written (the caller throttles); a retry starts again from 0. */
  onProgress?: (received: number, declared: number | undefined) => void;
}

export interface FileDownloadResult {
  bytes: number;
  /** Lower-case hex, when `hash` was asked for. */
  digest?: string;
}

/**
 * Streams the body into `file` (created or truncated, mode 0600) without holding it in memory. On failure
 * the file may hold a partial body: the caller owns the path and removes it.
 */
export function downloadToFile(url: string, file: string, opts: FileDownloadOptions): Promise<FileDownloadResult> {
  return download(url, opts, fileSink(file, opts));
}

function fileSink(file: string, opts: FileDownloadOptions): BodySink<FileDownloadResult> {
  let out: WriteStream | undefined;
  let hash: Hash | undefined;
  let received = 0;
  let declared: number | undefined;
  return {
    begin(size, fail) {
      out?.destroy();
      received = 0;
      declared = size;
      hash = opts.hash ? createHash(opts.hash) : undefined;
      const stream = createWriteStream(file, { flags: "w", mode: 0o600 });
      stream.on("error", (err) => {
        if (stream === out) fail(err);
      });
      out = stream;
    },
    write(chunk, resume) {
      received += chunk.length;
      hash?.update(chunk);
      opts.onProgress?.(received, declared);
      const ok = out!.write(chunk);
      if (!ok) out!.once("drain", resume);
      return ok;
    },
    end() {
      const stream = out!;
      return new Promise<FileDownloadResult>((resolve, reject) => {
        stream.once("error", reject);
        // 'close' follows 'finish' once the descriptor is closed: the file is complete for its next reader.
        stream.once("close", () => {
          stream.off("error", reject);
          if (!stream.errored) resolve({ bytes: received, ...(hash ? { digest: hash.digest("hex") } : {}) });
        });
        stream.end();
      });
    },
    discard() {
      out?.destroy();
      out = undefined;
    },
  };
}
