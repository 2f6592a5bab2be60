/** The cloud world of each platform, loaded lazily (the demo and the contract suite pick one by name). */
import type { PlatformName } from "../cloud/platform.js";
import type { WorldFactory } from "./world.js";

const WORLDS: Partial<Record<PlatformName, () => Promise<{ createWorld: WorldFactory }>>> = {
  aliyun: () => import("./cloud/aliyun/world.js"),
  lierda: () => import("./cloud/lierda/world.js"),
  huawei: () => import("./cloud/huawei/world.js"),
  tencent: () => import("./cloud/tencent/world.js"),
};

/** The world factory of a platform; throws a clear error for a platform whose emulator is not in this build. */
export async function loadWorld(platform: PlatformName): Promise<WorldFactory> {
  const load = WORLDS[platform];
  if (!load) throw new Error(`no emulator for platform ${platform} in this build`);
  return (await load()).createWorld;
}

export function worldPlatforms(): PlatformName[] {
  return Object.keys(WORLDS) as PlatformName[];
}
