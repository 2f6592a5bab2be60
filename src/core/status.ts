/** What the local status endpoint shows: health and a status document (never a secret). */
import type { GatewayView } from "./view.js";
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
export function health(gw: GatewayView): Health {
  const reasons: string[] = [];
  if (gw.configFailing()) reasons.push(`gateway config not applied: ${gw.configStatus().lastError?.message ?? "unknown"}`);
  if (!gw.outbox().writable) reasons.push("outbox writes are failing (disk full or read-only?), new data is dropped");
  const cloud = gw.cloudStatus();
  const route = cloud.routes.find((r) => r.route === "gateway") ?? cloud.routes[0];
  // A refusal (credentials, or a TLS handshake the broker's certificate fails) does not heal by waiting: say so at once.
  if (!cloud.connected && route && (route.state === "refused" || /^TLS:/.test(route.reason ?? ""))) {
    reasons.push(`cloud connection refused: ${route.reason ?? route.state}`);
  } else if (cloud.downSince && Date.now() - cloud.downSince > gw.unhealthyAfterMs) {
    const why = cloud.routes[0]?.reason;
    reasons.push(`cloud unreachable for ${Math.round((Date.now() - cloud.downSince) / 1000)} s${why ? ` (${why})` : ""}`);
  }
  return reasons.length ? { ok: false, reason: reasons.join("; ") } : { ok: true };
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

export function status(gw: GatewayView): Record<string, unknown> {
  const outbox = gw.outbox();
  const cfg = gw.configStatus();
  const applied = gw.appliedConfig();
  const channelsById = new Map(gw.channels().map((s) => [s.serverId, s]));
  const cloud = gw.cloudStatus();
  const sessions = new Map(cloud.devices.map((s) => [s.device, s]));
  const devices = applied?.devices ?? [];
  const h = health(gw);
  const gwRoute = cloud.routes[0];
  return {
    gateway: {
      platform: cloud.platform, productKey: gw.gatewayDevice().productKey, deviceName: gw.gatewayDevice().deviceName,
      version: gw.version, uptimeSeconds: Math.round((Date.now() - gw.startedAt) / 1000),
    },
    health: { ok: h.ok, reason: h.reason ?? null },
    firmware: cloud.firmware ?? null,
    connection: {
      connected: cloud.connected,
      state: gwRoute?.state ?? null,
      reason: gwRoute?.reason ?? null,
      host: gw.endpoint.host,
      port: gw.endpoint.port,
      tls: gw.endpoint.tls,
      platform: cloud.platform,
      downSince: iso(cloud.downSince),
      connectedSince: cloud.connected ? iso(gwRoute?.since) : null,
      connects: cloud.counters["connects"] ?? 0,
      disconnects: gwRoute?.reconnects ?? 0,
    },
    cloud: {
      ...cloud,
      downSince: iso(cloud.downSince),
      routes: cloud.routes.map((r) => ({ ...r, since: iso(r.since) })),
      devices: cloud.devices.map((d) => ({ ...d, since: iso(d.since) })),
    },
    config: {
      version: cfg.version ?? null,
      appliedAt: iso(cfg.appliedAt),
      source: cfg.source ?? null,
      channels: cfg.channels,
      devices: cfg.devices,
      warnings: cfg.warnings,
      lastError: cfg.lastError ? { ...cfg.lastError, at: iso(cfg.lastError.at) } : null,
      failing: gw.configFailing(),
    },
    remoteSettings: gw.remoteSettings?.() ?? null,
    channels: (applied?.channels ?? []).map((c) => {
      const s = channelsById.get(c.serverId);
      const ch = gw.channelHealth(c.serverId);
      return {
        serverId: c.serverId, name: c.name, protocol: c.protocol,
        up: ch?.up ?? s?.up ?? false, reason: ch?.reason ?? gw.channelErrors()[c.serverId] ?? null,
        requests: s?.requests ?? 0, errors: s?.errors ?? 0, timeouts: s?.timeouts ?? 0, lastPollMs: s?.lastPollMs ?? 0,
        busUtilisation: s?.busUtilisation ?? 0,
      };
    }),
    subDevices: devices.map((d) => {
      const s = sessions.get(d.key);
      return {
        productKey: d.productKey, deviceName: d.deviceName, serverId: d.serverId,
        state: s?.state ?? "waiting", reason: s?.reason ?? null,
        lastLoginAt: iso(s?.since),
        lastSampleAt: iso(gw.lastSampleAt(d.key)),
        values: Object.fromEntries([...gw.latest(d.key)].map(([k, v]) => [k, v.value])),
      };
    }),
    units: unitsOf(applied?.products ?? {}),
    ...(gw.cloudTslStatus?.().length ? { cloudTsl: gw.cloudTslStatus() } : {}),
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
      const specs = p.dataType?.specs as { unit?: unknown } | undefined;
      const unit = typeof specs?.unit === "string" && specs.unit ? specs.unit : undefined;
      if (unit) (out[pk] ??= {})[p.identifier] = unit;
    }
  }
  return out;
}
