/**
 * The read-only view of the running gateway that the status endpoint, the metrics and the self-telemetry get:
 * plain readings, no parts to reach into.
 */
import type { PlatformStatus } from "../cloud/platform.js";
import type { GatewayConfig } from "../config/gateway/index.js";
import type { ChannelStats } from "../field/driver.js";
import type { ConfigStatus } from "./config-manager.js";
import type { TslValue } from "../things/tsl-value.js";
import type { CompiledTsl } from "../things/tsl.js";
import type { RemoteSettingsStatus } from "./remote-settings.js";

export interface OutboxReading {
  depth: number;
  bytes: number;
  oldestAgeMs: number;
  inFlight: number;
  writable: boolean;
  dropped: Record<string, number>;
}

export interface DeliveryReading {
  published: number;
  acked: number;
  failed: number;
  replayed: number;
}

export interface GatewayView {
  readonly startedAt: number;
  readonly version: string;
  /** `http.unhealthyAfterSeconds` in ms. */
  readonly unhealthyAfterMs: number;
  /** The endpoint the cloud connection uses (no credentials). */
  readonly endpoint: { host: string; port: number; tls: boolean };
  /** The gateway's own device on its platform. */
  gatewayDevice(): { key: string; productKey: string; deviceName: string };
  cloudStatus(): PlatformStatus;
  configStatus(): ConfigStatus;
  configFailing(): boolean;
  /** Settings the cloud set (its file's id, keys, a refusal), where the platform has remote configuration. */
  remoteSettings?(): RemoteSettingsStatus;
  /** Products whose thing model comes from the cloud (core/cloud-tsl.ts); absent or empty when none. */
  cloudTslStatus?(): Array<{ productKey: string; state: string }>;
  appliedConfig(): GatewayConfig | null;
  outbox(): OutboxReading;
  delivery(): DeliveryReading;
  channels(): Array<ChannelStats & { name: string }>;
  channelErrors(): Record<string, string>;
  channelHealth(serverId: string): { up: boolean; reason?: string; since: number } | undefined;
  latest(device: string): Map<string, { value: TslValue; time: number }>;
  lastSampleAt(device: string): number;
  thingsCounters(): { samples: number; reported: number; dropped: number };
  commandCounters(): { requests: number; refused: number; failed: number };
  configCounters(): { pushes: number; applied: number; rejected: number };
  /** The gateway's own device and its compiled thing model (self-telemetry), when the document has one. */
  gatewayTsl(): { key: string; tsl: CompiledTsl } | undefined;
}
