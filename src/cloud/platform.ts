/**
 * The north interface: what the core and a cloud adapter say to each other, in neutral terms.
 *
 * The core never speaks a wire protocol. It hands an adapter the devices of the applied gateway config document,
 * neutral uplink records (device, kind, sample time, values) to send on a route, and the field health of each
 * device; the adapter hands the core requests (property set/get, service call), config and firmware offers,
 * lifecycle commands and the presence of each route. Topics, envelopes, ids, reply codes, signing and sessions
 * stay inside `cloud/<platform>/`.
 *
 * A route is one MQTT connection: the gateway's connection on gateway platforms (Alibaba, Tencent), one per device
 * on per-device platforms (Huawei, Lierda). The core drains the outbox per route.
 */
import type { Logger } from "pino";
import type { TslDocument } from "../things/tsl-types.js";
import type { TslValue } from "../things/tsl-value.js";
import type { DeviceSpec } from "../config/gateway/model.js";
import type { Metrics } from "../ops/metrics.js";
import type { SecretStore } from "../store/secrets.js";
import type { KvStore } from "../store/kv.js";
import type { BootstrapConfig, ConfigProblem } from "../config/bootstrap/load.js";
import type { DocumentProblem, DocumentSections } from "../config/gateway/parse.js";

export type PlatformName = "aliyun" | "tencent" | "huawei" | "lierda";
export const PLATFORM_NAMES: readonly PlatformName[] = ["aliyun", "tencent", "huawei", "lierda"];

/** `${productKey}/${deviceName}` (see `deviceKey()` in core/device-key.ts): the one key of a device everywhere. */
export type DeviceKey = string;
/** "gateway" for the gateway's shared connection, else a device key (the device's own connection). */
export type RouteId = string;
export const GATEWAY_ROUTE: RouteId = "gateway";

/** One device of the applied document, as an adapter sees it. */
export interface PlatformDevice {
  key: DeviceKey;
  productKey: string;
  deviceName: string;
  /** Its thing model in the document's form (undefined when the document has none for the product). */
  tsl: TslDocument | undefined;
  /** Where it sits on the field side (for tags and status). */
  spec: DeviceSpec;
}

// ---- uplinks ----

export interface PropertySample {
  identifier: string;
  /** Converted and checked against the thing model. */
  value: TslValue;
  /** Sample time, epoch ms. */
  time: number;
}

interface RecordBase {
  /** Position in the outbox: increasing in append order, never reused. */
  seq: number;
  device: DeviceKey;
  /** Sample time (the oldest in the record), epoch ms. */
  time: number;
  /** Refusals after delivery so far (persisted with the record). */
  attempts: number;
}

/** Property values of one device sampled in one batch window; an identifier may appear more than once (in time order). */
export interface PropertiesRecord extends RecordBase {
  kind: "properties";
  values: PropertySample[];
}

export interface EventRecord extends RecordBase {
  kind: "event";
  identifier: string;
  /** Output values keyed by output identifier, checked against the thing model. */
  outputs: Record<string, TslValue>;
}

/** A wire message written by an older release (outbox schema 1), sent as is by the platform that wrote it. */
export interface WireRecord extends RecordBase {
  kind: "wire";
  platform: PlatformName;
  topic: string;
  payload: string;
  /** Every device whose data the message carries. */
  devices: DeviceKey[];
}

export type UplinkRecord = PropertiesRecord | EventRecord | WireRecord;

type WithoutStoreFields<T> = T extends unknown ? Omit<T, "seq" | "attempts"> : never;
/** A record as the core appends it (the outbox gives it its seq). */
export type NewRecord = WithoutStoreFields<PropertiesRecord | EventRecord>;

/** What the platform said about one record. */
export type RecordResult =
  /** Acknowledged by the platform (its reply, or the PUBACK where the protocol has no reply): delete. */
  | { seq: number; result: "ok" }
  /** Not delivered (connection lost, not ready): send again later; not counted as an attempt. */
  | { seq: number; result: "unsent"; reason: string }
  /** Refused in a way a later attempt can fix (no session, busy, timeout waiting for the reply): counted, sent again. */
  | { seq: number; result: "retry"; reason: string }
  /** Refused for good (invalid for the platform): dropped, counted and logged. */
  | { seq: number; result: "reject"; reason: string }
  /**
   * Too old for the platform (its replay limit, or the platform's own window): dropped and counted apart from
   * rejections; the adapter logs it (once per device and run).
   */
  | { seq: number; result: "expired"; reason: string };

