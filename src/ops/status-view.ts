/**
 * The picture the status page and `fieldbridge status` show, built from the /status document: one device list
 * (filtered by name and state, one page at a time, so 1,500 devices never travel or render at once), counts by
 * state, the devices and routes that are not online, channel rates from the history, the last hour and the last
 * warnings. It reads the document loosely: the cloud part is `cloud` (a PlatformStatus) when the daemon reports
 * it, else the older `connection` and `subDevices` fields.
 */
import type { ChannelRates, HistoryPoint } from "./history.js";
import type { LogRecord } from "./log-ring.js";
import { deviceKey } from "../core/device-key.js";

export interface ViewQuery {
  /** Case-insensitive part of a device name or key. */
  q: string;
  /** "problem": only devices that are not online. */
  state: "all" | "problem";
  page: number;
  size: number;
}

export const MAX_PAGE_SIZE = 200;
/** How many not-online devices and routes are listed by name (the counts cover all of them). */
export const NOT_ONLINE_LISTED = 50;

export function parseViewQuery(params: URLSearchParams): ViewQuery {
  const int = (name: string, dflt: number, min: number, max: number) => {
    const n = Number.parseInt(params.get(name) ?? "", 10);
    return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : dflt;
  };
  return {
    q: (params.get("q") ?? "").slice(0, 100).trim(),
    state: params.get("state") === "problem" ? "problem" : "all",
    page: int("page", 0, 0, 1_000_000),
    size: int("size", 50, 1, MAX_PAGE_SIZE),
  };
}

export interface DeviceRow {
  key: string;
  productKey: string;
  deviceName: string;
  serverId: string | null;
  state: string;
  online: boolean;
  since: string | null;
  reason: string | null;
  lastSampleAt: string | null;
  values: Array<{ id: string; value: unknown; unit: string | null }>;
}

export interface RouteRow {
  route: string;
  state: string;
  since: string | null;
  reason: string | null;
  reconnects: number;
}

export interface ViewExtras {
  history: HistoryPoint[];
  rates(serverId: string): ChannelRates;
  logs: LogRecord[];
}

type Doc = Record<string, any>;

