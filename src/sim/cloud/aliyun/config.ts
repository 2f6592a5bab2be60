/**
 * Remote configuration as the platform does it (alink.md 3.20): a product's configuration file, hosted on the file
 * server (standing in for OSS) and described by `{configId, configSize, sign, signMethod: "Sha256", url, getType:
 * "file"}`. `thing.config.get` must carry `params {configScope: "product", getType: "file"}` (460 otherwise); it is
 * answered 6710 when the product has no file and 6713 when its remote configuration is switched off. Files above
 * 64 KB are not accepted (alink.md 4.4). The push (`thing.config.push`) is sent by the emulator's helper.
 */
import { createHash } from "node:crypto";
import type { Core, Uplink } from "./context.js";
import type { DeviceState } from "./registry.js";
import { fail } from "./topo.js";

export const MAX_CONFIG_BYTES = 64 * 1024;

export interface RemoteConfigFile {
  configId: string;
  configSize: number;
  sign: string;
  signMethod: "Sha256";
  url: string;
  getType: "file";
}

export interface RemoteConfigOptions {
  /** Default: a fresh id. */
  configId?: string;
  /** A wrong sign, for the device's digest check. Default: SHA-256 hex of the file. */
  sign?: string;
}

export class RemoteConfigs {
  private readonly byProduct = new Map<string, RemoteConfigFile | "disabled">();
  private seq = 0;

  constructor(private readonly put: (name: string, body: Buffer) => string) {}

  /** Uploads a product's file (object: as JSON), switches the function off ("disabled") or removes the file (null). */
  set(productKey: string, file: object | Buffer | "disabled" | null, opts: RemoteConfigOptions = {}): RemoteConfigFile | undefined {
    if (file === null) {
      this.byProduct.delete(productKey);
      return undefined;
    }
    if (file === "disabled") {
      this.byProduct.set(productKey, "disabled");
      return undefined;
    }
    const body = Buffer.isBuffer(file) ? file : Buffer.from(JSON.stringify(file), "utf8");
    if (body.length > MAX_CONFIG_BYTES) throw new Error(`a remote configuration file is at most ${MAX_CONFIG_BYTES} bytes, got ${body.length}`);
    const configId = opts.configId ?? `cfg${Date.now().toString(36)}${++this.seq}`;
    // A fresh name per upload: a device holding an old URL must not get the new body.
    const url = this.put(`remote-config/${productKey}/${configId}-${this.seq}.json`, body);
    const entry: RemoteConfigFile = {
      configId, configSize: body.length, sign: opts.sign ?? createHash("sha256").update(body).digest("hex"), signMethod: "Sha256", url, getType: "file",
    };
    this.byProduct.set(productKey, entry);
    return entry;
  }

  get(productKey: string): RemoteConfigFile | "disabled" | undefined {
    return this.byProduct.get(productKey);
  }
}

export function handleConfigGet(core: Core, up: Uplink, device: DeviceState, configs: RemoteConfigs): void {
  const params = up.msg?.["params"];
  const p = typeof params === "object" && params !== null && !Array.isArray(params) ? (params as Record<string, unknown>) : undefined;
  const refuse = (code: number, message: string) => fail(core, up, code, message, device.key);
  if (up.id === undefined || up.msg?.["method"] !== "thing.config.get") return refuse(460, "request parameter error: id and method thing.config.get are required");
  if (!p || p["configScope"] !== "product" || p["getType"] !== "file") return refuse(460, "request parameter error: params.configScope must be product and params.getType file");
  const fault = core.faults.take("configGet", [device.key]);
  if (fault) return refuse(fault.code, fault.message);
  const entry = configs.get(device.productKey);
  // 6713 and 6710 answer a valid request (the function is off, there is no file): not refusals of what was sent.
  if (entry === "disabled") return core.reply(up, 6713, { message: "thing config function is not available" });
  if (!entry) return core.reply(up, 6710, { message: "no data" });
  core.reply(up, 200, { data: { ...entry } });
}
