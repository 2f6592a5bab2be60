/** What the uplink handlers share: the registry, the records and a way to answer. */
import type { Client } from "aedes";
import type { Logger } from "pino";
import type { TopicScope } from "./acl.js";
import type { Faults } from "./faults.js";
import type { Records, Rejection } from "./records.js";
import type { DeviceState, Registry } from "./registry.js";
import type { RemoteConfigs } from "./config.js";
import type { TagStore } from "./tags.js";
import type { DiscoveryDesk } from "./discovery.js";

/** Where the platform sends sub-device kick notices (alink.md section 3.9, P13). */
export type KickNoticeTopic = "logout_reply" | "ext_error";

export type MessageId = string | number;

/** One publish received from a connected device. */
export interface Uplink {
  client: Client;
  /** The device that owns the connection (the gateway). */
  conn: DeviceState;
  topic: string;
  scope: TopicScope;
  /** The payload as a JSON object; undefined when it is not one. */
  msg: Record<string, unknown> | undefined;
  /** The request `id` exactly as received (string or number); undefined when absent. */
  id: MessageId | undefined;
}

export interface ReplyExtra {
  data?: unknown;
  message?: string;
}

export interface Core {
  readonly registry: Registry;
  readonly records: Records;
  readonly faults: Faults;
  /** Products' remote configuration files (config.ts) and devices' tags (tags.ts). */
  readonly remoteConfigs: RemoteConfigs;
  readonly tags: TagStore;
  /** Thing-model answers and discovered devices (discovery.ts). */
  readonly discovery: DiscoveryDesk;
  readonly onlineCap: number;
  readonly loginsPerWindow: number;
  readonly kickNotice: KickNoticeTopic;
  readonly log?: Logger;
  now(): number;
  /** Publishes a downlink at QoS 1. */
  send(topic: string, body: unknown): void;
  /** Answers `up` on its `_reply` topic with `{id, code, data, message?}`. */
  reply(up: Uplink, code: number, extra?: ReplyExtra): void;
  /** Ends a sub-device session; with a notice, the gateway is told why (a kick). */
  endSession(sub: DeviceState, notice?: { code: number; message: string }): void;
  reject(r: Omit<Rejection, "time">): void;
}

/** `id` is a decimal string or a JSON integer within 0..4294967295 (the platform's message id range). */
export function validMessageId(id: unknown): id is MessageId {
  if (typeof id === "number") return Number.isInteger(id) && id >= 0 && id <= 4294967295;
  return typeof id === "string" && /^\d{1,10}$/.test(id) && Number(id) <= 4294967295;
}

export const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;
