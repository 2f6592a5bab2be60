/**
 * Gateway self-telemetry: key health figures posted as the gateway's own properties, so operators see them in
 * the cloud console. A figure is posted only when the gateway product's TSL (delivered in the pushed `tslList`)
 * defines a property with its identifier; values are checked against that TSL like any other.
 */
import type { Gateway } from "./gateway.js";

/** The documented identifiers and how each is computed. */
export const TELEMETRY: Record<string, (gw: Gateway) => number | string> = {
  fbUptimeSeconds: (gw) => Math.round((Date.now() - gw.startedAt) / 1000),
  fbOnlineSubDevices: (gw) => gw.subs.onlineCount(),
  fbConfiguredSubDevices: (gw) => gw.configs.config?.devices.length ?? 0,
  fbCloudReconnects: (gw) => Math.max(0, gw.link.counters.connects - 1),
  fbOutboxDepth: (gw) => gw.store.outbox.stats().depth,
  fbOutboxOldestAgeSeconds: (gw) => Math.round(gw.store.outbox.stats().oldestAgeMs / 1000),
  fbOutboxDropped: (gw) => {
    const s = gw.store.outbox.stats();
    return s.droppedForSize + s.droppedForAge + s.droppedWriteFailed;
  },
  fbSamplesTotal: (gw) => gw.things.counters.samples,
  fbValuesDropped: (gw) => gw.things.report.counters().dropped,
  fbChannelsDown: (gw) => gw.field.stats().filter((s) => !s.up).length + Object.keys(gw.field.channelErrors()).length,
  fbRssMegabytes: () => Math.round((process.memoryUsage.rss() / 1048576) * 10) / 10,
  fbVersion: (gw) => gw.ota.version,
};

export class GatewayTelemetry {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly gw: Gateway, private readonly intervalMs: number) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => this.post(), this.intervalMs);
    this.timer.unref();
  }

  /** Queues one report of every figure the gateway's TSL defines. */
  post(): number {
    const gw = this.gw;
    const tsl = gw.things.tsl(gw.identity.productKey);
    if (!tsl) return 0;
    const types = new Map((gw.configs.config?.products[gw.identity.productKey]?.properties ?? []).map((p) => [p.identifier, p.dataType]));
    const time = Date.now();
    let n = 0;
    for (const [identifier, compute] of Object.entries(TELEMETRY)) {
      const dataType = types.get(identifier);
      if (!dataType) continue;
      const converted = tsl.toTsl(identifier, compute(gw));
      if (!converted.ok) continue;
      gw.things.batcher.addProperty({ deviceKey: gw.gwKey, identifier, value: converted.value, time, tslType: dataType });
      n++;
    }
    return n;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
