/**
 * A cloud world: one platform's emulator with what a gateway needs around it. Each platform brings one
 * (`src/sim/cloud/<platform>/world.ts`): it names products and devices by that platform's rules, provisions them
 * in its emulator, writes the daemon's bootstrap config, delivers the gateway config document the platform's way,
 * and reads back what the emulator accepted. The demo (`fieldbridge demo --platform …`) and the contract suite
 * (test/contract/suite.ts) speak no protocol: the same steps run against every platform.
 */
import type { PlatformName } from "../cloud/platform.js";
import type { TslDocument } from "../things/tsl-types.js";

export interface WorldNaming {
  /** A product id valid on this platform (the document's productKey of the field devices). */
  product: string;
  /** Device names valid on this platform, as many as asked for. */
  devices: string[];
}

export interface AcceptedValue {
  /** `productKey/deviceName` of the document. */
  device: string;
  identifier: string;
  value: unknown;
  /** The sample time the platform received with the value, epoch ms. */
  time: number;
}

export interface DocumentResult {
  ok: boolean;
  /** The platform's own result code or text, for messages. */
  code?: unknown;
  message?: string;
}

export interface SetResult {
  ok: boolean;
  code?: unknown;
}

export interface CloudWorld {
  readonly platform: PlatformName;
  /** The PEM CA that verifies the emulator's broker and file server (the suite writes it to a file and sets
   * `mqtt.caFile` and `download.caFile` to it when `bootstrap()` leaves them out). */
  readonly caPem: string;
  /** `count` field devices of one product; `product` (0, 1, …) picks distinct products. */
  naming(count: number, product?: number): WorldNaming;
  /**
   * Registers the document's devices of one product with their thing model in the emulator (credentials, bindings
   * or whatever the platform needs before the daemon starts). Called once per product, before `bootstrap`.
   */
  provision(naming: WorldNaming, tsl: TslDocument): Promise<void>;
  /**
   * The bootstrap config for the daemon (every key but `dataDir`, `http`, `log`): gateway identity, mqtt pointing
   * at the emulator with its CA, the platform's section, subDevices, `download.caFile`. `wrongSecret` gives the
   * gateway a secret the emulator refuses.
   */
  bootstrap(opts?: { wrongSecret?: boolean }): Record<string, unknown>;
  /** An OPC UA password encrypted for a document of this gateway (the platform's key rule). */
  encryptPassword(plain: string): string;
  /** Delivers a document the platform's way (push command, file resource, …) and resolves with what the gateway reported. */
  deliverDocument(doc: Buffer, timeoutMs: number): Promise<DocumentResult>;
  /** Every value the emulator accepted so far, in arrival order. */
  accepted(): AcceptedValue[];
  /** Sets a property the platform's way; resolves with the gateway's answer. */
  setProperty(device: string, values: Record<string, unknown>, timeoutMs: number): Promise<SetResult>;
  /** The gateway's own connection is up (per-device platforms: and every provisioned device's). */
  allOnline(): boolean;
  /** The device is online on the platform (logged in / online / its connection up). */
  online(device: string): boolean;
  /** CONNECT attempts the emulator refused, in arrival order with their times (epoch ms). */
  refusedConnects(): number[];
  /** Devices that announced going offline (logout/offline message or DISCONNECT) since the world started. */
  wentOffline(): string[];
  /** Drops every connection and stops listening; `restore` listens again on the same port. */
  outage(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export type WorldFactory = (opts: { tls: boolean }) => Promise<CloudWorld>;
