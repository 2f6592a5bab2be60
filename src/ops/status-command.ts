/**
 * `fieldbridge status`: asks the running daemon through `http.listen` of its config (with `http.token` when set)
 * and prints the status page's picture as terminal tables. Exit 0 healthy, 1 unhealthy, 2 not reachable.
 */
import http from "node:http";
import { buildView, type PageView } from "./status-view.js";
import { parseListen } from "./http.js";
import type { BootstrapConfig } from "../config/bootstrap/load.js";

export const EXIT_HEALTHY = 0;
export const EXIT_UNHEALTHY = 1;
export const EXIT_UNREACHABLE = 2;
const TIMEOUT_MS = 3000;
const LISTED = 50;

class Unreachable extends Error {}

function get(base: { host: string; port: number }, path: string, token: string | undefined, deadline: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: base.host, port: base.port, path, method: "GET", agent: false,
      headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    const timer = setTimeout(() => req.destroy(new Unreachable(`no answer within ${TIMEOUT_MS / 1000} s`)), Math.max(1, deadline - Date.now()));
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.end();
  });
}

/** A daemon listening on every address is asked on loopback. */
function target(listen: string): { host: string; port: number } {
  const { host, port } = parseListen(listen);
  return { host: host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host, port };
}

async function fetchView(cfg: BootstrapConfig): Promise<PageView> {
  const base = target(cfg.http.listen!);
  const deadline = Date.now() + TIMEOUT_MS;
  const where = `${base.host}:${base.port}`;
  let r: { status: number; body: string };
  try {
    r = await get(base, `/api/view?size=${LISTED}`, cfg.http.token, deadline);
    if (r.status === 404) {
      // A daemon without the status page: the same picture from /status.
      const s = await get(base, "/status", cfg.http.token, deadline);
      if (s.status === 200) {
        const zero = { requestsPerSecond: 0, errorsPerSecond: 0, timeoutsPerSecond: 0 };
        return buildView(JSON.parse(s.body) as Record<string, unknown>, { q: "", state: "all", page: 0, size: LISTED }, { history: [], rates: () => zero, logs: [] });
      }
      r = s;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ECONNREFUSED" ? "connection refused (is fieldbridge running?)" : code ?? (err as Error).message;
    throw new Unreachable(`daemon not reachable at ${where}: ${why}`);
  }
  if (r.status === 401) {
    throw new Unreachable(`the daemon at ${where} refused the request: ${cfg.http.token ? "http.token of this config is not the daemon's" : "it needs http.token, which this config does not set"}`);
  }
  if (r.status !== 200) throw new Unreachable(`the daemon at ${where} answered HTTP ${r.status}`);
  try {
    return JSON.parse(r.body) as PageView;
  } catch {
    throw new Unreachable(`the daemon at ${where} answered something that is not its status`);
  }
}

/** Left-aligned columns; numbers right-aligned. */
export function table(head: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

function ago(iso: string | null | undefined): string {
  if (!iso) return "-";
  return `${duration((Date.now() - Date.parse(iso)) / 1000)} ago`;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

const fix = (n: number, d = 1) => (Number.isInteger(n) ? String(n) : n.toFixed(d));

function value(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function render(p: PageView): string {
  const out: string[] = [];
  const g = p.gateway as { productKey?: string; deviceName?: string; version?: string; uptimeSeconds?: number };
  out.push(`fieldbridge ${g.version ?? ""}  ${g.productKey ?? ""}/${g.deviceName ?? ""}  up ${duration(g.uptimeSeconds ?? 0)}`);
  out.push(p.health.ok ? "HEALTHY" : `UNHEALTHY: ${p.health.reason ?? "unknown"}`, "");
  const c = p.cloud;
  const cloudState = c.connected ? `connected${c.since ? ` since ${c.since} (${ago(c.since)})` : ""}` : `DISCONNECTED${c.downSince ? ` since ${c.downSince} (${ago(c.downSince)})` : ""}`;
  out.push(`Cloud    ${c.platform}: ${cloudState}${c.endpoint ? `, broker ${c.endpoint}` : ""}`);
  if (c.routes) {
    out.push(`         connections: ${c.routes.total} (${Object.entries(c.routes.byState).map(([s, n]) => `${s} ${n}`).join(", ")})`);
    for (const r of c.routes.notOnline) out.push(`         not online: ${r.route} ${r.state}${r.reason ? `: ${r.reason}` : ""}`);
  }
  const cfg = p.config;
  out.push(`Config   ${cfg.version ? `version ${cfg.version.slice(0, 16)}, applied ${cfg.appliedAt ?? "-"}${cfg.source ? ` (${cfg.source})` : ""}` : "none applied"}, ${cfg.channels} channels, ${cfg.devices} devices`);
  if (cfg.lastError) {
    const e = cfg.lastError;
    out.push(`         ${cfg.rejected ? "REJECTED (the previous config still runs)" : "last rejected"} ${e.at ?? ""}: ${e.stage ? `${e.stage}: ` : ""}${e.message}`);
    for (const pr of e.problems) out.push(`           - ${pr}`);
  }
  const fw = p.firmware as { version?: string; upgrading?: { version: string; phase?: string; step?: string }; installed?: string } | null;
  if (fw?.upgrading || fw?.installed) {
    out.push(`Firmware ${fw.version ?? ""}${fw.upgrading ? `, upgrading to ${fw.upgrading.version} (${[fw.upgrading.phase, fw.upgrading.step].filter(Boolean).join(", ")})` : ""}${fw.installed ? `, ${fw.installed} installed, waiting for the restart` : ""}`);
  }
  const o = (p.outbox ?? {}) as { depth?: number; bytes?: number; oldestAgeSeconds?: number; inFlight?: number; writable?: boolean };
  const last = p.history[p.history.length - 1];
  out.push(`Outbox   ${o.depth ?? 0} messages (${Math.round((o.bytes ?? 0) / 1024)} KiB), oldest ${o.depth ? duration(o.oldestAgeSeconds ?? 0) : "-"}, in flight ${o.inFlight ?? 0}${o.writable === false ? ", WRITES FAILING" : ""}${last ? `, ${fix(last.valuesPerSecond)} values/s` : ""}`, "");

  out.push(table(["CHANNEL", "ID", "PROTOCOL", "STATE", "REQ/S", "ERR/S", "TIMEOUT/S", "POLL", "BUS"], p.channels.map((ch) => [
    ch.name, ch.serverId, ch.protocol, ch.up ? "up" : `DOWN${ch.reason ? ` (${ch.reason})` : ""}`,
    fix(ch.requestsPerSecond), fix(ch.errorsPerSecond, 2), fix(ch.timeoutsPerSecond, 2),
    ch.lastPollMs ? `${Math.round(ch.lastPollMs)} ms` : "-", ch.protocol === "modbus-rtu" ? `${Math.round(ch.busUtilisation * 100)} %` : "-",
  ]), new Set([4, 5, 6, 7, 8])));

  const d = p.devices;
  out.push(`Devices  ${d.online} of ${d.total} online (${Object.entries(d.byState).map(([s, n]) => `${s} ${n}`).join(", ") || "none"})`);
  const listed = d.total <= d.items.length ? d.items : d.notOnline.map((n) => d.items.find((i) => i.key === n.key) ?? { ...n, productKey: n.key.split("/")[0]!, serverId: null, online: false, lastSampleAt: null, values: [] });
  if (listed.length) {
    out.push(table(["DEVICE", "PRODUCT", "CHANNEL", "STATE", "LAST SAMPLE", "VALUES"], listed.map((x) => [
      x.deviceName, x.productKey, x.serverId ?? "-", `${x.state}${x.reason && !x.online ? ` (${x.reason})` : ""}`, ago(x.lastSampleAt),
      x.values.map((v) => `${v.id}=${value(v.value)}${v.unit ? ` ${v.unit}` : ""}`).join(" "),
    ])));
  }
  if (d.total > listed.length) out.push(`(${d.total - listed.length} more devices, all online, not listed; the status page at http.listen lists and searches them)\n`);

  if (p.logs.length) {
    out.push("Recent warnings and errors (newest first)");
    for (const l of p.logs.slice(0, 10)) out.push(`  ${l.time} ${l.level.toUpperCase()} ${l.msg}${Object.keys(l.fields).length ? ` ${JSON.stringify(l.fields)}` : ""}`);
  }
  return out.join("\n").replace(/\n*$/, "\n");
}

/** Returns the exit code; prints the picture on stdout, reachability problems on stderr. */
export async function statusCommand(cfg: BootstrapConfig, file: string, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  if (!cfg.http.listen) {
    stderr.write(`fieldbridge: ${file} sets no http.listen, so the daemon has no status endpoint to ask; set http.listen (e.g. "127.0.0.1:9180") and restart fieldbridge\n`);
    return EXIT_UNREACHABLE;
  }
  let view: PageView;
  try {
    view = await fetchView(cfg);
  } catch (err) {
    stderr.write(`fieldbridge: ${(err as Error).message}\n`);
    return EXIT_UNREACHABLE;
  }
  stdout.write(render(view));
  return view.health.ok ? EXIT_HEALTHY : EXIT_UNHEALTHY;
}
