/** Alibaba Cloud IoT Platform (Alink): `gateway.platform: "aliyun"`. */
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import type { Core, PlatformAdapter } from "../platform.js";
import { AliyunAdapter } from "./adapter.js";

export { AliyunAdapter };

export function createAdapter(cfg: BootstrapConfig, core: Core): PlatformAdapter {
  return new AliyunAdapter(cfg, core);
}