/** A send in progress: how many MQTT messages it costs (the replay pace counts these) and its per-record results. */
export interface Sending {
  messages: number;
  done: Promise<RecordResult[]>;
}

// ---- requests from the cloud ----

export type CloudRequest =
  | { kind: "propertySet"; device: DeviceKey; values: Record<string, unknown> }
  /** Empty identifiers: every property with a value. */
  | { kind: "propertyGet"; device: DeviceKey; identifiers: string[] }
  | { kind: "service"; device: DeviceKey; service: string; inputs: Record<string, unknown> };

export type FailureKind =
  /** The request is malformed or does not fit the thing model (out of range, wrong type). */
  | "badRequest"
  /** An identifier, service or event the thing model does not define. */
  | "unknownIdentifier"
  /** The property is read-only (no write mapping). */
  | "readOnly"
  /** The device is not served by this gateway. */
  | "unknownDevice"
  /** The field device did not answer in time. */
  | "timeout"
  /** The field device failed in another way. */
  | "fieldError"
  /** The Modbus device answered with an exception. */
  | "modbusException"
  /** The OPC UA server answered with a bad status. */
  | "opcuaBadStatus"
  /** The field channel is not connected. */
  | "notConnected"
  /** The device or gateway cannot do this (no such service on the gateway). */
  | "unsupported"
  /** Outputs of a service do not match the thing model, or an internal failure. */
  | "internal";

export type Outcome =
  | { ok: true; data?: Record<string, TslValue> }
  | { ok: false; kind: FailureKind; message: string };

// ---- offers ----

export interface ConfigOffer {
  url: string;
  /** Expected digest of the document bytes (hex or base64); absent: not checked. */
  digest?: string;
  /** sha256 (default), md5, sha1. */
  digestMethod?: string;
  /** Expected size in bytes, when the platform says. */
  size?: number;
  /** The platform's version or name of the document, for status. */
  version?: string;
  /** Download progress 0..100. */
  progress?: (percent: number) => void;
}

export type ConfigStage = "request" | "download" | "digest" | "validation" | "apply";

export type ConfigOutcome =
  | { ok: true; message?: string }
  | { ok: false; stage: ConfigStage; message: string; problems: string[] };

export interface FirmwareOffer {
  version: string;
  url: string;
  size?: number;
  digest?: string;
  digestMethod?: string;
  module?: string;
}

export type FirmwareStep = "download" | "verify" | "install";

export type FirmwareOutcome =
  | { ok: true }
  | { ok: false; step: FirmwareStep; message: string };

export type LifecycleAction = "suspend" | "resume" | "remove";

/** A product's thing model as the platform returned it (not checked yet: the core validates it), or why not. */
export type TslFetch =
  | { ok: true; tsl: unknown }
  /** `otherDevice`: this device cannot give it (e.g. not in the product), another one of the product may. */
  | { ok: false; reason: string; otherDevice?: boolean };

// ---- status ----

export type LinkState = "connecting" | "online" | "backoff" | "refused" | "offline" | "stopped";

export interface RouteStatus {
  route: RouteId;
  state: string;
  since: number;
  reason?: string;
  reconnects: number;
}

export interface DeviceCloudStatus {
  device: DeviceKey;
  /** Adapter-specific state name (online, offline, bindFailed, noCredentials, refused, …). */
  state: string;
  online: boolean;
  since: number;
  reason?: string;
}

export interface PlatformStatus {
  platform: PlatformName;
  /** The gateway's own connection (per-device platforms: the gateway device's). */
  connected: boolean;
  /** Epoch ms since the gateway's connection has been down (0 while connected). */
  downSince: number;
  routes: RouteStatus[];
  devices: DeviceCloudStatus[];
  counters: Record<string, number>;
  /** The gateway's firmware: running version, an upgrade in progress. */
  firmware?: { version: string; upgrading?: { version: string; phase: string; step: number }; installed?: string };
}

