/** What the emulated platform saw: connects, auths, accepted values and events, refusals, presence. */
import type { AclRefusal, ConnectRecord } from "./broker.js";

export interface AcceptedValue {
  device: string;
  identifier: string;
  value: unknown;
  /** Sample time: the 27 item's `time`, or the arrival time of a 16 (the platform stamps it). */
  time: number;
  via: 16 | 27;
  messageId: number;
  arrival: number;
}

export interface AcceptedEvent {
  device: string;
  identifier: string;
  outputs: Record<string, unknown>;
  time: number;
  via: 17 | 27;
  messageId: number;
}

export interface Uplink {
  device: string;
  topic: string;
  headerCtrl: number;
  messageId: number | string;
  payload: unknown;
  json: string;
  time: number;
}

export interface Rejection {
  device: string;
  topic: string;
  reason: string;
  time: number;
}

export interface AuthRecord {
  device: string;
  type: unknown;
  code: number;
  time: number;
}

export interface PresenceRecord {
  device: string;
  online: boolean;
  time: number;
}

export class Records {
  readonly connects: ConnectRecord[] = [];
  readonly auths: AuthRecord[] = [];
  readonly values: AcceptedValue[] = [];
  readonly events: AcceptedEvent[] = [];
  readonly uplinks: Uplink[] = [];
  readonly rejected: Rejection[] = [];
  readonly refusals: AclRefusal[] = [];
  readonly presence: PresenceRecord[] = [];

  constructor(private readonly limit: number) {}

  add<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
  }
}
