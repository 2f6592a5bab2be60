/**
 * The south boundary: a FieldChannel is one bus or server (a Modbus TCP link, an RTU line, an OPC UA
 * server) with the devices on it. Drivers emit decoded samples and health; the things layer converts,
 * validates and reports them, and routes validated writes and calls back down.
 */
import type { Logger } from "pino";
import type { ChannelSpec, DeviceSpec } from "../config/gateway/model.js";

export interface Sample {
  deviceKey: string;
  identifier: string;
  /**
   * The decoded, scaled value: number (int16..uint32, float, double), bigint (64-bit integers),
   * string (string / customized data as hex), boolean (bits). The things layer converts it to the TSL type.
   */
  value: unknown;
  /** Sample time, epoch ms (when the read completed or the server's source timestamp). */
  time: number;
}

export interface FieldSink {
  samples(batch: Sample[]): void;
  /** A device became reachable (online) or not; reason is a short human text without secrets. */
  deviceHealth(deviceKey: string, online: boolean, reason?: string): void;
  /** The channel's connection is up or down. */
  channelHealth(serverId: string, up: boolean, reason?: string): void;
  /** A device event (OPC UA events); value keyed by TSL output identifier. */
  event(deviceKey: string, identifier: string, value: Record<string, unknown>, time: number): void;
}

/**
 * Why a field write or call failed, in neutral terms (each cloud adapter maps them to its own reply codes).
 * The names are a subset of `FailureKind` in cloud/platform.ts.
 */
export const FieldCode = {
  generic: "fieldError",
  timeout: "timeout",
  modbusException: "modbusException",
  opcuaBadStatus: "opcuaBadStatus",
  notConnected: "notConnected",
  unsupported: "unsupported",
  /** Request parameter error: value does not fit the raw type, unknown identifier, no mapping. */
  badRequest: "badRequest",
  /** The mapping is read-only (coil/input status, input registers). */
  readOnly: "readOnly",
} as const;

export type FieldFailure = (typeof FieldCode)[keyof typeof FieldCode];

/** A failed field write or call. The message never carries a secret. */
export class FieldError extends Error {
  constructor(readonly code: FieldFailure, message: string) {
    super(message);
    this.name = "FieldError";
  }
}

export interface ChannelStats {
  serverId: string;
  protocol: ChannelSpec["protocol"];
  up: boolean;
  requests: number;
  errors: number;
  timeouts: number;
  /** Last complete poll cycle duration in ms (Modbus) or 0. */
  lastPollMs: number;
  /** Fraction of wall time the bus was busy, 0..1 (RTU lines), else 0. */
  busUtilisation: number;
}

export interface FieldChannel {
  readonly serverId: string;
  /** Opens the connection in the background; never rejects for a connection failure (it retries). */
  start(): Promise<void>;
  /** Stops polling, closes the connection; resolves when everything is released. */
  stop(): Promise<void>;
  /** Adds a device and starts polling/subscribing it. */
  addDevice(device: DeviceSpec): void;
  /** Removes a device; pending requests for it are abandoned. */
  removeDevice(deviceKey: string): Promise<void>;
  /**
   * Writes TSL-typed values (already validated against the TSL by the caller).
   * Rejects with FieldError (460 for a read-only or missing mapping, 1000xx for field failures).
   */
  write(deviceKey: string, values: Record<string, unknown>): Promise<void>;
  /** Calls a service; resolves with the outputs keyed by TSL identifier. Rejects with FieldError. */
  call(deviceKey: string, service: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>>;
  stats(): ChannelStats;
}

export interface DriverContext {
  logger: Logger;
  dataDir: string;
  /** Tunables with defaults applied by the daemon. */
  options: FieldOptions;
}

export interface FieldOptions {
  /** Modbus response timeout. */
  modbusTimeoutMs: number;
  /** Retries after a timeout before a poll counts as failed. */
  modbusRetries: number;
  /** Registers that may be read through to merge two ranges into one request. */
  modbusMaxGap: number;
  /** Concurrent requests on one Modbus TCP connection. */
  modbusTcpInFlight: number;
  /** Default OPC UA sampling interval when a property has no pollingTime. */
  opcuaSamplingMs: number;
}

export const defaultFieldOptions: FieldOptions = {
  modbusTimeoutMs: 1000,
  modbusRetries: 1,
  modbusMaxGap: 8,
  modbusTcpInFlight: 1,
  opcuaSamplingMs: 1000,
};

export type FieldChannelFactory = (spec: ChannelSpec, sink: FieldSink, ctx: DriverContext) => FieldChannel;
