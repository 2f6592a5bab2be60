/** The Prometheus metrics of /metrics: registered once, read at scrape time from the view's readings. */
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Metrics } from "../ops/metrics.js";
import { health } from "./status.js";
import type { GatewayView } from "./view.js";

/**
 * Registers every metric. `deviceStates` lists every cloud device state so that each series exists from the start.
 * Returns the function that stops the event loop monitor.
 */
export function buildMetrics(gw: GatewayView, m: Metrics, deviceStates: readonly string[]): () => void {
  const one = (value: number) => [{ value }];
  // Channel names come from the cloud and need not be unique; the serverId is.
  const perChannel = (value: (s: ReturnType<GatewayView["channels"]>[number]) => number) => () =>
    gw.channels().map((s) => ({ labels: { channel: s.name, server_id: s.serverId }, value: value(s) }));
  const cloudCounter = (name: string) => () => one(gw.cloudStatus().counters[name] ?? 0);
  m.collect("fieldbridge_build_info", "version of the running fieldbridge and Node.js (value always 1)", "gauge", () => [
    { labels: { version: gw.version, node: process.versions.node, platform: gw.cloudStatus().platform }, value: 1 },
  ]);
  m.collect("fieldbridge_up", "1 while the daemon runs", "gauge", () => one(1));
  m.collect("fieldbridge_healthy", "1 while /healthz answers 200", "gauge", () => one(health(gw).ok ? 1 : 0));
  m.collect("process_start_time_seconds", "start time of the process since the Unix epoch", "gauge", () => one(Math.floor(gw.startedAt / 1000)));
  m.collect("fieldbridge_cloud_connected", "1 while the gateway's MQTT connection with the platform is up", "gauge", () => one(gw.cloudStatus().connected ? 1 : 0));
  m.collect("fieldbridge_cloud_down_seconds", "seconds since the gateway's MQTT connection was lost (0 while connected)", "gauge", () => {
    const down = gw.cloudStatus().downSince;
    return one(down ? Math.max(0, (Date.now() - down) / 1000) : 0);
  });
  m.collect("fieldbridge_cloud_reconnects_total", "connections re-established after a loss", "counter", () => one(Math.max(0, (gw.cloudStatus().counters["connects"] ?? 0) - 1)));
  m.collect("fieldbridge_cloud_refusals_total", "connections refused for bad credentials", "counter", cloudCounter("refusals"));
  m.collect("fieldbridge_cloud_routes", "cloud connections (routes) per state", "gauge", () => {
    const counts = new Map<string, number>();
    for (const r of gw.cloudStatus().routes) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    return [...counts].map(([state, value]) => ({ labels: { state }, value }));
  });
  m.collect("fieldbridge_samples_total", "samples received from field drivers", "counter", () => one(gw.thingsCounters().samples));
  m.collect("fieldbridge_values_reported_total", "values queued for the cloud", "counter", () => one(gw.thingsCounters().reported));
  m.collect("fieldbridge_values_dropped_total", "values dropped for violating the thing model", "counter", () => one(gw.thingsCounters().dropped));
  m.collect("fieldbridge_channel_up", "1 while a field channel is connected", "gauge", () =>
    gw.channels().map((s) => ({ labels: { channel: s.name, server_id: s.serverId, protocol: s.protocol }, value: s.up ? 1 : 0 })));
  m.collect("fieldbridge_channel_requests_total", "field requests per channel", "counter", perChannel((s) => s.requests));
  m.collect("fieldbridge_channel_errors_total", "failed field requests per channel", "counter", perChannel((s) => s.errors));
  m.collect("fieldbridge_channel_timeouts_total", "timed-out field requests per channel", "counter", perChannel((s) => s.timeouts));
  m.collect("fieldbridge_poll_duration_seconds", "duration of the last poll cycle per channel", "gauge", perChannel((s) => s.lastPollMs / 1000));
  m.collect("fieldbridge_bus_utilisation_ratio", "share of time a serial line was busy", "gauge", perChannel((s) => s.busUtilisation));
  m.collect("fieldbridge_uplinks_published_total", "uplink messages published", "counter", () => one(gw.delivery().published));
  m.collect("fieldbridge_uplinks_acked_total", "uplink sends acknowledged by the platform", "counter", () => one(gw.delivery().acked));
  m.collect("fieldbridge_uplinks_replayed_total", "uplink messages replayed from the backlog", "counter", () => one(gw.delivery().replayed));
  m.collect("fieldbridge_outbox_depth", "records waiting in the outbox", "gauge", () => one(gw.outbox().depth));
  m.collect("fieldbridge_outbox_bytes", "bytes waiting in the outbox", "gauge", () => one(gw.outbox().bytes));
  m.collect("fieldbridge_outbox_oldest_age_seconds", "age of the oldest sample in the outbox", "gauge", () => one(gw.outbox().oldestAgeMs / 1000));
  m.collect("fieldbridge_outbox_writable", "0 while writes to the outbox fail and new data is dropped", "gauge", () => one(gw.outbox().writable ? 1 : 0));
  m.collect("fieldbridge_outbox_dropped_total", "outbox records dropped, by reason", "counter", () =>
    Object.entries(gw.outbox().dropped).map(([reason, value]) => ({ labels: { reason }, value })));
  m.collect("fieldbridge_subdevices_online", "field devices online on the platform", "gauge", () => one(gw.cloudStatus().devices.filter((d) => d.online).length));
  m.collect("fieldbridge_subdevices", "configured field devices per platform state", "gauge", () => {
    const counts = new Map<string, number>(deviceStates.map((s) => [s, 0]));
    const states = new Map(gw.cloudStatus().devices.map((s) => [s.device, s.state]));
    for (const d of gw.appliedConfig()?.devices ?? []) {
      const st = states.get(d.key) ?? deviceStates[0] ?? "waiting";
      counts.set(st, (counts.get(st) ?? 0) + 1);
    }
    return [...counts].map(([state, value]) => ({ labels: { state }, value }));
  });
  m.collect("fieldbridge_logins_total", "successful device logins on the platform", "counter", cloudCounter("logins"));
  m.collect("fieldbridge_login_failures_total", "refused device logins", "counter", cloudCounter("loginFailures"));
  m.collect("fieldbridge_config_applied_total", "gateway configs applied", "counter", () => one(gw.configCounters().applied));
  m.collect("fieldbridge_config_rejected_total", "gateway configs rejected", "counter", () => one(gw.configCounters().rejected));
  m.collect("fieldbridge_config_failing", "1 while the last gateway config change failed (the previous config runs)", "gauge", () => one(gw.configFailing() ? 1 : 0));
  m.collect("fieldbridge_downlinks_total", "requests from the cloud handled", "counter", () => one(gw.commandCounters().requests));
  m.collect("process_resident_memory_bytes", "resident set size", "gauge", () => one(process.memoryUsage.rss()));
  // Stalls of the event loop delay every poll, publish and reply: visible here before they show anywhere else.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  m.collect("fieldbridge_event_loop_delay_seconds", "event loop delay since the previous scrape (p50, p99, max)", "gauge", () => {
    const out = [
      { labels: { quantile: "0.5" }, value: loop.percentile(50) / 1e9 },
      { labels: { quantile: "0.99" }, value: loop.percentile(99) / 1e9 },
      { labels: { quantile: "1" }, value: loop.max / 1e9 },
    ];
    loop.reset();
    return out;
  });
  return () => loop.disable();
}