/** Epoch ms or an ISO string to ISO; 0, null and garbage to null. */
export function isoOf(v: unknown): string | null {
  if (typeof v === "number") return v > 0 ? new Date(v).toISOString() : null;
  if (typeof v === "string" && Number.isFinite(Date.parse(v))) return new Date(Date.parse(v)).toISOString();
  return null;
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

function cloudPart(doc: Doc) {
  const c = doc["cloud"];
  if (c && typeof c === "object") {
    const routes: RouteRow[] = (Array.isArray(c.routes) ? c.routes : []).map((r: Doc) => ({
      route: String(r.route ?? ""), state: String(r.state ?? "unknown"), since: isoOf(r.since), reason: str(r.reason), reconnects: num(r.reconnects),
    }));
    const gwRoute = routes.find((r) => r.route === "gateway");
    return {
      platform: String(c.platform ?? "unknown"),
      connected: c.connected === true,
      since: c.connected === true ? gwRoute?.since ?? null : isoOf(c.downSince) ?? gwRoute?.since ?? null,
      downSince: isoOf(c.downSince),
      endpoint: null as string | null,
      counters: (c.counters && typeof c.counters === "object" ? c.counters : {}) as Record<string, number>,
      routes: {
        total: routes.length,
        byState: countBy(routes, (r) => r.state),
        notOnline: routes.filter((r) => r.state !== "online").slice(0, NOT_ONLINE_LISTED),
        gateway: gwRoute ?? null,
      },
    };
  }
  const conn: Doc = doc["connection"] ?? {};
  const connected = conn["connected"] === true;
  return {
    platform: String(conn["platform"] ?? "aliyun"),
    connected,
    since: connected ? isoOf(conn["connectedSince"]) : isoOf(conn["downSince"]),
    downSince: isoOf(conn["downSince"]),
    endpoint: conn["host"] ? `${conn["host"]}:${conn["port"]}${conn["tls"] ? " (TLS)" : ""}` : null,
    counters: { connects: num(conn["connects"]), disconnects: num(conn["disconnects"]) },
    routes: null,
  };
}

function deviceRows(doc: Doc): DeviceRow[] {
  const units: Record<string, Record<string, string>> = doc["units"] ?? {};
  const cloudDevices = new Map<string, Doc>();
  for (const d of Array.isArray(doc["cloud"]?.devices) ? doc["cloud"].devices : []) cloudDevices.set(String(d.device), d);
  const field: Doc[] = Array.isArray(doc["subDevices"]) ? doc["subDevices"] : Array.isArray(doc["devices"]) ? doc["devices"] : [];
  const rows = new Map<string, DeviceRow>();
  for (const d of field) {
    const productKey = String(d["productKey"] ?? "");
    const deviceName = String(d["deviceName"] ?? "");
    const key = deviceKey(productKey, deviceName);
    const c = cloudDevices.get(key);
    const state = String(c?.["state"] ?? d["state"] ?? "unknown");
    const values = d["values"] && typeof d["values"] === "object" ? (d["values"] as Record<string, unknown>) : {};
    rows.set(key, {
      key, productKey, deviceName, serverId: str(d["serverId"]), state,
      online: c ? c["online"] === true : state === "online",
      since: c ? isoOf(c["since"]) : state === "online" ? isoOf(d["lastLoginAt"]) : null,
      reason: str(c?.["reason"]) ?? str(d["reason"]),
      lastSampleAt: isoOf(d["lastSampleAt"]),
      values: Object.entries(values).map(([id, value]) => ({ id, value, unit: units[productKey]?.[id] ?? null })),
    });
  }
  // Devices the platform reports that the field side does not list (yet).
  for (const [key, c] of cloudDevices) {
    if (rows.has(key)) continue;
    const i = key.indexOf("/");
    rows.set(key, {
      key, productKey: key.slice(0, i), deviceName: key.slice(i + 1), serverId: null, state: String(c["state"] ?? "unknown"),
      online: c["online"] === true, since: isoOf(c["since"]), reason: str(c["reason"]), lastSampleAt: null, values: [],
    });
  }
  return [...rows.values()].sort((a, b) => a.deviceName.localeCompare(b.deviceName) || a.key.localeCompare(b.key));
}

export function buildView(doc: Doc, query: ViewQuery, extras: ViewExtras) {
  const all = deviceRows(doc);
  const needle = query.q.toLowerCase();
  const matching = all.filter((d) => (!needle || d.key.toLowerCase().includes(needle)) && (query.state === "all" || !d.online));
  const pages = Math.max(1, Math.ceil(matching.length / query.size));
  const page = Math.min(query.page, pages - 1);
  const cfg: Doc = doc["config"] ?? {};
  const lastError: Doc | null = cfg["lastError"] ?? null;
  return {
    generatedAt: new Date().toISOString(),
    gateway: doc["gateway"] ?? {},
    health: doc["health"] ?? { ok: false, reason: "no health in the status document" },
    firmware: doc["firmware"] ?? null,
    cloud: cloudPart(doc),
    config: {
      version: str(cfg["version"]), appliedAt: isoOf(cfg["appliedAt"]), source: str(cfg["source"]),
      channels: num(cfg["channels"]), devices: num(cfg["devices"]), warnings: Array.isArray(cfg["warnings"]) ? cfg["warnings"] : [],
      lastError: lastError
        ? { at: isoOf(lastError["at"]), stage: str(lastError["stage"]), message: String(lastError["message"] ?? ""), problems: Array.isArray(lastError["problems"]) ? lastError["problems"].map(String) : [] }
        : null,
      // The last change failed while the previous config still runs (older documents: read from the health reason).
      rejected: typeof cfg["failing"] === "boolean" ? cfg["failing"] : String(doc["health"]?.reason ?? "").includes("gateway config not applied"),
    },
    channels: (Array.isArray(doc["channels"]) ? doc["channels"] : []).map((c: Doc) => ({
      serverId: String(c["serverId"]), name: String(c["name"] ?? c["serverId"]), protocol: String(c["protocol"] ?? ""),
      up: c["up"] === true, reason: str(c["reason"]),
      requests: num(c["requests"]), errors: num(c["errors"]), timeouts: num(c["timeouts"]),
      lastPollMs: num(c["lastPollMs"]), busUtilisation: num(c["busUtilisation"]),
      ...extras.rates(String(c["serverId"])),
    })),
    devices: {
      total: all.length,
      byState: countBy(all, (d) => d.state),
      online: all.filter((d) => d.online).length,
      notOnline: all.filter((d) => !d.online).slice(0, NOT_ONLINE_LISTED).map(({ key, deviceName, state, since, reason }) => ({ key, deviceName, state, since, reason })),
      query: { ...query, page },
      matches: matching.length,
      pages,
      items: matching.slice(page * query.size, (page + 1) * query.size),
    },
    outbox: doc["outbox"] ?? null,
    history: extras.history,
    logs: extras.logs,
  };
}

export type PageView = ReturnType<typeof buildView>;

/**
 * Views for event streams share one status document per `maxAgeMs` (several open pages cost one status build per
 * second); a single request (`fieldbridge status`, polling) always gets a fresh one.
 */
export function viewSource(status: () => Doc, extras: () => ViewExtras, maxAgeMs = 500): (q: ViewQuery, shared?: boolean) => PageView {
  let cached: { at: number; doc: Doc } | undefined;
  return (q, shared = false) => {
    const now = Date.now();
    if (!shared || !cached || now - cached.at > maxAgeMs) cached = { at: now, doc: status() };
    return buildView(cached.doc, q, extras());
  };
}
