/**
 * Who may read the status endpoint. With `http.token` set, every request carries it: `Authorization: Bearer …`
 * (scripts, `fieldbridge status`, Prometheus) or the session cookie the login form sets (browsers). Tokens are
 * compared in constant time; the cookie holds a keyed digest of the token, never the token itself.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

export const SESSION_COOKIE = "fieldbridge_session";

/** Equal-length digests make the comparison independent of where the strings differ and of their lengths. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

export function sessionValue(token: string): string {
  return createHmac("sha256", token).update("fieldbridge status page session").digest("base64url");
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function authorised(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const auth = req.headers.authorization ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  if (m) return sameSecret(m[1]!.trim(), token);
  const c = cookie(req, SESSION_COOKIE);
  return c !== undefined && sameSecret(c, sessionValue(token));
}

export function sessionCookie(token: string): string {
  return `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict`;
}

export const CLEARED_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;

/** Whether the host part of `http.listen` only accepts connections from this machine. */
export function isLoopbackListen(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || /^::ffff:127\./.test(host);
  return false;
}

/** The access warning of `fieldbridge check` and of the daemon's start, or undefined. */
export function accessWarning(http: { listen?: string; token?: string }): string | undefined {
  if (!http.listen || http.token || isLoopbackListen(http.listen)) return undefined;
  return `http.listen is ${http.listen} (reachable from the network) and http.token is not set: anyone who reaches the gateway can read its status; set http.token (16 characters or more) or listen on 127.0.0.1`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fieldbridge — sign in</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/page.css"></head>
<body class="login"><main><h1>fieldbridge</h1>
<form method="post" action="/login">
<label for="token">Access token (http.token of the gateway's config)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ""}
</form></main></body></html>
`;
}
