/** The simple description an OPC UA simulator is built from. */

export type SimDataType =
  | "Boolean"
  | "SByte"
  | "Byte"
  | "Int16"
  | "UInt16"
  | "Int32"
  | "UInt32"
  | "Int64"
  | "UInt64"
  | "Float"
  | "Double"
  | "String"
  | "DateTime";

/** A JavaScript value for a SimDataType: number, bigint (64-bit), boolean, string or Date. */
export type SimValue = number | bigint | boolean | string | Date;

/** Moves a numeric value on every tick of the simulator's motion timer (for the demo). */
export type SimMotion =
  | { kind: "sine"; offset: number; amplitude: number; periodMs: number }
  | { kind: "ramp"; min: number; max: number; step: number }
  | { kind: "random"; min: number; max: number }
  | { kind: "toggle" };

export interface SimVariableSpec {
  /** BrowseName and DisplayName. */
  name: string;
  dataType: SimDataType;
  value: SimValue;
  /** Clients may write it (default true). */
  writable?: boolean;
  motion?: SimMotion;
}

export interface SimArgumentSpec {
  name: string;
  dataType: SimDataType;
}

export interface SimMethodSpec {
  name: string;
  inputs: SimArgumentSpec[];
  outputs: SimArgumentSpec[];
  /** Receives the inputs in order and returns the outputs in order; a throw answers BadInvalidArgument. */
  run(inputs: unknown[]): unknown[] | Promise<unknown[]>;
}

/** An event type (subtype of BaseEventType) the device node emits; fields are its own properties in order. */
export interface SimEventSpec {
  name: string;
  fields: SimArgumentSpec[];
}

export interface SimDeviceSpec {
  /** DisplayName path from the Objects folder; missing intermediate folders are created. */
  path: string;
  variables?: SimVariableSpec[];
  methods?: SimMethodSpec[];
  events?: SimEventSpec[];
}

export interface SimUser {
  userName: string;
  password: string;
}

export interface OpcuaSimulatorOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Server PKI (its own certificate lives here: reuse the folder to keep the certificate across restarts). */
  pkiDir: string;
  /** Accepted user name / password pairs. */
  users?: SimUser[];
  /** Anonymous sessions (default true). */
  allowAnonymous?: boolean;
  /** Policy names as in the gateway config (default None and Basic256Sha256). */
  securityPolicies?: string[];
  /** Default None, Sign and SignAndEncrypt. */
  securityModes?: Array<"None" | "Sign" | "SignAndEncrypt">;
  devices: SimDeviceSpec[];
  /** Period of moving values (default 1000 ms). */
  motionIntervalMs?: number;
  /** Server OperationLimits to advertise and enforce (0 or absent: node-opcua's defaults). */
  operationLimits?: {
    maxNodesPerBrowse?: number;
    maxNodesPerRead?: number;
    maxNodesPerWrite?: number;
    maxNodesPerMethodCall?: number;
    maxMonitoredItemsPerCall?: number;
  };
}