// ---- the two sides ----

/** What the core hands an adapter. */
export interface Core {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly secrets: SecretStore;
  readonly kv: KvStore;
  /** Data dir (adapters keep files such as firmware downloads under it). */
  readonly dataDir: string;
  /** The version this gateway reports. */
  readonly version: string;
  /** Gateway-wide message ids: decimal strings, unique and increasing, also across restarts and a lost database. */
  nextId(): string;
  /** TSL check, then field write/call; never rejects. */
  request(r: CloudRequest): Promise<Outcome>;
  /** Download, check, validate, apply and persist a gateway config document; never rejects. */
  offerConfig(o: ConfigOffer): Promise<ConfigOutcome>;
  /** A config delivery that is not a valid request: recorded (log, status) like any other failed document. */
  rejectConfig(stage: ConfigStage, message: string): void;
  /**
   * A remote settings file (the platform's remote configuration, e.g. Alibaba `thing.config.push`): a JSON object of
   * bootstrap runtime keys (`store.*`, `field.*`, `uplink.*`, `telemetry.*`, `log.level`). Downloaded (HTTPS, at most
   * 64 KB), checked against `digest`, validated with the bootstrap schema (unknown and forbidden keys are problems),
   * persisted and applied: live keys at once, the others at the next start. `version` is the platform's id of the
   * file (the same id and digest offered again is not downloaded again). Refused files change nothing; never rejects.
   * Optional: a core without it (a test double) has no remote settings, and the adapter answers the platform so.
   */
  offerSettings?(o: ConfigOffer): Promise<ConfigOutcome>;
  /** Download, verify and hand a firmware to the install command; never rejects. */
  offerFirmware(o: FirmwareOffer, progress: (step: FirmwareStep, percent: number) => void): Promise<FirmwareOutcome>;
  /** The cloud suspended, resumed or removed a device (removed: not polled, its waiting records dropped). */
  lifecycle(device: DeviceKey, action: LifecycleAction): Promise<void>;
  /**
   * Stops polling a device for a lasting cause the platform knows (no credentials, over a connection cap, refused,
   * unbound without a key), or releases that cause (`held` false). The device is polled while no cause holds it;
   * holds outlive channel restarts and document applies. Causes are short words; the cloud's own suspend (`lifecycle`)
   * is the cause "cloud". Values already waiting stay in the outbox.
   */
  hold(device: DeviceKey, cause: string, held: boolean): void;
  /** A route came up or went down: wakes that route's drain. */
  presence(route: RouteId, up: boolean): void;
  /** A device (re)joined the cloud after being away: its trigger-2 points report their current value again. */
  deviceRejoined(device: DeviceKey): void;
}

export interface PlatformAdapter {
  readonly name: PlatformName;
  /** The gateway's own device (its key is the one the document's tslList uses for self-telemetry). */
  readonly gateway: { key: DeviceKey; productKey: string; deviceName: string };
  /**
   * The secret that decrypts OPC UA passwords of the document on this platform (alink.md 5.6 and each platform
   * spec); undefined while it is not known yet (e.g. a secret that an auth exchange returns).
   */
  documentSecret(): string | undefined;
  /** Connects, subscribes and announces the gateway; never throws for a connection failure (it retries). */
  start(): void;
  /** Logs devices out / offline, then DISCONNECT everywhere; bounded by `deadlineMs`. */
  stop(deadlineMs: number): Promise<void>;
  /** After each applied document: the devices the platform must serve (bind + login, or open/close links). */
  setDevices(devices: readonly PlatformDevice[]): void;
  /** A device became reachable or unreachable on the field side. */
  fieldHealth(device: DeviceKey, reachable: boolean, reason?: string): void;
  /** False: every record travels on the gateway's connection (GATEWAY_ROUTE); true: one route per device. */
  readonly perDeviceRoutes: boolean;
  /** The route a device's records travel on. */
  routeOf(device: DeviceKey): RouteId;
  /** Whether records of `device` can be sent on `route` now. */
  ready(route: RouteId, device: DeviceKey): boolean;
  /** Every device state name `status()` can report (the first is the state of a device not yet known), for metrics. */
  readonly deviceStates: readonly string[];
  /** At most this many records are handed to one `send` (the adapter packs them into as few messages as it can). */
  readonly maxRecordsPerSend: number;
  /**
   * Optional (platforms that serve thing models, e.g. Alibaba's thing.dsltemplate.get): asks the platform for the
   * TSL of `productKey` through `viaDevice`, one of its devices that is online on the platform. The core calls it for
   * products the document has no `tslList` entry for, validates the answer like a pushed TSL, caches it and polls
   * the product's devices only once it is accepted. Never rejects. A platform with it sets `fetchesTsl` on its
   * PlatformBootstrap.
   */
  fetchTsl?(productKey: string, viaDevice: DeviceKey): Promise<TslFetch>;
  /**
   * Optional (platforms with discovery, e.g. Alibaba's thing.list.found): reports devices found on the field side
   * (`fieldbridge scan --report`). Resolves ok once the platform accepted; `retry` when it may later (not connected).
   */
  reportFound?(devices: ReadonlyArray<{ productKey: string; deviceName: string }>): Promise<{ ok: true } | { ok: false; retry: boolean; reason: string }>;
  /** Encodes and publishes records of one route, oldest first. Never throws; failures come back as results. */
  send(route: RouteId, records: readonly UplinkRecord[]): Sending;
  status(): PlatformStatus;
}

