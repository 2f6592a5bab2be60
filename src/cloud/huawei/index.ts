/** The `huawei` platform module (huawei.md): `createAdapter` for the registry, `bootstrap` for the config loader. */
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import type { Core, PlatformAdapter } from "../platform.js";
import { HuaweiAdapter } from "./adapter.js";

export function createAdapter(cfg: BootstrapConfig, core: Core): PlatformAdapter {
  return new HuaweiAdapter(cfg, core);
}

export { HuaweiAdapter } from "./adapter.js";
export { bootstrap, huaweiView, type HuaweiConfig } from "./bootstrap.js";
