/**
 * The `huawei` part of the bootstrap config (huawei.md section 11): the gateway's deviceId and secret, the MQTT
 * keys of this platform (host required, TLS on port 8883 by default), the `huawei` section and the `subDevices`
 * entries (productKey = productId, deviceName = nodeId, deviceSecret, optional deviceId). Problems never contain
 * a secret.
 */
import { documentKey } from "./sign.js";
import type { BootstrapConfig, CommonMqtt, ConfigProblem } from "../../config/bootstrap/load.js";
import type { PlatformBootstrap } from "../platform.js";
import type { PasswordEncoding, SignType } from "./sign.js";
import { deviceKey } from "../../core/device-key.js";

const DEVICE_ID = "^[^/+#\\s]{1,64}$";

export interface HuaweiSubDevice {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
  deviceId?: string;
}

/** The typed view of the keys the Huawei adapter reads. */
export interface HuaweiConfig {
  gateway: { platform: "huawei"; deviceId: string; deviceSecret: string; productKey?: string; firmwareVersion?: string };
  mqtt: Omit<CommonMqtt, "requestTimeoutSeconds">;
  huawei: {
    passwordEncoding: PasswordEncoding;
    signType: SignType;
    serviceId: string;
    connectsPerSecond: number;
    maxConnections: number;
    tlsServerName?: string;
  };
  subDevices: HuaweiSubDevice[];
  download: BootstrapConfig["download"];
}

/** The config as the Huawei adapter sees it (the loader validated it with this platform's schema). */
export function huaweiView(cfg: BootstrapConfig): HuaweiConfig {
  return cfg as unknown as HuaweiConfig;
}

export const bootstrap: PlatformBootstrap = {
  name: "huawei",
  gateway: {
    properties: {
      deviceId: { type: "string", pattern: DEVICE_ID, description: "the gateway's deviceId from the platform's registration" },
      deviceSecret: { type: "string", minLength: 1, maxLength: 256, description: "the secret from the registration (secret)" },
      productKey: { type: "string", minLength: 1, maxLength: 64, description: "the gateway's productId (finds its own TSL in tslList)" },
    },
    required: ["deviceId", "deviceSecret"],
  },
  mqtt: {
    properties: {
      host: { type: "string", minLength: 1 },
      port: { type: "integer", minimum: 1, maximum: 65535, description: "default 8883, or 1883 with tls false" },
      tls: { type: "boolean", default: true },
      caFile: { type: "string", minLength: 1 },
      keepaliveSeconds: { type: "integer", minimum: 30, maximum: 1200, default: 120 },
      reconnectMinSeconds: { type: "number", exclusiveMinimum: 0, default: 1 },
      reconnectMaxSeconds: { type: "number", exclusiveMinimum: 0, default: 60 },
    },
    required: ["host"],
  },
  sections: {
    huawei: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        passwordEncoding: { enum: ["hex", "base64"], default: "hex" },
        signType: { enum: [0, 1], default: 1 },
        serviceId: { type: "string", pattern: "^[A-Za-z0-9_]{1,64}$", not: { const: "Gateway" }, default: "Thing" },
        connectsPerSecond: { type: "integer", minimum: 1, maximum: 200, default: 10 },
        maxConnections: { type: "integer", minimum: 1, maximum: 10000, default: 1500 },
        tlsServerName: { type: "string", minLength: 1, maxLength: 253 },
      },
    },
  },
  subDevice: {
    type: "object",
    additionalProperties: false,
    required: ["productKey", "deviceName", "deviceSecret"],
    properties: {
      productKey: { type: "string", minLength: 1, maxLength: 64, description: "productId" },
      deviceName: { type: "string", pattern: "^[A-Za-z0-9\\-_@.:]{4,32}$", description: "nodeId" },
      deviceSecret: { type: "string", minLength: 1, maxLength: 256 },
      deviceId: { type: "string", pattern: DEVICE_ID },
    },
  },
  documentSecret(cfg: BootstrapConfig): string | undefined {
    const secret = (cfg.gateway as { deviceSecret?: string }).deviceSecret;
    return secret === undefined ? undefined : documentKey(secret);
  },
  finish(cfg: BootstrapConfig, problems: ConfigProblem[]): void {
    const c = huaweiView(cfg);
    const push = (path: string, message: string) => problems.push({ path, message });
    c.mqtt.tls ??= true;
    c.mqtt.port ??= c.mqtt.tls ? 8883 : 1883;
    c.mqtt.keepaliveSeconds ??= 120;
    c.mqtt.reconnectMinSeconds ??= 1;
    c.mqtt.reconnectMaxSeconds ??= 60;
    if (c.mqtt.reconnectMaxSeconds < c.mqtt.reconnectMinSeconds) push("mqtt.reconnectMaxSeconds", "must be at least mqtt.reconnectMinSeconds");
    const defaults: HuaweiConfig["huawei"] = { passwordEncoding: "hex", signType: 1, serviceId: "Thing", connectsPerSecond: 10, maxConnections: 1500 };
    c.huawei = { ...defaults, ...((c.huawei ?? {}) as Partial<HuaweiConfig["huawei"]>) };
    if (c.huawei.serviceId === "Gateway") push("huawei.serviceId", 'must not be "Gateway" (the gateway\'s management service)');
    const byPair = new Map<string, number>();
    const byId = new Map<string, number>();
    (c.subDevices ?? []).forEach((s, i) => {
      const path = `subDevices[${i}]`;
      const pair = deviceKey(s.productKey, s.deviceName);
      const first = byPair.get(pair);
      if (first !== undefined) push(path, `duplicate of subDevices[${first}] (same productKey and deviceName)`);
      else byPair.set(pair, i);
      if (s.deviceId === undefined) return;
      if (s.deviceId === c.gateway.deviceId) push(`${path}.deviceId`, "is the gateway's own deviceId");
      const firstId = byId.get(s.deviceId);
      if (firstId !== undefined) push(`${path}.deviceId`, `duplicate of subDevices[${firstId}]`);
      else byId.set(s.deviceId, i);
    });
  },
  warnings(cfg: BootstrapConfig): ConfigProblem[] {
    const c = huaweiView(cfg);
    const out: ConfigProblem[] = [];
    if (c.mqtt.tls === false) out.push({ path: "mqtt.tls", message: "false: the platform accepts only MQTTS; plain TCP is for test rigs" });
    if (c.mqtt.tls === false && c.mqtt.caFile !== undefined) out.push({ path: "mqtt.caFile", message: "is only used with mqtt.tls true" });
    return out;
  },
};
