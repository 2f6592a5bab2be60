/**
 * Bootstrap parts of Tencent, Huawei and Lierda reduced to their key names and a few checks from the specs'
 * bootstrap key tables, for loader tests that need more than one platform. A build's real part replaces the
 * reduced one (`withBuildParts`), so the same tests run against every real part the build has.
 */
import type { PlatformBootstrap } from "../../src/cloud/platform.js";
import { bootstraps, type BootstrapRegistry } from "../../src/cloud/bootstraps.js";

const str = { type: "string", minLength: 1 };
const reconnect = {
  reconnectMinSeconds: { type: "number", exclusiveMinimum: 0, default: 1 },
  reconnectMaxSeconds: { type: "number", exclusiveMinimum: 0, maximum: 3600, default: 60 },
};
const sessions = {
  type: "object", additionalProperties: false, default: {},
  properties: {
    maxOnline: { type: "integer", minimum: 1, default: 1500 },
    loginsPerSecond: { type: "number", exclusiveMinimum: 0, default: 50 },
    batchSize: { type: "integer", minimum: 1, maximum: 50, default: 10 },
    pruneTopology: { type: "boolean", default: true },
  },
};
const section = (properties: Record<string, object>) => ({ type: "object", additionalProperties: false, default: {}, properties });
const subDevice = (extra: Record<string, object> = {}) => ({
  type: "object", additionalProperties: false, required: ["productKey", "deviceName", "deviceSecret"],
  properties: { productKey: str, deviceName: str, deviceSecret: str, ...extra },
});
const tlsPort = (cfg: { mqtt: { tls: boolean; port: number } }) => (cfg.mqtt.port ??= cfg.mqtt.tls ? 8883 : 1883);

export const tencent: PlatformBootstrap = {
  name: "tencent",
  gateway: { properties: { productId: { type: "string", pattern: "^[A-Z0-9]{10}$" }, deviceName: str, deviceSecret: str }, required: ["productId", "deviceName", "deviceSecret"] },
  mqtt: {
    properties: {
      host: str, port: { type: "integer", minimum: 1, maximum: 65535 }, tls: { type: "boolean", default: true }, caFile: str,
      keepaliveSeconds: { type: "integer", minimum: 30, maximum: 900, default: 120 },
      signMethod: { enum: ["hmacsha256", "hmacsha1"], default: "hmacsha256" },
      requestTimeoutSeconds: { type: "number", minimum: 1, maximum: 60, default: 10 }, ...reconnect,
    },
  },
  sections: { tencent: section({ sdkAppId: { type: "string", pattern: "^[0-9]{1,16}$", default: "12010126" }, timestampUnit: { enum: ["s", "ms"], default: "s" } }), sessions },
  subDevice: subDevice(),
  documentSecret: () => undefined,
  finish(cfg) {
    cfg.mqtt.host ??= `${String(cfg.gateway["productId"])}.iotcloud.tencentdevices.com`;
    tlsPort(cfg);
  },
};

export const huawei: PlatformBootstrap = {
  name: "huawei",
  gateway: { properties: { deviceId: { type: "string", pattern: "^[^/+#\\s]{1,64}$" }, deviceSecret: str, productKey: str }, required: ["deviceId", "deviceSecret"] },
  mqtt: {
    properties: { host: str, port: { type: "integer", minimum: 1, maximum: 65535 }, tls: { type: "boolean", default: true }, caFile: str, keepaliveSeconds: { type: "integer", minimum: 30, maximum: 1200, default: 120 }, ...reconnect },
    required: ["host"],
  },
  sections: { huawei: section({ signType: { enum: [0, 1], default: 1 }, serviceId: { type: "string", default: "Thing" } }) },
  subDevice: subDevice({ deviceId: str }),
  documentSecret: () => undefined,
  finish(cfg) {
    tlsPort(cfg);
  },
  warnings(cfg) {
    return cfg.mqtt.tls ? [] : [{ path: "mqtt.tls", message: "the platform accepts only MQTTS" }];
  },
};

export const lierda: PlatformBootstrap = {
  name: "lierda",
  gateway: {
    properties: {
      openId: { type: "string", pattern: "^[0-9A-Fa-f]{8}$" }, productId: { type: "string", pattern: "^[0-9A-Fa-f]{8}$" },
      nodeEui: { type: "string", pattern: "^[A-Za-z0-9]{4,32}$" }, productKey: { type: "string", pattern: "^[0-9A-Fa-f]{32}$" },
      authType: { enum: [0, 1, 2], default: 2 }, deviceSecret: { type: "string", pattern: "^[0-9A-Fa-f]{32}$" },
    },
    required: ["openId", "productId", "nodeEui", "productKey"],
  },
  mqtt: {
    properties: { host: str, tls: { type: "boolean" }, port: { type: "integer", minimum: 1, maximum: 65535 }, caFile: str, keepaliveSeconds: { type: "integer", minimum: 30, maximum: 1200, default: 60 }, requestTimeoutSeconds: { type: "number", minimum: 1, maximum: 60, default: 10 }, ...reconnect },
    required: ["host", "tls"],
  },
  sections: { lierda: section({ connectType: { enum: [0, 1], default: 0 }, products: { type: "object", default: {} } }) },
  subDevice: subDevice(),
  documentSecret: () => undefined,
  finish(cfg, problems) {
    tlsPort(cfg);
    if (cfg.gateway["authType"] === 2 && cfg.gateway["deviceSecret"] === undefined) problems.push({ path: "gateway.deviceSecret", message: "is required with gateway.authType 2" });
  },
};

/** The reduced parts, each replaced by the build's real part where the build has one. */
export function withBuildParts(): BootstrapRegistry {
  return { tencent, huawei, lierda, ...bootstraps };
}
