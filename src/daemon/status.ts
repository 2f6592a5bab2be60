/** What the local status endpoint shows: health, a status document (never a secret) and Prometheus metrics. */
import type { Gateway } from "./gateway.js";

export function health(gw: Gateway, unhealthyAfterMs: number): { ok: boolean; reason?: string } {
  if (gw.configs.failing) return { ok: false, reason: `gateway config not applied: ${gw.configs.status().lastError?.message ?? "unknown"}` };
  const downSince = gw.link.downSince;
  if (downSince && Date.now() - downSince > unhealthyAfterMs) {
    return { ok: false, reason: `cloud unreachable for ${Math.round((Date.now() - downSince) / 1000)} s` };
  }
  return { ok: true };
}

export function status(gw: Gateway): Record<string, unknown> {
  const outbox = gw.store.outbox.stats();
  const cfg = gw.configs.status();
  const channelsById = new Map(gw.field.stats().map((s) => [s.serverId, s]));
  const sessions = new Map(gw.subs.states().map((s) => [s.key, s]));
  const devices = gw.configs.config?.devices ?? [];
  return {
    gateway: { productKey: gw.identity.productKey, deviceName: gw.identity.deviceName, uptimeSeconds: Math.round((Date.now() - gw.startedAt) / 1000) },
    connection: {
      connected: gw.link.connected,
      host: gw.cfg.mqtt.host,
      port: gw.cfg.mqtt.port,
      tls: gw.cfg.mqtt.tls,
      downSince: gw.link.downSince ? new Date(gw.link.downSince).toISOString() : null,
      connects: gw.link.counters.connects,
      disconnects: gw.link.counters.disconnects,
    },
    config: {
      version: cfg.version ?? null,
      appliedAt: cfg.appliedAt ? new Date(cfg.appliedAt).toISOString() : null,
      source: cfg.source ?? null,
      channels: cfg.channels,
      devices: cfg.devices,
      warnings: cfg.warnings,
      lastError: cfg.lastError ? { ...cfg.lastError, at: new Date(cfg.lastError.at).toISOString() } : null,
    },
    channels: (gw.configs.config?.channels ?? []).map((c) => {
      const s = channelsById.get(c.serverId);
      const h = gw.things.channelHealthOf(c.serverId);
      return {
        serverId: c.serverId, name: c.name, protocol: c.protocol,
        up: h?.up ?? s?.up ?? false, reason: h?.reason ?? gw.field.channelErrors()[c.serverId] ?? null,
        requests: s?.requests ?? 0, errors: s?.errors ?? 0, timeouts: s?.timeouts ?? 0, lastPollMs: s?.lastPollMs ?? 0,
      };
    }),
    subDevices: devices.map((d) => {
      const s = sessions.get(d.key);
      const last = gw.things.lastSampleAt(d.key);
      return {
        productKey: d.productKey, deviceName: d.deviceName, serverId: d.serverId,
        state: s?.status ?? "waiting", reason: s?.reason ?? null,
        lastSampleAt: last ? new Date(last).toISOString() : null,
        values: Object.fromEntries([...gw.things.latest(d.key)].map(([k, v]) => [k, v.value])),
      };
    }),
    outbox: { depth: outbox.depth, bytes: outbox.bytes, oldestAgeSeconds: Math.round(outbox.oldestAgeMs / 1000), writable: outbox.writable },
  };
}

