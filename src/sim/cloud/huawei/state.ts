/** The emulated platform's registry (products, devices) and the records tests read. */
import { randomUUID } from "node:crypto";
import type { TslDocument } from "../../../things/tsl-types.js";

export interface DeviceInput {
  productId: string;
  nodeId: string;
  /** Default: 20 hex characters, as the registration API returns. */
  secret?: string;
  /** Default: a fresh UUID, as the platform assigns. */
  deviceId?: string;
}

export interface EmuDevice {
  /** `productId/nodeId`, the document's device key. */
  key: string;
  productId: string;
  nodeId: string;
  deviceId: string;
  secret: string;
  deleted: boolean;
}

export interface ConnectRecord {
  clientId: string;
  /** The identity the connection claimed (deviceId or nodeId), when the clientId could be read. */
  id?: string;
  device?: string;
  authType?: string;
  signType?: string;
  keepalive: number;
  clean: boolean;
  will: boolean;
  accepted: boolean;
  returnCode: number;
  reason: string;
  time: number;
}

export interface AcceptedProperty {
  device: string;
  serviceId: string;
  identifier: string;
  value: unknown;
  /** As sent. */
  eventTime: string;
  /** eventTime as epoch ms. */
  time: number;
  /** When the emulator received it. */
  at: number;
}

export interface AcceptedEvent {
  device: string;
  event: string;
  outputs: Record<string, unknown>;
  eventTime: string;
  time: number;
  at: number;
}

export interface RejectedUplink {
  device: string;
  reason: string;
  at: number;
}

export interface PresenceRecord {
  device: string;
  online: boolean;
  /** Offline by an MQTT DISCONNECT (not a dropped socket). */
  graceful: boolean;
  at: number;
}

export interface AclRefusal {
  device?: string;
  kind: "publish" | "subscribe";
  topic: string;
  reason: string;
  at: number;
}

export interface CommandReply {
  device: string;
  mid: number;
  errcode: number;
  body: Record<string, unknown>;
  /** Protocol problems of the reply (errcode not fitting the code, missing message, …). */
  problems: string[];
  raw: string;
  at: number;
}

const hex20 = () => randomUUID().replace(/-/g, "").slice(0, 20);

export class Registry {
  readonly products = new Map<string, TslDocument | undefined>();
  private readonly byKey = new Map<string, EmuDevice>();

  add(d: DeviceInput): EmuDevice {
    const key = `${d.productId}/${d.nodeId}`;
    if (this.byKey.has(key)) throw new Error(`device ${key} exists`);
    const dev: EmuDevice = { key, productId: d.productId, nodeId: d.nodeId, deviceId: d.deviceId ?? randomUUID(), secret: d.secret ?? hex20(), deleted: false };
    for (const other of this.byKey.values()) if (other.deviceId === dev.deviceId) throw new Error(`deviceId ${dev.deviceId} exists`);
    this.byKey.set(key, dev);
    return dev;
  }

  /** By key `productId/nodeId` or by deviceId. */
  get(ref: string): EmuDevice | undefined {
    return this.byKey.get(ref) ?? [...this.byKey.values()].find((d) => d.deviceId === ref);
  }

  /** The device a CONNECT names: by deviceId (auth type 0) or by nodeId (auth type 2; must be unique). */
  byIdentity(id: string, authType: string): EmuDevice | undefined {
    const all = [...this.byKey.values()];
    if (authType === "0") return all.find((d) => d.deviceId === id);
    const matches = all.filter((d) => d.nodeId === id);
    return matches.length === 1 ? matches[0] : undefined;
  }

  all(): EmuDevice[] {
    return [...this.byKey.values()];
  }
}

export class Records {
  readonly connects: ConnectRecord[] = [];
  readonly properties: AcceptedProperty[] = [];
  readonly events: AcceptedEvent[] = [];
  readonly rejected: RejectedUplink[] = [];
  readonly presence: PresenceRecord[] = [];
  readonly aclRefusals: AclRefusal[] = [];
  readonly replies: CommandReply[] = [];
  /** Every message a device published, in arrival order. */
  readonly uplinks: { device: string; topic: string; payload: string; qos: number; at: number }[] = [];

  constructor(private readonly limit: number) {}

  push<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
  }
}
