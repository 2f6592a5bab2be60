/**
 * The platform's device registry: products (TSL, dynamic-registration switch), devices (secret, state),
 * topology (one gateway per sub-device) and who is online over which MQTT connection.
 */
import { randomBytes } from "node:crypto";
import type { Client } from "aedes";
import type { TslDocument } from "../../../things/tsl-types.js";

export interface ProductOptions {
  tsl?: TslDocument;
  /** Whether `thing.sub.register` may issue secrets for this product (and create unknown names). */
  dynamicRegistration?: boolean;
}

export interface ProductState {
  productKey: string;
  tsl?: TslDocument;
  dynamicRegistration: boolean;
}

export interface DeviceSpecInput {
  productKey: string;
  deviceName: string;
  /** Generated (32 hex characters) when absent. */
  deviceSecret?: string;
  gateway?: boolean;
}

/** A live link: a gateway's MQTT connection, or a sub-device session riding on one. */
export interface OnlineLink {
  client: Client;
  gatewayKey: string;
  since: number;
  cleanSession?: boolean;
}

export interface DeviceState {
  key: string;
  productKey: string;
  deviceName: string;
  secret: string;
  iotId: string;
  gateway: boolean;
  disabled: boolean;
  deleted: boolean;
  /** `pk/dn` of the gateway this sub-device is bound to. */
  topoParent?: string;
  online?: OnlineLink;
  /** Times of accepted sub-device logins, for the 5-per-minute throttle. */
  loginTimes: number[];
}

export const keyOf = (productKey: string, deviceName: string) => `${productKey}/${deviceName}`;

export function splitKey(key: string): { productKey: string; deviceName: string } {
  const i = key.indexOf("/");
  return { productKey: key.slice(0, i), deviceName: key.slice(i + 1) };
}

export class Registry {
  readonly products = new Map<string, ProductState>();
  readonly devices = new Map<string, DeviceState>();

  addProduct(productKey: string, opts: ProductOptions = {}): ProductState {
    const existing = this.products.get(productKey);
    const product: ProductState = {
      productKey,
      tsl: opts.tsl ?? existing?.tsl,
      dynamicRegistration: opts.dynamicRegistration ?? existing?.dynamicRegistration ?? false,
    };
    this.products.set(productKey, product);
    return product;
  }

  product(productKey: string): ProductState | undefined {
    return this.products.get(productKey);
  }

  /** Registers a device (its product is created when unknown). Re-adding a deleted device starts it afresh. */
  addDevice(spec: DeviceSpecInput): DeviceState {
    const key = keyOf(spec.productKey, spec.deviceName);
    const existing = this.devices.get(key);
    if (existing && !existing.deleted) throw new Error(`device ${key} already exists`);
    if (!this.products.has(spec.productKey)) this.addProduct(spec.productKey);
    const device: DeviceState = {
      key,
      productKey: spec.productKey,
      deviceName: spec.deviceName,
      secret: spec.deviceSecret ?? randomBytes(16).toString("hex"),
      iotId: randomBytes(15).toString("base64url"),
      gateway: spec.gateway ?? false,
      disabled: false,
      deleted: false,
      loginTimes: [],
    };
    this.devices.set(key, device);
    return device;
  }

  get(key: string): DeviceState | undefined {
    return this.devices.get(key);
  }

  find(productKey: string, deviceName: string): DeviceState | undefined {
    return this.devices.get(keyOf(productKey, deviceName));
  }

  /** Sub-devices whose session rides on `client`. */
  sessionsOn(client: Client): DeviceState[] {
    return [...this.devices.values()].filter((d) => d.online?.client === client && d.online.gatewayKey !== d.key);
  }

  /** Sub-devices with a session under the gateway `gatewayKey`. */
  sessionsUnder(gatewayKey: string): DeviceState[] {
    return [...this.devices.values()].filter((d) => d.online && d.online.gatewayKey === gatewayKey && d.key !== gatewayKey);
  }

  /** Sub-devices bound to `gatewayKey`. */
  children(gatewayKey: string): DeviceState[] {
    return [...this.devices.values()].filter((d) => d.topoParent === gatewayKey && !d.deleted);
  }
}
