/** The Lierda X-platform adapter (lierda.md), loaded by `gateway.platform: "lierda"`. */
import type { BootstrapConfig } from "../../config/bootstrap/load.js";
import type { Core, PlatformAdapter } from "../platform.js";
import { LierdaAdapter } from "./adapter.js";
import { lierdaView } from "./bootstrap.js";

export function createAdapter(cfg: BootstrapConfig, core: Core): PlatformAdapter {
  return new LierdaAdapter(lierdaView(cfg), core);
}

export { bootstrap, lierdaView, type LierdaConfig } from "./bootstrap.js";
