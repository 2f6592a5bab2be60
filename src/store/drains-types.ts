/** The shapes of the per-route drains: what they drain to, their options, their stats, their inner state. */
import type { DeviceKey, PlatformAdapter, RouteId, UplinkRecord } from "../cloud/platform.js";
import type { Logger } from "../ops/logger.js";
import type { RecordOutbox } from "./records.js";

export type DrainTarget = Pick<PlatformAdapter, "routeOf" | "ready" | "maxRecordsPerSend" | "send"> & {
  /** False: one shared route (GATEWAY_ROUTE) for every record. True: each device's records travel on `routeOf(device)`. */
  readonly perDeviceRoutes: boolean;
};

export interface DrainsOptions {
  outbox: RecordOutbox;
  target: DrainTarget;
  logger: Logger;
  /** Sends in flight per route (default 32). */
  window?: number;
  /** Sends in flight over all routes (default 256). */
  globalWindow?: number;
  /** Backlog replay pace over all routes, MQTT messages per second (default 50). */
  replayRatePerSec?: number;
  /** Backlog messages that may go out at once (default 10). */
  replayBurst?: number;
  /** Pause of a route after a record came back unsent or refused, unless woken first (default 1,000 ms). */
  retryDelayMs?: number;
  /** A send not settled by then counts as unsent (default 60 s). */
  publishTimeoutMs?: number;
  /** Refusals (`retry`) after which a record is dropped (default 5). */
  maxAttempts?: number;
  /** Records skipped because their device was not ready are reconsidered at least this often (default 10 s). */
  rescanIntervalMs?: number;
}

export interface DrainStats {
  /** Records handed to the platform (sent again after a failure included). */
  published: number;
  acked: number;
  /** Records that came back unsent, refused or without an answer in time. */
  failed: number;
  rejected: number;
  /** Records the platform found too old (dropped, counted apart from rejections). */
  expired: number;
  /** Records sent from a backlog. */
  replayed: number;
  /** MQTT messages the sends cost. */
  messages: number;
  /** Sends in flight. */
  inFlight: number;
  /** True while some route may still have backlog to replay. */
  replaying: boolean;
  routes: number;
}

export interface RouteDrainStats {
  inFlight: number;
  /** Records stored up to the route's backlog boundary (in flight included). */
  backlog: number;
  /** Waiting after a failure. */
  paused: boolean;
  /** Reported down by the platform. */
  down: boolean;
}

export interface Lane {
  /** undefined: every record (the shared route). */
  device: DeviceKey | undefined;
  /** Records with seq <= backlogEnd are history (paced, seq order); above it, live. */
  backlogEnd: number;
  backlogCursor: number;
  backlogDone: boolean;
  liveCursor: number;
  /** A record was skipped because its device was not ready. */
  skipped: boolean;
}

export interface Route {
  id: RouteId;
  lanes: Lane[];
  inFlight: number;
  pausedUntil: number;
  down: boolean;
  /** lastSeq at the route's latest connect. */
  boundary: number;
}

export interface Flight {
  id: number;
  route: Route;
  lane: Lane;
  records: readonly UplinkRecord[];
  replay: boolean;
  timer: NodeJS.Timeout;
  settled: Promise<void>;
}
