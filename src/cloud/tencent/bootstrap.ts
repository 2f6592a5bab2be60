/**
 * The `tencent` part of the bootstrap config (tencent.md section 12): the gateway's ProductId, DeviceName and
 * device key, the MQTT keys of this platform (TLS on 8883 by default, host derived from the ProductId), the
 * `tencent` section, `sessions`, and the `subDevices` keys used to sign `bind`. Problems never contain a secret.
 */
import type { BootstrapConfig, CommonMqtt, ConfigProblem } from "../../config/bootstrap/load.js";
import type { PlatformBootstrap } from "../platform.js";
import type { TencentSignMethod } from "./sign.js";
import { deviceKey } from "../../core/device-key.js";
import { checkDocumentDevices } from "./document.js";
import { SESSIONS_SECTION } from "../sessions-schema.js";

const PRODUCT_ID = "^[A-Z0-9]{10}$";
const BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$";

export interface TencentConfig {
  gateway: { platform: "tencent"; productId: string; deviceName: string; deviceSecret: string; firmwareVersion?: string };
  mqtt: CommonMqtt & { signMethod: TencentSignMethod };
  tencent: {
    sdkAppId: string;
    expirySeconds: number;
    bindSignMethod: TencentSignMethod;
    configResourceName: string;
    timestampUnit: "s" | "ms";
    replayMaxAgeHours: number;
    publishesPerSecond: number;
    fieldOfflineSeconds: number;
  };
  sessions: { maxOnline: number; loginsPerSecond: number; batchSize: number; pruneTopology: boolean };
  subDevices: Array<{ productKey: string; deviceName: string; deviceSecret: string }>;
  download: BootstrapConfig["download"];
  ota: BootstrapConfig["ota"];
}

export const TENCENT_DEFAULTS: TencentConfig["tencent"] = {
  sdkAppId: "12010126",
  expirySeconds: 31536000,
  bindSignMethod: "hmacsha256",
  configResourceName: "gateway-config.json",
  timestampUnit: "s",
  replayMaxAgeHours: 23,
  publishesPerSecond: 10,
  fieldOfflineSeconds: 30,
};

/** The config as the Tencent adapter sees it (the loader validated it with this platform's schema). */
export function tencentView(cfg: BootstrapConfig): TencentConfig {
  return cfg as unknown as TencentConfig;
}

/** Whether `s` is a base64 key of 1..64 bytes (4..88 characters). */
function keyOk(s: string): boolean {
  return s.length >= 4 && s.length <= 88 && new RegExp(BASE64).test(s) && Buffer.from(s, "base64").length >= 1 && Buffer.from(s, "base64").length <= 64;
}

