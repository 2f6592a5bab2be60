/**
 * The `lierda` part of the bootstrap config (lierda.md §13): the gateway's X-platform identity, the MQTT keys of
 * this platform (host and tls required), the `lierda` section and the `subDevices` entries of auth-type-2
 * products. Problems never contain a key or a secret.
 */
import type { BootstrapConfig, CommonMqtt, ConfigProblem } from "../../config/bootstrap/load.js";
import type { PlatformBootstrap } from "../platform.js";
import type { AuthType, ConnectType } from "./credentials.js";
import { checkDocumentDevices } from "./document.js";

const HEX8 = "^[0-9A-Fa-f]{8}$";
const HEX32 = "^[0-9A-Fa-f]{32}$";
const NODE_EUI = "^[A-Za-z0-9]{4,32}$";

/** The typed view of the keys the Lierda adapter reads. */
export interface LierdaConfig {
  gateway: {
    platform: "lierda";
    openId: string;
    productId: string;
    nodeEui: string;
    productKey: string;
    authType: AuthType;
    deviceSecret?: string;
    firmwareVersion?: string;
  };
  mqtt: CommonMqtt;
  lierda: {
    connectType: ConnectType;
    connectsPerSecond: number;
    products: Record<string, { productKey: string; authType: AuthType; encrypted: boolean }>;
    liveMaxAgeSeconds: number;
    historyBatchSize: number;
    hardwareVersion: string;
  };
  subDevices: Array<{ productKey: string; deviceName: string; deviceSecret: string }>;
  download: BootstrapConfig["download"];
}

/** The config as the Lierda adapter sees it (the loader validated it with this platform's schema). */
export function lierdaView(cfg: BootstrapConfig): LierdaConfig {
  return cfg as unknown as LierdaConfig;
}

const authType = { enum: [0, 1, 2], default: 2 };

