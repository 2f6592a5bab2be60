/** What the local status endpoint shows: health, a status document (never a secret) and Prometheus metrics. */
import type { Gateway } from "./gateway.js";
import type { SessionStatus } from "../cloud/aliyun/subdevices.js";
import { packageVersion } from "../ops/version.js";
import type { TslDocument } from "../things/tsl-types.js";

export interface Health {
  ok: boolean;
  /** Every failing check, joined with "; " (absent when healthy). */
  reason?: string;
}

/**
 * Unhealthy while the last gateway config change failed (the previous config still runs), while the outbox
 * cannot write to disk (new data is being dropped), or once the cloud has been unreachable for longer than
 * `unhealthyAfterMs`. Short outages are normal: the outbox keeps the data and replays it.
 */
export function health(gw: Gateway, unhealthyAfterMs: number): Health {
  const reasons: string[] = [];
  if (gw.configs.failing) reasons.push(`gateway config not applied: ${gw.configs.status().lastError?.message ?? "unknown"}`);
  if (!gw.store.outbox.stats().writable) reasons.push("outbox writes are failing (disk full or read-only?), new data is dropped");
  const downSince = gw.link.downSince;
  if (downSince && Date.now() - downSince > unhealthyAfterMs) {
    reasons.push(`cloud unreachable for ${Math.round((Date.now() - downSince) / 1000)} s`);
  }
  return reasons.length ? { ok: false, reason: reasons.join("; ") } : { ok: true };
}

/** Read once; the status output and `fieldbridge_build_info` show it. */
const VERSION = packageVersion();

const unhealthyAfterMs = (gw: Gateway) => gw.cfg.http.unhealthyAfterSeconds * 1000;
const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

export function status(gw: Gateway): Record<string, unknown> {
  const outbox = gw.store.outbox.stats();
  const cfg = gw.configs.status();
  const channelsById = new Map(gw.field.stats().map((s) => [s.serverId, s]));
  const sessions = new Map(gw.subs.states().map((s) => [s.key, s]));
  const devices = gw.configs.config?.devices ?? [];
  const h = health(gw, unhealthyAfterMs(gw));
  return {
    gateway: { productKey: gw.identity.productKey, deviceName: gw.identity.deviceName, version: VERSION, uptimeSeconds: Math.round((Date.now() - gw.startedAt) / 1000) },
    health: { ok: h.ok, reason: h.reason ?? null },
    firmware: gw.ota?.status() ?? null,
    connection: {
      connected: gw.link.connected,
      host: gw.cfg.mqtt.host,
      port: gw.cfg.mqtt.port,
      tls: gw.cfg.mqtt.tls,
      platform: gw.cfg.gateway.platform ?? "aliyun",
      downSince: iso(gw.link.downSince),
      connectedSince: iso(gw.link.connectedSince),
      connects: gw.link.counters.connects,
      disconnects: gw.link.counters.disconnects,
    },
    config: {
      version: cfg.version ?? null,
      appliedAt: iso(cfg.appliedAt),
      source: cfg.source ?? null,
      channels: cfg.channels,
      devices: cfg.devices,
      warnings: cfg.warnings,
      lastError: cfg.lastError ? { ...cfg.lastError, at: iso(cfg.lastError.at) } : null,
      failing: gw.configs.failing,
    },
    channels: (gw.configs.config?.channels ?? []).map((c) => {
      const s = channelsById.get(c.serverId);
      const ch = gw.things.channelHealthOf(c.serverId);
      return {
        serverId: c.serverId, name: c.name, protocol: c.protocol,
        up: ch?.up ?? s?.up ?? false, reason: ch?.reason ?? gw.field.channelErrors()[c.serverId] ?? null,
        requests: s?.requests ?? 0, errors: s?.errors ?? 0, timeouts: s?.timeouts ?? 0, lastPollMs: s?.lastPollMs ?? 0,
        busUtilisation: s?.busUtilisation ?? 0,
      };
    }),
    subDevices: devices.map((d) => {
      const s = sessions.get(d.key);
      return {
        productKey: d.productKey, deviceName: d.deviceName, serverId: d.serverId,
        state: s?.status ?? "waiting", reason: s?.reason ?? null,
        lastLoginAt: iso(s?.lastLoginAt),
        lastSampleAt: iso(gw.things.lastSampleAt(d.key)),
        values: Object.fromEntries([...gw.things.latest(d.key)].map(([k, v]) => [k, v.value])),
      };
    }),
    units: unitsOf(gw.configs.config?.products ?? {}),
    outbox: {
      depth: outbox.depth, bytes: outbox.bytes, oldestAgeSeconds: Math.round(outbox.oldestAgeMs / 1000),
      inFlight: outbox.inFlight, writable: outbox.writable,
    },
  };
}

