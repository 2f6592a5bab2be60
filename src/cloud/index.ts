/**
 * The platform registry: `gateway.platform` → its adapter module, loaded lazily (a gateway on one cloud never
 * loads the others' code).
 */
import type { PlatformModule, PlatformName } from "./platform.js";

const LOADERS: Record<PlatformName, () => Promise<PlatformModule>> = {
  aliyun: () => import("./aliyun/index.js"),
  tencent: () => import("./tencent/index.js"),
  huawei: () => import("./huawei/index.js"),
  lierda: () => import("./lierda/index.js"),
};

export async function loadPlatform(name: PlatformName): Promise<PlatformModule> {
  const load = LOADERS[name];
  if (!load) throw new Error(`unknown platform ${JSON.stringify(name)}`);
  return load();
}
