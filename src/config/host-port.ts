/** `host:port` and `[v6]:port` as the operator writes a listen address (http.listen). */
import { isIP } from "node:net";

export type HostPort = { host: string; port: number } | { error: string };

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isHostName(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  // All-numeric dotted names are mistyped IPv4 addresses (300.1.1.1), not names.
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => LABEL.test(l));
}

/** Port 1..65535 unless `minPort` is 0 (an ephemeral port, for programs that read the bound port back). */
export function parseHostPort(text: string, opts: { minPort?: 0 | 1 } = {}): HostPort {
  const minPort = opts.minPort ?? 1;
  const shown = JSON.stringify(text);
  const colon = text.lastIndexOf(":");
  if (colon <= 0 || colon === text.length - 1) return { error: `expected host:port, got ${shown}` };
  const rawHost = text.slice(0, colon);
  const rawPort = text.slice(colon + 1);
  const bracketed = /^\[(.*)\]$/.exec(rawHost);
  const host = bracketed ? bracketed[1]! : rawHost;
  if (!bracketed && host.includes(":")) return { error: `expected host:port with an IPv6 address in brackets ([::1]:9180), got ${shown}` };
  const hostOk = bracketed ? isIP(host) === 6 : isIP(host) === 4 || isHostName(host);
  if (!hostOk) return { error: `expected host:port with an IP address or host name, got ${shown}` };
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(port >= minPort && port <= 65535)) return { error: `expected host:port with a port from ${minPort} to 65535, got ${shown}` };
  return { host, port };
}
