/**
 * Gateway self-telemetry: key health figures posted as the gateway's own properties, so operators see them in
 * the cloud console. A figure is posted only when the gateway product's TSL (delivered in the pushed `tslList`)
 * defines a property with its identifier; values are checked against that TSL like any other.
 */
import type { GatewayView } from "./view.js";
import type { PropertyUplink } from "../things/batcher.js";

/** The documented identifiers and how each is computed. */
export const TELEMETRY: Record<string, (gw: GatewayView) => number | string> = {
  fbUptimeSeconds: (gw) => Math.round((Date.now() - gw.startedAt) / 1000),
  fbOnlineSubDevices: (gw) => gw.cloudStatus().devices.filter((d) => d.online).length,
  fbConfiguredSubDevices: (gw) => gw.appliedConfig()?.devices.length ?? 0,
  fbCloudReconnects: (gw) => Math.max(0, (gw.cloudStatus().counters["connects"] ?? 0) - 1),
  fbOutboxDepth: (gw) => gw.outbox().depth,
  fbOutboxOldestAgeSeconds: (gw) => Math.round(gw.outbox().oldestAgeMs / 1000),
  fbOutboxDropped: (gw) => Object.values(gw.outbox().dropped).reduce((a, b) => a + b, 0),
  fbSamplesTotal: (gw) => gw.thingsCounters().samples,
  fbValuesDropped: (gw) => gw.thingsCounters().dropped,
  fbChannelsDown: (gw) => gw.channels().filter((s) => !s.up).length + Object.keys(gw.channelErrors()).length,
  fbRssMegabytes: () => Math.round((process.memoryUsage.rss() / 1048576) * 10) / 10,
  fbVersion: (gw) => gw.version,
};

export class GatewayTelemetry {
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    private readonly gw: GatewayView,
    private readonly report: (p: PropertyUplink) => void,
    private intervalMs: number,
  ) {}

  start(): void {
    clearInterval(this.timer);
    this.started = true;
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => this.post(), this.intervalMs);
    this.timer.unref();
  }

  /** Queues one report of every figure the gateway's TSL defines. */
  post(): number {
    const own = this.gw.gatewayTsl();
    if (!own) return 0;
    const time = Date.now();
    let n = 0;
    for (const [identifier, compute] of Object.entries(TELEMETRY)) {
      if (!own.tsl.property(identifier)) continue;
      const converted = own.tsl.toTsl(identifier, compute(this.gw));
      if (!converted.ok) continue;
      this.report({ deviceKey: own.key, identifier, value: converted.value, time });
      n++;
    }
    return n;
  }

  /** A new period (remote settings): restarts the timer when running; 0 stops the reports. */
  setIntervalMs(ms: number): void {
    this.intervalMs = ms;
    if (this.started) this.start();
  }

  stop(): void {
    this.started = false;
    clearInterval(this.timer);
  }
}
