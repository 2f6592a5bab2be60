/**
 * Alibaba Cloud IoT Platform's part of the bootstrap config (operator-interface.md, alink.md): the gateway's
 * device triple and region, the Alink MQTT options, and the `sessions` section (sub-device logins). Imported
 * statically by the config loader through `cloud/bootstraps.ts`; it loads nothing of the adapter.
 */
import type { PlatformBootstrap } from "../platform.js";
import type { BootstrapConfig, ConfigProblem } from "../../config/bootstrap/load.js";
import type { ConnectSignMethod } from "./sign.js";
import { tagProblem } from "./tag-rules.js";
import { SESSIONS_SECTION } from "../sessions-schema.js";

/** Device name rule of the platform (also for sub-devices). */
const DEVICE_NAME = { type: "string", pattern: "^[A-Za-z0-9_@.:-]{4,32}$" };

export const bootstrap: PlatformBootstrap = {
  name: "aliyun",
  // thing.dsltemplate.get (alink.md 3.18, src/cloud/aliyun/dsltemplate.ts)
  fetchesTsl: true,
  gateway: {
    properties: {
      productKey: { type: "string", minLength: 1, maxLength: 64 },
      deviceName: DEVICE_NAME,
      deviceSecret: { type: "string", minLength: 1 },
      regionId: { type: "string", pattern: "^[a-z0-9-]+$", default: "cn-shanghai" },
    },
    required: ["productKey", "deviceName", "deviceSecret"],
  },
  mqtt: {
    properties: {
      // Default: `${productKey}.iot-as-mqtt.${regionId}.aliyuncs.com` (finish).
      host: { type: "string", minLength: 1 },
      port: { type: "integer", minimum: 1, maximum: 65535, default: 1883 },
      tls: { type: "boolean", default: true },
      caFile: { type: "string", minLength: 1 },
      // The platform refuses a keepalive outside 30..1200 s.
      keepaliveSeconds: { type: "integer", minimum: 30, maximum: 1200, default: 300 },
      signMethod: { enum: ["hmacmd5", "hmacsha1", "hmacsha256"], default: "hmacsha256" },
      // Default: the device name (finish). `|` would end the client id before the signing extension.
      clientId: { type: "string", minLength: 1, maxLength: 64, pattern: "^[^|]+$" },
      reconnectMinSeconds: { type: "number", minimum: 0.05, maximum: 600, default: 1 },
      reconnectMaxSeconds: { type: "number", minimum: 0.05, maximum: 3600, default: 60 },
      requestTimeoutSeconds: { type: "number", minimum: 0.1, maximum: 120, default: 10 },
    },
  },
  sections: {
    aliyun: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        // The platform's key rules are checked when the tags are sent (a bad one is skipped and logged) and by `check`.
        tags: { type: "object", default: {}, additionalProperties: { type: "string" }, description: "extra device tags of the gateway itself" },
      },
    },
    sessions: SESSIONS_SECTION,
  },
  subDevice: {
    type: "object",
    additionalProperties: false,
    required: ["productKey", "deviceName", "deviceSecret"],
    properties: {
      productKey: { type: "string", minLength: 1 },
      deviceName: DEVICE_NAME,
      deviceSecret: { type: "string", minLength: 1 },
    },
  },
  documentSecret: (cfg: BootstrapConfig) => (cfg.gateway as { deviceSecret?: string }).deviceSecret,
  warnings(cfg: BootstrapConfig): ConfigProblem[] {
    const tags = (cfg as unknown as { aliyun?: { tags?: Record<string, string> } }).aliyun?.tags ?? {};
    return Object.entries(tags).flatMap(([k, v]) => {
      const problem = tagProblem(k, v);
      return problem ? [{ path: `aliyun.tags.${k}`, message: `this tag will not be sent: ${problem}` }] : [];
    });
  },
  finish(cfg: BootstrapConfig, _problems: ConfigProblem[]): void {
    const gw = cfg.gateway as unknown as AliyunGateway;
    cfg.mqtt.host ??= `${gw.productKey}.iot-as-mqtt.${gw.regionId}.aliyuncs.com`;
    cfg.mqtt["clientId"] ??= gw.deviceName;
  },
};

interface AliyunGateway {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
  regionId: string;
}

export type AliyunSessions = NonNullable<BootstrapConfig["sessions"]>;

/** The Alibaba keys of a loaded bootstrap config, typed. */
export interface AliyunConfig extends AliyunGateway {
  signMethod: ConnectSignMethod;
  clientId: string;
  sessions: AliyunSessions;
  /** `aliyun.tags`: the operator's extra tags of the gateway. */
  tags: Record<string, string>;
}

/**
 * The typed Alibaba view of a bootstrap config loaded for platform `aliyun` (schema and `finish` have made every
 * key present). Throws for a config of another platform: its keys are not there.
 */
export function aliyunConfig(cfg: BootstrapConfig): AliyunConfig {
  if (cfg.gateway.platform !== "aliyun") throw new Error(`bootstrap config is for platform ${cfg.gateway.platform}, not aliyun`);
  const gw = cfg.gateway as unknown as AliyunGateway;
  return {
    productKey: gw.productKey,
    deviceName: gw.deviceName,
    deviceSecret: gw.deviceSecret,
    regionId: gw.regionId,
    signMethod: cfg.mqtt["signMethod"] as ConnectSignMethod,
    clientId: cfg.mqtt["clientId"] as string,
    sessions: cfg.sessions as AliyunSessions,
    tags: (cfg as unknown as { aliyun?: { tags?: Record<string, string> } }).aliyun?.tags ?? {},
  };
}
