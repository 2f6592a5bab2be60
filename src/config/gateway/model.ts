/**
 * The gateway config after download, validation and decryption: what the daemon runs.
 * Produced by `config/gateway/` from the pushed document (alink.md section 5); consumed by the field
 * drivers and the things layer. Plain data only, so that two configs can be compared.
 */
import type { TslDocument, TslTypeName } from "../../things/tsl-types.js";

export type Parity = "none" | "even" | "odd";

export interface ModbusTcpChannelSpec {
  protocol: "modbus-tcp";
  serverId: string;
  name: string;
  host: string;
  port: number;
}

export interface ModbusRtuChannelSpec {
  protocol: "modbus-rtu";
  serverId: string;
  name: string;
  /** Device path, resolved through the bootstrap `serialPorts`. */
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  stopBits: 1 | 2;
  parity: Parity;
}

export type OpcuaSecurityMode = "None" | "Sign" | "SignAndEncrypt";

export interface OpcuaChannelSpec {
  protocol: "opcua";
  serverId: string;
  name: string;
  url: string;
  /** None, Basic128Rsa15, Basic256, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss */
  securityPolicy: string;
  securityMode: OpcuaSecurityMode;
  /** Empty or absent: anonymous. */
  userName?: string;
  /** Decrypted password, kept in memory only; never logged, never persisted in this form. */
  password?: string;
  /** The encrypted password as pushed (used for change detection without the plaintext). */
  passwordCipher?: string;
  timeoutMs: number;
}

export type ChannelSpec = ModbusTcpChannelSpec | ModbusRtuChannelSpec | OpcuaChannelSpec;

export type OperateType = "coilStatus" | "inputStatus" | "holdingRegister" | "inputRegister";
export type ModbusRawType =
  | "bool" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64"
  | "float" | "double" | "string" | "customized data";

export interface ModbusPointSpec {
  identifier: string;
  operateType: OperateType;
  /** 0-based PDU address. */
  address: number;
  rawType: ModbusRawType;
  /** Registers (or 1 bit for coil/input status). */
  registerCount: number;
  swap16: boolean;
  reverseRegister: boolean;
  /** value = raw * scaling; finite, non-zero. */
  scaling: number;
  pollingMs: number;
  trigger: 1 | 2;
  /** The TSL type of the property this point feeds. */
  tslType: TslTypeName;
}

export interface IndexedParam { identifier: string; index: number }

export interface OpcuaPropertySpec {
  identifier: string;
  /** DisplayName of the child variable of the device node (falls back to the identifier). */
  displayName: string;
  /** Sampling interval; absent: the driver default. */
  samplingMs?: number;
  trigger: 1 | 2;
  tslType: TslTypeName;
}

export interface OpcuaServiceSpec {
  identifier: string;
  displayName: string;
  inputs: IndexedParam[];
  outputs: IndexedParam[];
}

export interface OpcuaEventSpec {
  identifier: string;
  displayName: string;
  outputs: IndexedParam[];
}

export interface DeviceSpec {
  /** `${productKey}/${deviceName}`: the key used everywhere inside the daemon. */
  key: string;
  productKey: string;
  deviceName: string;
  serverId: string;
  /** `points` may be shared with other devices of the same model: read-only (frozen). */
  modbus?: { slaveId: number; points: readonly ModbusPointSpec[] };
  opcua?: {
    displayNamePath: string;
    properties: OpcuaPropertySpec[];
    services: OpcuaServiceSpec[];
    events: OpcuaEventSpec[];
  };
}

export interface GatewayConfig {
  channels: ChannelSpec[];
  devices: DeviceSpec[];
  /** productKey -> TSL. */
  products: Record<string, TslDocument>;
  /**
   * Products without a `tslList` entry on a platform that fetches TSLs (config/gateway/cloud-tsl.ts): `pending` have
   * no model yet (their devices carry no mapping and are not polled), `fetched` took theirs from the cloud.
   */
  cloudTsl?: { pending: string[]; fetched: string[] };
}

export { deviceKey } from "../../core/device-key.js";
