/** The `tencent` platform module (src/cloud/index.ts loads it by `gateway.platform`). */
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import type { Core, PlatformAdapter } from "../platform.js";
import { TencentAdapter } from "./adapter.js";

export function createAdapter(cfg: BootstrapConfig, core: Core): PlatformAdapter {
  return new TencentAdapter(cfg, core);
}
export { TencentAdapter };