/** productKey -> property identifier -> unit, for the properties whose thing model names one. */
function unitsOf(products: Record<string, TslDocument>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [pk, tsl] of Object.entries(products)) {
    for (const p of tsl.properties ?? []) {
      const specs = p.dataType?.specs as { unit?: unknown; unitName?: unknown } | undefined;
      const unit = typeof specs?.unit === "string" && specs.unit ? specs.unit : undefined;
      if (unit) (out[pk] ??= {})[p.identifier] = unit;
    }
  }
  return out;
}

/** Every session state, so that each series exists from the start (the compiler checks the list is complete). */
const SESSION_STATES = Object.keys({
  waiting: 0, online: 0, offline: 0, disabled: 0, deleted: 0, conflict: 0, error: 0,
} satisfies Record<SessionStatus, 0>) as SessionStatus[];

/** Registers every metric; values are read at scrape time from the parts' own counters. */
export function buildMetrics(gw: Gateway): void {
  const m = gw.metrics;
  const one = (value: number) => [{ value }];
  // Channel names come from the cloud and need not be unique; the serverId is.
  const perChannel = (value: (s: ReturnType<Gateway["field"]["stats"]>[number]) => number) => () =>
    gw.field.stats().map((s) => ({ labels: { channel: s.name, server_id: s.serverId }, value: value(s) }));
  m.collect("fieldbridge_build_info", "version of the running fieldbridge and Node.js (value always 1)", "gauge", () => [
    { labels: { version: VERSION, node: process.versions.node }, value: 1 },
  ]);
  m.collect("fieldbridge_up", "1 while the daemon runs", "gauge", () => one(1));
  m.collect("fieldbridge_healthy", "1 while /healthz answers 200", "gauge", () => one(health(gw, unhealthyAfterMs(gw)).ok ? 1 : 0));
  m.collect("process_start_time_seconds", "start time of the process since the Unix epoch", "gauge", () => one(Math.floor(gw.startedAt / 1000)));
  m.collect("fieldbridge_cloud_connected", "1 while the MQTT session with the platform is up", "gauge", () => one(gw.link.connected ? 1 : 0));
  m.collect("fieldbridge_cloud_down_seconds", "seconds since the MQTT session was lost (0 while connected)", "gauge", () =>
    one(gw.link.downSince ? Math.max(0, (Date.now() - gw.link.downSince) / 1000) : 0));
  m.collect("fieldbridge_cloud_reconnects_total", "connections re-established after a loss", "counter", () => one(Math.max(0, gw.link.counters.connects - 1)));
  m.collect("fieldbridge_cloud_refusals_total", "connections refused for bad credentials", "counter", () => one(gw.link.counters.refusals));
  m.collect("fieldbridge_samples_total", "samples received from field drivers", "counter", () => one(gw.things.counters.samples));
  m.collect("fieldbridge_values_reported_total", "values queued for the cloud", "counter", () => one(gw.things.report.counters().reported));
  m.collect("fieldbridge_values_dropped_total", "values dropped for violating the thing model", "counter", () => one(gw.things.report.counters().dropped));
  m.collect("fieldbridge_channel_up", "1 while a field channel is connected", "gauge", () =>
    gw.field.stats().map((s) => ({ labels: { channel: s.name, server_id: s.serverId, protocol: s.protocol }, value: s.up ? 1 : 0 })));
  m.collect("fieldbridge_channel_requests_total", "field requests per channel", "counter", perChannel((s) => s.requests));
  m.collect("fieldbridge_channel_errors_total", "failed field requests per channel", "counter", perChannel((s) => s.errors));
  m.collect("fieldbridge_channel_timeouts_total", "timed-out field requests per channel", "counter", perChannel((s) => s.timeouts));
  m.collect("fieldbridge_poll_duration_seconds", "duration of the last poll cycle per channel", "gauge", perChannel((s) => s.lastPollMs / 1000));
  m.collect("fieldbridge_bus_utilisation_ratio", "share of time a serial line was busy", "gauge", perChannel((s) => s.busUtilisation));
  m.collect("fieldbridge_uplinks_published_total", "uplink messages published", "counter", () => one(gw.forwarder.stats().published));
  m.collect("fieldbridge_uplinks_acked_total", "uplink messages acknowledged by the broker", "counter", () => one(gw.forwarder.stats().acked));
  m.collect("fieldbridge_uplinks_replayed_total", "uplink messages replayed from the backlog", "counter", () => one(gw.forwarder.stats().replayed));
  m.collect("fieldbridge_outbox_depth", "messages waiting in the outbox", "gauge", () => one(gw.store.outbox.stats().depth));
  m.collect("fieldbridge_outbox_bytes", "bytes waiting in the outbox", "gauge", () => one(gw.store.outbox.stats().bytes));
  m.collect("fieldbridge_outbox_oldest_age_seconds", "age of the oldest sample in the outbox", "gauge", () => one(gw.store.outbox.stats().oldestAgeMs / 1000));
  m.collect("fieldbridge_outbox_writable", "0 while writes to the outbox fail and new data is dropped", "gauge", () => one(gw.store.outbox.stats().writable ? 1 : 0));
  m.collect("fieldbridge_outbox_dropped_total", "outbox entries dropped by limit", "counter", () => {
    const s = gw.store.outbox.stats();
    return [
      { labels: { reason: "size" }, value: s.droppedForSize },
      { labels: { reason: "age" }, value: s.droppedForAge },
      { labels: { reason: "write_failed" }, value: s.droppedWriteFailed },
    ];
  });
  m.collect("fieldbridge_subdevices_online", "sub-devices logged in", "gauge", () => one(gw.subs.onlineCount()));
  m.collect("fieldbridge_subdevices", "configured sub-devices per session state", "gauge", () => {
    const counts = new Map<string, number>(SESSION_STATES.map((s) => [s, 0]));
    const configured = new Set((gw.configs.config?.devices ?? []).map((d) => d.key));
    const states = new Map(gw.subs.states().map((s) => [s.key, s.status]));
    for (const key of configured) {
      const st = states.get(key) ?? "waiting";
      counts.set(st, (counts.get(st) ?? 0) + 1);
    }
    return [...counts].map(([state, value]) => ({ labels: { state }, value }));
  });
  m.collect("fieldbridge_logins_total", "successful sub-device logins", "counter", () => one(gw.subs.counters.logins));
  m.collect("fieldbridge_login_failures_total", "refused sub-device logins", "counter", () => one(gw.subs.counters.loginFailures));
  m.collect("fieldbridge_config_applied_total", "gateway configs applied", "counter", () => one(gw.configs.counters.applied));
  m.collect("fieldbridge_config_rejected_total", "gateway configs rejected", "counter", () => one(gw.configs.counters.rejected));
  m.collect("fieldbridge_config_failing", "1 while the last gateway config change failed (the previous config runs)", "gauge", () => one(gw.configs.failing ? 1 : 0));
  m.collect("fieldbridge_downlinks_total", "downlink requests handled", "counter", () => one(gw.router.counters.requests));
  m.collect("process_resident_memory_bytes", "resident set size", "gauge", () => one(process.memoryUsage.rss()));
}