export const bootstrap: PlatformBootstrap = {
  name: "lierda",
  gateway: {
    properties: {
      openId: { type: "string", pattern: HEX8, description: "manufacturer OpenID (8 hex), used for every device" },
      productId: { type: "string", pattern: HEX8, description: "the gateway's own ProductID (8 hex)" },
      nodeEui: { type: "string", pattern: NODE_EUI, description: "the gateway's own NodeEui (4-32 letters/digits)" },
      productKey: { type: "string", pattern: HEX32, description: "ProductKey of the gateway's product (32 hex, secret)" },
      authType: { ...authType, description: "0/1: one-type-one-secret (secret by auth), 2: one-device-one-secret" },
      deviceSecret: { type: "string", pattern: HEX32, description: "burned-in DeviceSecret (32 hex, secret); auth type 2 only" },
    },
    required: ["openId", "productId", "nodeEui", "productKey"],
  },
  mqtt: {
    properties: {
      host: { type: "string", minLength: 1 },
      tls: { type: "boolean" },
      port: { type: "integer", minimum: 1, maximum: 65535, description: "default 1883, or 8883 with TLS" },
      caFile: { type: "string", minLength: 1 },
      keepaliveSeconds: { type: "integer", minimum: 30, maximum: 1200, default: 60 },
      reconnectMinSeconds: { type: "number", minimum: 1, maximum: 3600, default: 1 },
      reconnectMaxSeconds: { type: "number", minimum: 1, maximum: 3600, default: 60 },
      requestTimeoutSeconds: { type: "number", minimum: 1, maximum: 60, default: 10 },
    },
    required: ["host", "tls"],
  },
  sections: {
    lierda: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        connectType: { enum: [0, 1], default: 0 },
        connectsPerSecond: { type: "number", minimum: 1, maximum: 500, default: 20 },
        products: {
          type: "object",
          default: {},
          propertyNames: { pattern: HEX8 },
          additionalProperties: {
            type: "object",
            additionalProperties: false,
            required: ["productKey"],
            properties: {
              productKey: { type: "string", pattern: HEX32 },
              authType,
              encrypted: { type: "boolean", default: false },
            },
          },
        },
        liveMaxAgeSeconds: { type: "number", minimum: 1, maximum: 60, default: 5 },
        historyBatchSize: { type: "integer", minimum: 1, maximum: 100, default: 50 },
        hardwareVersion: { type: "string", minLength: 1, maxLength: 32, default: "fieldbridge" },
      },
    },
  },
  subDevice: {
    type: "object",
    additionalProperties: false,
    required: ["productKey", "deviceName", "deviceSecret"],
    properties: {
      productKey: { type: "string", pattern: HEX8, description: "ProductID" },
      deviceName: { type: "string", pattern: NODE_EUI, description: "NodeEui" },
      deviceSecret: { type: "string", pattern: HEX32 },
    },
  },
  // Auth types 0 and 1 learn the secret from the auth exchange: only type 2 knows it from the file.
  documentSecret: (cfg: BootstrapConfig) => (cfg.gateway as { deviceSecret?: string }).deviceSecret,
  finish(cfg: BootstrapConfig, problems: ConfigProblem[]): void {
    const c = lierdaView(cfg);
    const push = (path: string, message: string) => problems.push({ path, message });
    if (c.mqtt.port === undefined) c.mqtt.port = c.mqtt.tls ? 8883 : 1883;
    if (c.mqtt.reconnectMaxSeconds < c.mqtt.reconnectMinSeconds) push("mqtt.reconnectMaxSeconds", "must be at least mqtt.reconnectMinSeconds");
    const gwType = c.gateway.authType ?? 2;
    c.gateway.authType = gwType;
    if (gwType === 2 && c.gateway.deviceSecret === undefined) push("gateway.deviceSecret", "is required with gateway.authType 2");
    if (gwType !== 2 && c.gateway.deviceSecret !== undefined) push("gateway.deviceSecret", `is not used with gateway.authType ${gwType} (the secret comes from the auth)`);
    const products = c.lierda?.products ?? {};
    const lower = (s: string) => s.toLowerCase();
    for (const [pid, p] of Object.entries(products)) {
      if (lower(pid) === lower(c.gateway.productId)) push(`lierda.products.${pid}`, "is the gateway's own product (its keys are in gateway)");
      if (p.encrypted) push(`lierda.products.${pid}.encrypted`, "encrypted products are not supported in this version");
      p.authType ??= 2;
      p.encrypted ??= false;
    }
    const seen = new Set<string>();
    (c.subDevices ?? []).forEach((s, i) => {
      const path = `subDevices[${i}]`;
      const entry = Object.entries(products).find(([pid]) => lower(pid) === lower(s.productKey))?.[1];
      if (!entry) push(`${path}.productKey`, "has no entry in lierda.products");
      else if (entry.authType !== 2) push(`${path}.productKey`, `product has auth type ${entry.authType}: its secret comes from the auth`);
      const pair = `${lower(s.productKey)}/${s.deviceName}`;
      if (seen.has(pair)) push(path, "the ProductID/NodeEui pair is listed twice");
      seen.add(pair);
      if (lower(s.productKey) === lower(c.gateway.productId) && s.deviceName === c.gateway.nodeEui) push(path, "is the gateway itself");
    });
  },
  checkDocument: (cfg, doc) => checkDocumentDevices(doc.deviceList, lierdaView(cfg).gateway),
  warnings(cfg: BootstrapConfig): ConfigProblem[] {
    const c = lierdaView(cfg);
    const out: ConfigProblem[] = [];
    if (!c.mqtt.tls && c.mqtt.caFile !== undefined) out.push({ path: "mqtt.caFile", message: "is only used with mqtt.tls true" });
    if (c.lierda?.connectType === 1) out.push({ path: "lierda.connectType", message: "1 needs a correct clock (the platform checks the connect timestamp)" });
    return out;
  },
};
