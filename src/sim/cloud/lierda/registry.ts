/** Products and devices of the emulated X platform, with the connection each device holds. */
import type { Client } from "aedes";
import { randomHex32, type TslLike } from "./codec.js";

export interface Product {
  productId: string;
  productKey: string;
  /** 0/1: one-type-one-secret (0 registers unknown devices at auth), 2: one-device-one-secret. */
  authType: 0 | 1 | 2;
  tsl?: TslLike;
}

export interface Device {
  key: string;
  productId: string;
  nodeEui: string;
  secret?: string;
  disabled: boolean;
  /** Seconds of the last offline (type-1 timestamps must be greater). */
  lastOfflineS?: number;
  client?: Client;
  onlineSince?: number;
}

export class Registry {
  readonly products = new Map<string, Product>();
  readonly devices = new Map<string, Device>();

  constructor(readonly openId: string) {}

  addProduct(productId: string, opts: { productKey?: string; authType?: 0 | 1 | 2; tsl?: TslLike } = {}): Product {
    const p: Product = { productId, productKey: opts.productKey ?? randomHex32(), authType: opts.authType ?? 2, ...(opts.tsl ? { tsl: opts.tsl } : {}) };
    this.products.set(productId, p);
    return p;
  }

  /** Registers (or returns) a device; type-2 products get a secret at once, types 0/1 at their first auth. */
  addDevice(productId: string, nodeEui: string, opts: { secret?: string } = {}): Device {
    const key = `${productId}/${nodeEui}`;
    let d = this.devices.get(key);
    if (!d) {
      d = { key, productId, nodeEui, disabled: false };
      this.devices.set(key, d);
    }
    if (opts.secret !== undefined) d.secret = opts.secret;
    else if (d.secret === undefined && this.products.get(productId)?.authType === 2) d.secret = randomHex32();
    return d;
  }

  get(key: string): Device | undefined {
    return this.devices.get(key);
  }
}
