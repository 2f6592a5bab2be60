/** What the parts of the sub-device session machinery share: a device's session record and their context. */
import type { Logger } from "pino";
import type { AlinkConnection } from "./connection.js";
import type { Identity } from "./topics.js";

export interface SecretRepository {
  get(productKey: string, deviceName: string): string | undefined;
  set(productKey: string, deviceName: string, secret: string): void;
  delete(productKey: string, deviceName: string): void;
}

export interface SubDeviceLimits {
  /** Cap on sub-devices online at once (platform: 1500). */
  maxOnline: number;
  /** Gateway-wide login pace. */
  loginsPerSecond: number;
  /** Devices per registration / topo request. */
  batchSize: number;
  /** Delete topology relations of devices no longer configured. */
  pruneTopology: boolean;
}

export type SessionStatus =
  | "waiting" // configured, not yet logged in (no secret yet, no topo yet, field not reachable, or backing off)
  | "online"
  | "offline" // field device unreachable: logged out on purpose
  | "disabled" // disabled in the cloud (thing.disable or 522)
  | "deleted" // deleted in the cloud (thing.delete or 521)
  | "conflict" // logged in elsewhere (427)
  | "error"; // needs the operator: bad secret, not found, parameter error

export interface SessionState {
  key: string;
  productKey: string;
  deviceName: string;
  status: SessionStatus;
  reason?: string;
  loginCount: number;
  lastLoginAt?: number;
}

export interface Dev extends Identity {
  key: string;
  configured: boolean;
  /** The field driver can reach it (unknown until the first sample or health report). */
  fieldOnline: boolean;
  status: SessionStatus;
  reason?: string;
  bound: boolean;
  online: boolean;
  loginTimes: number[];
  nextAttemptAt: number;
  /** 6401 recoveries within the current 10-minute window. */
  topoRetries: number[];
  reRegistered: boolean;
  loginCount: number;
  lastLoginAt?: number;
  inFlight: boolean;
}

export const MINUTE = 60_000;

/** What registration, topology and logins get from the session manager. */
export interface SessionContext {
  readonly link: AlinkConnection;
  readonly logger: Logger;
  readonly limits: SubDeviceLimits;
  readonly secrets: SecretRepository;
  readonly counters: { logins: number; loginFailures: number; logouts: number; registrations: number; topoAdds: number; topoDeletes: number };
  readonly devs: Map<string, Dev>;
  now(): number;
  /** The clock reading of the current pass. */
  passNow(): number;
  stopped(): boolean;
  secretOf(dev: Dev): string | undefined;
  /** True when the secret came from the bootstrap file (not ours to replace). */
  provisioned(dev: Dev): boolean;
  setStatus(dev: Dev, status: SessionStatus, reason?: string): void;
  /** Waits `baseMs` (±20 %) before the next attempt; the status stays "waiting" with the reason. */
  backoff(dev: Dev, baseMs: number, reason: string): void;
  markOffline(dev: Dev, status: SessionStatus, reason: string): void;
  /** Ask for another pass as soon as this one ends. */
  repump(): void;
  /** A login succeeded and the device's topics are subscribed. */
  online(dev: Dev): void;
  wantsLogin(dev: Dev): boolean;
}

export function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
