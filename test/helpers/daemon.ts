/** Sets up a data dir and a bootstrap config pointing at a cloud emulator. */
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";

export const GATEWAY = { productKey: "a1TestGw", deviceName: "gw-test-01", deviceSecret: "Tz9qLm4Xv8Rk2Nw6Yp3Hs7Jd5Fg1Ab0C" };

export interface TestRig {
  dir: string;
  configFile: string;
  dataDir: string;
  caFile: string;
  cleanup(): void;
}

/** Writes `config.json` (+ the emulator's CA) into a temp dir; `extra` is merged at top level. */
export function makeRig(emu: CloudEmulator, extra: Record<string, unknown> = {}, opts: { tls?: boolean; secret?: string } = {}): TestRig {
  const dir = mkdtempSync(join(tmpdir(), "fb-it-"));
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, emu.caPem);
  const tls = opts.tls ?? emu.url.startsWith("mqtts:");
  const { mqtt: extraMqtt, ...rest } = extra as { mqtt?: Record<string, unknown> };
  const config = {
    gateway: { ...GATEWAY, deviceSecret: opts.secret ?? GATEWAY.deviceSecret },
    mqtt: { host: "127.0.0.1", port: emu.port, tls, ...(tls ? { caFile } : {}), keepaliveSeconds: 30, reconnectMinSeconds: 0.2, reconnectMaxSeconds: 1, requestTimeoutSeconds: 3, ...extraMqtt },
    dataDir: join(dir, "data"),
    download: { caFile },
    log: { level: "debug" },
    ...rest,
  };
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dir, configFile, dataDir: join(dir, "data"), caFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Asserts that none of the given secrets occurs in the text. */
export function secretsIn(text: string, secrets: string[]): string[] {
  return secrets.filter((s) => s && text.toLowerCase().includes(s.toLowerCase()));
}