/** Registers every metric; values are read at scrape time from the parts' own counters. */
export function buildMetrics(gw: Gateway): void {
  const m = gw.metrics;
  const one = (value: number) => [{ value }];
  m.collect("fieldbridge_up", "1 while the daemon runs", "gauge", () => one(1));
  m.collect("fieldbridge_cloud_connected", "1 while the MQTT session with the platform is up", "gauge", () => one(gw.link.connected ? 1 : 0));
  m.collect("fieldbridge_cloud_reconnects_total", "connections re-established after a loss", "counter", () => one(Math.max(0, gw.link.counters.connects - 1)));
  m.collect("fieldbridge_cloud_refusals_total", "connections refused for bad credentials", "counter", () => one(gw.link.counters.refusals));
  m.collect("fieldbridge_samples_total", "samples received from field drivers", "counter", () => one(gw.things.counters.samples));
  m.collect("fieldbridge_values_reported_total", "values queued for the cloud", "counter", () => one(gw.things.report.counters().reported));
  m.collect("fieldbridge_values_dropped_total", "values dropped for violating the thing model", "counter", () => one(gw.things.report.counters().dropped));
  m.collect("fieldbridge_channel_up", "1 while a field channel is connected", "gauge", () => gw.field.stats().map((s) => ({ labels: { channel: s.name, protocol: s.protocol }, value: s.up ? 1 : 0 })));
  m.collect("fieldbridge_channel_requests_total", "field requests per channel", "counter", () => gw.field.stats().map((s) => ({ labels: { channel: s.name }, value: s.requests })));
  m.collect("fieldbridge_channel_errors_total", "failed field requests per channel", "counter", () => gw.field.stats().map((s) => ({ labels: { channel: s.name }, value: s.errors })));
  m.collect("fieldbridge_channel_timeouts_total", "timed-out field requests per channel", "counter", () => gw.field.stats().map((s) => ({ labels: { channel: s.name }, value: s.timeouts })));
  m.collect("fieldbridge_poll_duration_seconds", "duration of the last poll cycle per channel", "gauge", () => gw.field.stats().map((s) => ({ labels: { channel: s.name }, value: s.lastPollMs / 1000 })));
  m.collect("fieldbridge_bus_utilisation_ratio", "share of time a serial line was busy", "gauge", () => gw.field.stats().map((s) => ({ labels: { channel: s.name }, value: s.busUtilisation })));
  m.collect("fieldbridge_uplinks_published_total", "uplink messages published", "counter", () => one(gw.forwarder.stats().published));
  m.collect("fieldbridge_uplinks_acked_total", "uplink messages acknowledged by the broker", "counter", () => one(gw.forwarder.stats().acked));
  m.collect("fieldbridge_uplinks_replayed_total", "uplink messages replayed from the backlog", "counter", () => one(gw.forwarder.stats().replayed));
  m.collect("fieldbridge_outbox_depth", "messages waiting in the outbox", "gauge", () => one(gw.store.outbox.stats().depth));
  m.collect("fieldbridge_outbox_bytes", "bytes waiting in the outbox", "gauge", () => one(gw.store.outbox.stats().bytes));
  m.collect("fieldbridge_outbox_oldest_age_seconds", "age of the oldest sample in the outbox", "gauge", () => one(gw.store.outbox.stats().oldestAgeMs / 1000));
  m.collect("fieldbridge_outbox_dropped_total", "outbox entries dropped by limit", "counter", () => {
    const s = gw.store.outbox.stats();
    return [
      { labels: { reason: "size" }, value: s.droppedForSize },
      { labels: { reason: "age" }, value: s.droppedForAge },
      { labels: { reason: "write_failed" }, value: s.droppedWriteFailed },
    ];
  });
  m.collect("fieldbridge_subdevices_online", "sub-devices logged in", "gauge", () => one(gw.subs.onlineCount()));
  m.collect("fieldbridge_logins_total", "successful sub-device logins", "counter", () => one(gw.subs.counters.logins));
  m.collect("fieldbridge_login_failures_total", "refused sub-device logins", "counter", () => one(gw.subs.counters.loginFailures));
  m.collect("fieldbridge_config_applied_total", "gateway configs applied", "counter", () => one(gw.configs.counters.applied));
  m.collect("fieldbridge_config_rejected_total", "gateway configs rejected", "counter", () => one(gw.configs.counters.rejected));
  m.collect("fieldbridge_downlinks_total", "downlink requests handled", "counter", () => one(gw.router.counters.requests));
  m.collect("process_resident_memory_bytes", "resident set size", "gauge", () => one(process.memoryUsage.rss()));
}