/** Loaded lazily by `gateway.platform` (cloud/index.ts): `src/cloud/<platform>/index.ts` exports `createAdapter`. */
export interface PlatformModule {
  createAdapter(cfg: BootstrapConfig, core: Core): PlatformAdapter;
}

/**
 * A platform's part of the bootstrap config (`src/cloud/<platform>/bootstrap.ts`, imported statically by the
 * config loader: it is small and `fieldbridge check` needs it without loading the adapter). The loader builds one
 * JSON Schema per platform from the common schema and these parts; a key that only another platform declares is
 * reported as "not used on platform X".
 */
export interface PlatformBootstrap {
  readonly name: PlatformName;
  /** JSON Schema `properties` and `required` of `gateway` (without `platform` and `firmwareVersion`, which are common). */
  readonly gateway: { properties: Record<string, object>; required: string[] };
  /** JSON Schema `properties` of `mqtt` on this platform, with their defaults. */
  readonly mqtt: { properties: Record<string, object>; required?: string[] };
  /** Top-level sections this platform owns (its own section named after it, `sessions` where it applies), as schemas. */
  readonly sections: Record<string, object>;
  /** Schema of one `subDevices` entry. */
  readonly subDevice: object;
  /**
   * After the schema passed and defaults were applied: computed defaults (host, port, clientId) and cross-field
   * checks. Problems are pushed as `{path, message}`; messages never contain a secret.
   */
  finish(cfg: BootstrapConfig, problems: ConfigProblem[]): void;
  /**
   * The secret that decrypts the document's OPC UA passwords, as far as the bootstrap file tells (`check
   * --gateway-config` uses it offline); undefined when only the running adapter learns it (e.g. by an auth exchange).
   */
  documentSecret(cfg: BootstrapConfig): string | undefined;
  /**
   * The adapter implements `fetchTsl`: a gateway config document may then leave a product out of `tslList`
   * (`fieldbridge check` reports it as fetched from the cloud instead of an error).
   */
  readonly fetchesTsl?: boolean;
  /** Warnings that do not stop the daemon (e.g. `mqtt.tls` false where the platform only accepts TLS). */
  warnings?(cfg: BootstrapConfig): ConfigProblem[];
  /**
   * The platform's own rules for a gateway config document beyond the common ones (e.g. the identifier forms of a
   * per-device platform), checked wherever a document is parsed: a push or the persisted file in the daemon, and
   * `fieldbridge check --gateway-config` with a bootstrap file (no adapter needed). Problems are errors at a JSON
   * path (`["deviceList", 2, "productKey"]`); a pushed document with one is rejected as a whole. Absent: no
   * rules of its own.
   */
  checkDocument?(cfg: BootstrapConfig, doc: DocumentSections): DocumentProblem[];
}
