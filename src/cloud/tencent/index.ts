/** Placeholder until the tencent adapter lands. */
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import type { Core, PlatformAdapter } from "../platform.js";

export function createAdapter(_cfg: BootstrapConfig, _core: Core): PlatformAdapter {
  throw new Error("platform tencent is not available in this build");
}
