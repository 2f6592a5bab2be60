/**
 * Every platform's bootstrap part, by `gateway.platform`. Imported statically by the config loader: the parts are
 * small and `fieldbridge check` validates a config without loading any adapter. A platform is added with one import
 * and one entry.
 */
import type { BootstrapConfig } from "../config/bootstrap/load.js";
import type { ParseContext } from "../config/gateway/parse.js";
import type { PlatformBootstrap, PlatformName } from "./platform.js";
import { bootstrap as aliyun } from "./aliyun/bootstrap.js";
import { bootstrap as lierda } from "./lierda/bootstrap.js";
import { bootstrap as huawei } from "./huawei/bootstrap.js";
import { bootstrap as tencent } from "./tencent/bootstrap.js";

/** The platforms of this build; a platform of PLATFORM_NAMES missing here is refused by the loader. */
export type BootstrapRegistry = Readonly<Partial<Record<PlatformName, PlatformBootstrap>>>;

export const bootstraps: BootstrapRegistry = {
  aliyun,
  lierda,
  huawei,
  tencent,
};

/** The platform's document rules for this bootstrap config, as the document parser takes them (undefined: none). */
export function documentCheck(cfg: BootstrapConfig): ParseContext["checkDocument"] {
  const part = bootstraps[cfg.gateway.platform];
  return part?.checkDocument ? (doc) => part.checkDocument!(cfg, doc) : undefined;
}