export const bootstrap: PlatformBootstrap = {
  name: "tencent",
  gateway: {
    properties: {
      productId: { type: "string", pattern: PRODUCT_ID, description: "the gateway's ProductId" },
      deviceName: { type: "string", pattern: "^[A-Za-z0-9_\\-@.:]{1,48}$", description: "the gateway's DeviceName" },
      deviceSecret: { type: "string", minLength: 4, maxLength: 88, description: "the device key (PSK, base64; secret)" },
    },
    required: ["productId", "deviceName", "deviceSecret"],
  },
  mqtt: {
    properties: {
      host: { type: "string", minLength: 1 },
      port: { type: "integer", minimum: 1, maximum: 65535 },
      tls: { type: "boolean", default: true },
      caFile: { type: "string", minLength: 1 },
      keepaliveSeconds: { type: "integer", minimum: 30, maximum: 900, default: 120 },
      signMethod: { enum: ["hmacsha256", "hmacsha1"], default: "hmacsha256" },
      reconnectMinSeconds: { type: "number", exclusiveMinimum: 0, default: 1 },
      reconnectMaxSeconds: { type: "number", exclusiveMinimum: 0, maximum: 3600, default: 60 },
      requestTimeoutSeconds: { type: "number", minimum: 1, maximum: 60, default: 10 },
    },
  },
  sections: {
    tencent: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        sdkAppId: { type: "string", pattern: "^[0-9]{1,16}$", default: "12010126" },
        expirySeconds: { type: "integer", minimum: 60, maximum: 315360000, default: 31536000 },
        bindSignMethod: { enum: ["hmacsha256", "hmacsha1"], default: "hmacsha256" },
        configResourceName: { type: "string", pattern: "^[^/]{1,64}$", default: "gateway-config.json" },
        timestampUnit: { enum: ["s", "ms"], default: "s" },
        replayMaxAgeHours: { type: "number", exclusiveMinimum: 0, maximum: 23.5, default: 23 },
        publishesPerSecond: { type: "integer", minimum: 1, maximum: 100, default: 10 },
        fieldOfflineSeconds: { type: "integer", minimum: 5, maximum: 3600, default: 30 },
      },
    },
    sessions: SESSIONS_SECTION,
  },
  subDevice: {
    type: "object",
    additionalProperties: false,
    required: ["productKey", "deviceName", "deviceSecret"],
    properties: {
      productKey: { type: "string", pattern: PRODUCT_ID, description: "ProductId" },
      deviceName: { type: "string", pattern: "^[A-Za-z0-9_\\-@.:]{1,48}$" },
      deviceSecret: { type: "string", minLength: 4, maxLength: 88 },
    },
  },
  checkDocument: (cfg, doc) => checkDocumentDevices(doc.deviceList, tencentView(cfg).gateway),
  // The document's OPC UA passwords are keyed with the gateway's device key as text (spec 7.3).
  documentSecret: (cfg: BootstrapConfig) => (cfg.gateway as { deviceSecret?: string }).deviceSecret,
  finish(cfg: BootstrapConfig, problems: ConfigProblem[]): void {
    const c = tencentView(cfg);
    const push = (path: string, message: string) => problems.push({ path, message });
    c.mqtt.tls ??= true;
    c.mqtt.port ??= c.mqtt.tls ? 8883 : 1883;
    c.mqtt.host ??= `${c.gateway.productId}.iotcloud.tencentdevices.com`;
    c.mqtt.keepaliveSeconds ??= 120;
    c.mqtt.signMethod ??= "hmacsha256";
    c.mqtt.reconnectMinSeconds ??= 1;
    c.mqtt.reconnectMaxSeconds ??= 60;
    c.mqtt.requestTimeoutSeconds ??= 10;
    if (c.mqtt.reconnectMinSeconds > c.mqtt.reconnectMaxSeconds) push("mqtt.reconnectMinSeconds", "must be at most mqtt.reconnectMaxSeconds");
    c.tencent = { ...TENCENT_DEFAULTS, ...((c.tencent ?? {}) as Partial<TencentConfig["tencent"]>) };
    c.sessions = { maxOnline: 1500, loginsPerSecond: 50, batchSize: 10, pruneTopology: true, ...((c.sessions ?? {}) as Partial<TencentConfig["sessions"]>) };
    if (!keyOk(c.gateway.deviceSecret)) push("gateway.deviceSecret", "must be standard base64 with padding decoding to 1-64 bytes");
    const seen = new Map<string, number>();
    (c.subDevices ?? []).forEach((s, i) => {
      const pair = deviceKey(s.productKey, s.deviceName);
      const first = seen.get(pair);
      if (first !== undefined) push(`subDevices[${i}]`, `duplicate of subDevices[${first}] (same productKey and deviceName)`);
      else seen.set(pair, i);
      if (!keyOk(s.deviceSecret)) push(`subDevices[${i}].deviceSecret`, "must be standard base64 with padding decoding to 1-64 bytes");
      if (s.productKey === c.gateway.productId && s.deviceName === c.gateway.deviceName) push(`subDevices[${i}]`, "is the gateway itself");
    });
  },
  warnings(cfg: BootstrapConfig): ConfigProblem[] {
    const c = tencentView(cfg);
    return c.mqtt.tls === false
      ? [{ path: "mqtt.tls", message: "false: the CONNECT password can be replayed by anyone who sees it until it expires" }]
      : [];
  },
};
