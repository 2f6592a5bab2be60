/**
 * Per-device platforms in the benchmark: a platform's cloud world (src/sim/cloud/<platform>/world.ts, through
 * src/sim/worlds.ts) provisions the devices and gives the bootstrap config; the emulator behind it runs in the
 * scenario process, never in the daemon's. What it accepts is counted from its record lists (countRecords).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { PlatformName } from "../../../src/cloud/platform.js";
import { Records as HuaweiRecords } from "../../../src/sim/cloud/huawei/state.js";
import { Records as LierdaRecords } from "../../../src/sim/cloud/lierda/records.js";
import { TencentEmulator } from "../../../src/sim/cloud/tencent/index.js";
import type { CloudWorld } from "../../../src/sim/world.js";
import { loadWorld } from "../../../src/sim/worlds.js";
import { freePort, type CloudCounts, type RunDir } from "./rig.js";

/**
 * Entries a record list keeps. The emulators keep 20,000 and trim one from the front on every add: at thousands
 * of values per second that splice would cost the scenario process more than the platform logic itself, and the
 * worlds offer no record limit or record event. The counts below replace the lists.
 */
const KEEP = 100;

const counts: CloudCounts = { messages: 0, bytes: 0, properties: 0, rejected: 0, loginsOk: 0, loginsFailed: 0, rejectReasons: [] };
let installed = false;

function keep(list: unknown[], item: unknown): void {
  list.push(item);
  if (list.length > 2 * KEEP) list.splice(0, list.length - KEEP);
}

function rejectedOne(reason: string): void {
  counts.rejected++;
  if (counts.rejectReasons.length < 5) counts.rejectReasons.push(reason);
}

/**
 * Counts what the Huawei, Lierda and Tencent emulators of this process record: accepted values (`properties`), messages and
 * their bytes, rejected uplinks, accepted and refused CONNECTs (`loginsOk`, `loginsFailed`), and keeps their
 * record lists short (Tencent: sub-device `online` results count as logins, a refused CONNECT as a failed one). It
 * replaces the record classes' add method for the whole process (every emulator started in
 * it is counted), so a scenario calls it once, before it reads any record list.
 */
export function countRecords(): { snapshot(): CloudCounts } {
  if (!installed) {
    installed = true;
    HuaweiRecords.prototype.push = function push<T>(this: HuaweiRecords, list: T[], item: T): void {
      const l = list as unknown[];
      if (l === this.properties) counts.properties++;
      else if (l === this.uplinks) {
        counts.messages++;
        counts.bytes += (item as { payload: string }).payload.length;
      } else if (l === this.rejected) rejectedOne((item as { reason: string }).reason);
      else if (l === this.connects) (item as { accepted: boolean }).accepted ? counts.loginsOk++ : counts.loginsFailed++;
      keep(l, item);
    };
    LierdaRecords.prototype.add = function add<T>(this: LierdaRecords, list: T[], item: T): void {
      const l = list as unknown[];
      if (l === this.values) counts.properties++;
      else if (l === this.uplinks) {
        counts.messages++;
        counts.bytes += (item as { json: string }).json.length;
      } else if (l === this.rejected) rejectedOne((item as { reason: string }).reason);
      else if (l === this.connects) (item as { accepted: boolean }).accepted ? counts.loginsOk++ : counts.loginsFailed++;
      keep(l, item);
    };
    TencentEmulator.prototype.record = function record<T>(this: TencentEmulator, list: T[], item: T): void {
      const l = list as unknown[];
      if (l === this.accepted) {
        if ((item as { kind: string }).kind === "property") counts.properties++;
      } else if (l === this.received) {
        const m = item as unknown as TencentEmulator["received"][number];
        if (m.body.method === "report" || m.body.method === "event_post") {
          counts.messages++;
          counts.bytes += m.bytes;
        }
      } else if (l === this.refusals) rejectedOne((item as { reason: string }).reason);
      else if (l === this.connects) {
        if (!(item as { accepted: boolean }).accepted) counts.loginsFailed++;
      } else if (l === this.ops && (item as { type: string }).type === "online") (item as { result: number }).result === 0 ? counts.loginsOk++ : counts.loginsFailed++;
      keep(l, item);
    };
  }
  return { snapshot: () => ({ ...counts, rejectReasons: [...counts.rejectReasons] }) };
}

export async function startWorld(platform: PlatformName, tls: boolean): Promise<CloudWorld> {
  return await (await loadWorld(platform))({ tls });
}

export interface WorldConfigOptions {
  /** The gateway config document, persisted as `dataDir/gateway-config.json` before the daemon starts. */
  document: Record<string, unknown>;
  /** Top-level bootstrap sections merged over the world's (uplink, store, field). */
  overrides?: Record<string, unknown>;
  logLevel?: string;
}

/**
 * A temp dir with the world's bootstrap config (the emulator's CA as `mqtt.caFile` and `download.caFile`, a status
 * endpoint, info logging) and a data dir holding the persisted gateway config, as after a first delivery.
 * The world's own connect pace (`<platform>.connectsPerSecond`, raised for quick tests) is removed: the daemon
 * connects at its default.
 */
export async function writeWorldConfig(world: CloudWorld, o: WorldConfigOptions): Promise<RunDir> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fb-bench-${world.platform}-`));
  const caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, world.caPem);
  const dataDir = path.join(dir, "data");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, "gateway-config.json"), JSON.stringify(o.document));
  const httpPort = await freePort();
  const base = world.bootstrap() as Record<string, unknown> & { mqtt?: Record<string, unknown>; download?: Record<string, unknown> };
  const section = base[world.platform];
  if (section && typeof section === "object") {
    const { connectsPerSecond: _raised, ...rest } = section as Record<string, unknown>;
    base[world.platform] = rest;
  }
  const mqtt = { ...base.mqtt };
  if (mqtt["tls"] !== false && mqtt["caFile"] === undefined) mqtt["caFile"] = caFile;
  const config = {
    ...base,
    mqtt,
    download: { caFile, ...base.download },
    dataDir,
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { level: o.logLevel ?? "info" },
    ...o.overrides,
  };
  const configFile = path.join(dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dir, dataDir, configFile, logFile: path.join(dir, "fieldbridge.log"), httpPort, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
