/**
 * One X-platform device as the adapter holds it (lierda.md §6.1, §6.2): identity, the product's ProductKey and
 * auth type, where its DeviceSecret comes from, its thing model, message ids and the state shown in /status.
 */
import type { CompiledTsl } from "../../things/tsl.js";
import type { TslDocument } from "../../things/tsl-types.js";
import { compileTsl } from "../../things/tsl.js";
import type { KvStore } from "../../store/kv.js";
import type { SecretStore } from "../../store/secrets.js";
import type { DeviceKey } from "../platform.js";
import type { LierdaConfig } from "./bootstrap.js";
import type { AuthType, DeviceIdentity } from "./credentials.js";
import { isHex32 } from "./credentials.js";
import { MessageIdCounter } from "./envelope.js";
import { ValueWriter } from "./uplink.js";

export type DeviceState = "no-credentials" | "authenticating" | "connecting" | "online" | "backoff" | "refused" | "disabled";

export interface Entry {
  key: DeviceKey;
  id: DeviceIdentity;
  gateway: boolean;
  /** Undefined: no `lierda.products` entry (or a type-2 device without a secret): not connected. */
  productKey: string | undefined;
  authType: AuthType;
  /** The burned-in secret of a type-2 device. */
  burnedSecret: string | undefined;
  tsl: CompiledTsl | undefined;
  writer: ValueWriter;
  ids: MessageIdCounter;
  state: DeviceState;
  reason: string | undefined;
  since: number;
  /** Epoch ms the device connection came online (0 while not online). */
  onlineSince: number;
  lastConnect: number;
  /** Second of the last disconnect (persisted: a type-1 Timestamp must be later, even after a restart). */
  lastDisconnectS: number | undefined;
  saveDisconnect(seconds: number): void;
  reconnects: number;
  /** Replies to recent property sets by MessageId (a repeat within 60 s is answered, not executed again). */
  recentSets: Map<string, { topic: string; json: string; at: number }>;
  removed: boolean;
}

const NODE_EUI = /^[A-Za-z0-9]{4,32}$/;
const HEX8 = /^[0-9A-Fa-f]{8}$/;

export interface EntryContext {
  cfg: LierdaConfig;
  kv: KvStore;
  secrets: SecretStore;
}

/** Why a document device cannot be served on this platform (§6.1), or undefined. */
export function credentialProblem(cfg: LierdaConfig, productId: string, nodeEui: string): string | undefined {
  if (!HEX8.test(productId)) return "productKey must be an 8-hex ProductID";
  if (!NODE_EUI.test(nodeEui)) return "deviceName must be a NodeEui of 4-32 letters/digits";
  const product = productEntry(cfg, productId);
  if (!product) return `product ${productId} has no entry in lierda.products`;
  if ((product.authType ?? 2) === 2 && !subDeviceSecret(cfg, productId, nodeEui)) return "no deviceSecret in subDevices for this auth-type-2 device";
  return undefined;
}

function productEntry(cfg: LierdaConfig, productId: string) {
  const products = cfg.lierda?.products ?? {};
  return products[productId] ?? Object.entries(products).find(([pid]) => pid.toLowerCase() === productId.toLowerCase())?.[1];
}

function subDeviceSecret(cfg: LierdaConfig, productId: string, nodeEui: string): string | undefined {
  const s = (cfg.subDevices ?? []).find((x) => x.productKey.toLowerCase() === productId.toLowerCase() && x.deviceName === nodeEui);
  return s && isHex32(s.deviceSecret) ? s.deviceSecret : undefined;
}

export function createEntry(ctx: EntryContext, key: DeviceKey, productId: string, nodeEui: string, gateway: boolean, tsl: TslDocument | undefined): Entry {
  const cfg = ctx.cfg;
  let productKey: string | undefined;
  let authType: AuthType = 2;
  let burnedSecret: string | undefined;
  let reason: string | undefined;
  if (gateway) {
    productKey = cfg.gateway.productKey;
    authType = cfg.gateway.authType ?? 2;
    burnedSecret = authType === 2 ? cfg.gateway.deviceSecret : undefined;
  } else {
    reason = credentialProblem(cfg, productId, nodeEui);
    const product = productEntry(cfg, productId);
    if (!reason && product) {
      productKey = product.productKey;
      authType = product.authType ?? 2;
      burnedSecret = authType === 2 ? subDeviceSecret(cfg, productId, nodeEui) : undefined;
    }
  }
  const kvKey = `lierda.messageIdMark.${key}`;
  const offKey = `lierda.lastDisconnect.${key}`;
  const savedOff = ctx.kv.get<unknown>(offKey);
  return {
    key,
    id: { openId: cfg.gateway.openId, productId, nodeEui },
    gateway,
    productKey: reason ? undefined : productKey,
    authType,
    burnedSecret,
    tsl: tsl ? compileTsl(tsl) : undefined,
    writer: new ValueWriter(tsl),
    ids: new MessageIdCounter(ctx.kv.get<number>(kvKey), (mark) => ctx.kv.set(kvKey, mark)),
    state: reason ? "no-credentials" : "connecting",
    reason,
    since: Date.now(),
    onlineSince: 0,
    lastConnect: 0,
    lastDisconnectS: typeof savedOff === "number" && Number.isSafeInteger(savedOff) ? savedOff : undefined,
    saveDisconnect: (seconds) => ctx.kv.set(offKey, seconds),
    reconnects: 0,
    recentSets: new Map(),
    removed: false,
  };
}

/** The DeviceSecret to connect with now: burned in (type 2) or obtained by the auth and stored (types 0/1). */
export function secretOf(e: Entry, secrets: SecretStore): string | undefined {
  if (e.authType === 2) return e.burnedSecret;
  const s = secrets.get(e.id.productId, e.id.nodeEui);
  return isHex32(s) ? s : undefined;
}

export function setState(e: Entry, state: DeviceState, reason: string | undefined): boolean {
  if (e.state === state && e.reason === reason) return false;
  e.state = state;
  e.reason = reason;
  e.since = Date.now();
  return true;
}
