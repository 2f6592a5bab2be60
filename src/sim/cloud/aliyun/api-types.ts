/** Options, views and results of the cloud emulator's public API. */
import type { Logger } from "pino";
import type { Identity } from "./wire.js";
import type { KickNoticeTopic } from "./context.js";
import type { DownlinkReply } from "./pending.js";
import type { RecordKind, RecordOf } from "./records.js";
import type { ServerTlsMaterial } from "../tls-material.js";

export interface CloudEmulatorOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Listen with TLS (securemode=2) instead of plain TCP (securemode=3). Default false. */
  tls?: boolean;
  /** Certificate the TLS listener presents; default the fixture `server.pem` (trust `ca.pem`). */
  tlsMaterial?: ServerTlsMaterial;
  logger?: Logger;
  /** Sub-devices online at once under one gateway (428 beyond). Default 1500. */
  onlineCap?: number;
  /**
   * Logins of one sub-device accepted per minute (429 beyond). Default 5, the platform's limit; raised only by tests
   * that restart a gateway far more often than any field unit does.
   */
  loginsPerMinute?: number;
  /** Where kick notices go: `combine/logout_reply` (the seed, default) or `/ext/error`. */
  kickNoticeTopic?: KickNoticeTopic;
  /** Serve pushed configs and firmware over HTTPS with the test PKI (default true) or plain HTTP. */
  fileServerTls?: boolean;
  /** Entries kept per record list. Default 10000. */
  recordLimit?: number;
  /** Default reply timeout of the downlink helpers. Default 10000 ms. */
  replyTimeoutMs?: number;
}

/** A device as `{productKey, deviceName}` or as `pk/dn`. */
export type DeviceRef = Identity | string;

export interface DeviceView {
  /** Registered and not deleted. */
  exists: boolean;
  deleted: boolean;
  disabled: boolean;
  gateway: boolean;
  secret?: string;
  /** `pk/dn` of the gateway the device is bound to. */
  topoParent?: string;
  /** A gateway: connected; a sub-device: has a session. */
  online: boolean;
  /** For a sub-device session: `pk/dn` of the gateway carrying it. */
  via?: string;
  since?: number;
}

export interface SessionView {
  deviceKey: string;
  gatewayKey: string;
  since: number;
  cleanSession: boolean;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export interface PushConfigOptions extends RequestOptions {
  /** Overrides the computed digest (lower-case hex SHA-256 of the hosted bytes). */
  digest?: string;
  /** Default "sha256". */
  digestMethod?: string;
  /** Put `{url, digest, digestMethod}` under `params` instead of `data` (alink.md C1). */
  viaParams?: boolean;
  /** Default "thing.model.config.push". */
  method?: string;
  /** File name on the file server; default `gateway-config-{n}.json`. */
  name?: string;
  /** Send this URL instead of hosting the document (the digest still covers the document). */
  url?: string;
}

export interface ConfigPushResult {
  id: number;
  url: string;
  digest: string;
  digestMethod: string;
  reply: DownlinkReply;
}

export interface RegistryChangeOptions extends RequestOptions {
  /** Also end the sub-device's session with a kick notice (522 disable, 521 delete). Default true. */
  kick?: boolean;
}

export type EmulatorEvent = { [K in RecordKind]: { kind: K; record: RecordOf<K> } }[RecordKind];

export interface EmulatorEvents {
  /** Every record as it is added. */
  record: [EmulatorEvent];
  /** Anything changed (records, sessions, connections); `waitFor` listens to this. */
  change: [];
}
