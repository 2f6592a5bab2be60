/** Records and options of the Tencent emulator. */
export interface TencentEmulatorOptions {
  productId: string;
  deviceName: string;
  /** The gateway's device key (base64). */
  psk: string;
  sdkAppId?: string;
  tls?: boolean;
  port?: number;
}

export interface SimDevice {
  pair: string;
  psk?: string;
  bound: boolean;
  /** Online on the current gateway connection. */
  online: boolean;
  /** The data template's identifiers (properties and events); undefined: anything goes. */
  identifiers?: Set<string>;
}

/** A value the platform accepted, with the sample time it received (epoch ms). */
export interface Accepted {
  device: string;
  kind: "property" | "event";
  identifier: string;
  value: unknown;
  /** The wire timestamp as sent. */
  timestamp: number;
  time: number;
}

export interface ConnectRecord {
  accepted: boolean;
  code: number;
  reason: string;
  time: number;
}

export interface Refusal {
  kind: "publish" | "subscribe" | "payload";
  topic: string;
  reason: string;
  time: number;
}

export interface OpRecord {
  type: string;
  device: string;
  result: number;
  time: number;
}
