/** What the emulator remembers for assertions. Lists are bounded (oldest dropped) so a long demo stays small. */

export interface ConnectRecord {
  /** The full MQTT client id as sent (`id|securemode=…|`). */
  clientId: string;
  accepted: boolean;
  /** "ok", or why the CONNECT was refused, or "kicked: …" when a later connection of the same device took over. */
  reason: string;
  /** CONNACK return code (0 accepted, 4 bad username or password, 5 not authorized, or an injected one). */
  returnCode: number;
  /** `pk/dn` from the username when it could be parsed. */
  deviceKey?: string;
  transport: "tcp" | "tls";
  time: number;
}

export interface AcceptedProperty {
  deviceKey: string;
  identifier: string;
  value: unknown;
  /** The reported `time`, or the receive time when the entry carried none. */
  time: number;
  msgId: string;
  via: "post" | "pack";
}

export interface AcceptedEvent {
  deviceKey: string;
  identifier: string;
  value: Record<string, unknown>;
  time: number;
  msgId: string;
  via: "post" | "pack";
}

export interface Rejection {
  /** The device the message concerned, when known. */
  deviceKey?: string;
  topic: string;
  msgId?: string;
  /** The property or event identifier, for per-value rejections. */
  identifier?: string;
  /** The code of the reply that was sent (200 for silently dropped properties; 0 when nothing was sent). */
  code: number;
  reason: string;
  time: number;
}

export interface SessionRecord {
  /** The sub-device. */
  deviceKey: string;
  gatewayKey: string;
  msgId: string;
  code: number;
  reason?: string;
  time: number;
}

/** A session or connection the platform ended. */
export interface KickRecord {
  deviceKey: string;
  /** The gateway that carried the session (the device itself for a closed direct connection). */
  gatewayKey: string;
  code: number;
  /** Where the notice was published; absent when the connection was closed instead. */
  topic?: string;
  time: number;
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  /** The parsed payload, or undefined when it is not JSON. */
  json: unknown;
  /** The MQTT client id of the publisher. */
  clientId: string;
  /** `pk/dn` of the connected device that published. */
  from: string;
  qos: number;
  time: number;
}

export interface OtaRecord {
  deviceKey: string;
  kind: "inform" | "progress" | "request";
  params: Record<string, unknown>;
  msgId: string;
  time: number;
}

export interface RefusalRecord {
  clientId: string;
  from?: string;
  kind: "publish" | "subscribe";
  topic: string;
  reason: string;
  time: number;
}

export interface RecordLists {
  connects: ConnectRecord[];
  properties: AcceptedProperty[];
  events: AcceptedEvent[];
  rejected: Rejection[];
  logins: SessionRecord[];
  logouts: SessionRecord[];
  kicks: KickRecord[];
  received: ReceivedMessage[];
  ota: OtaRecord[];
  refusals: RefusalRecord[];
}

export type RecordKind = keyof RecordLists;
export type RecordOf<K extends RecordKind> = RecordLists[K][number];

/** Every record list, as plain arrays; `add` drops the oldest entries beyond the limit and tells `onAdd`. */
export class Records {
  readonly lists: RecordLists = {
    connects: [],
    properties: [],
    events: [],
    rejected: [],
    logins: [],
    logouts: [],
    kicks: [],
    received: [],
    ota: [],
    refusals: [],
  };

  constructor(
    private readonly limit: number,
    private readonly onAdd: <K extends RecordKind>(kind: K, item: RecordOf<K>) => void = () => {},
  ) {}

  add<K extends RecordKind>(kind: K, item: RecordOf<K>): void {
    const list = this.lists[kind] as RecordOf<K>[];
    list.push(item);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.onAdd(kind, item);
  }
}
