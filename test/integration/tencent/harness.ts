/** A small fake Core around the Tencent adapter and its emulator (real SQLite, real broker, real HTTPS). */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TencentAdapter } from "../../../src/cloud/tencent/adapter.js";
import type { CloudRequest, ConfigOffer, ConfigOutcome, Core, LifecycleAction, Outcome, PlatformDevice } from "../../../src/cloud/platform.js";
import type { BootstrapConfig } from "../../../src/config/bootstrap/load.js";
import { Metrics } from "../../../src/ops/metrics.js";
import { openStore, type Store } from "../../../src/store/store.js";
import { TencentEmulator } from "../../../src/sim/cloud/tencent/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";
import { captureLogger, type LogCapture } from "../../helpers/log-capture.js";

export const GW = { productId: "FBGWPRD001", deviceName: "fb-gw-01", psk: "lDZ6Uqt+I9E0wW7rvDUs7Q==" };
export const SUB_KEY = "k3Jm9Qx2ZbVt7Wc4Lp8YdA==";

export const TSL: TslDocument = {
  profile: { productKey: "FBMBPRD001" },
  properties: [
    { identifier: "temp", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
    { identifier: "sp", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "1000" } } },
  ],
  events: [{ identifier: "Alarm", type: "alert", outputData: [{ identifier: "level", dataType: { type: "int" } }] }],
  services: [{ identifier: "Reset", inputData: [], outputData: [] }],
};

export function device(name: string, tsl: TslDocument | undefined = TSL): PlatformDevice {
  const key = `FBMBPRD001/${name}`;
  return { key, productKey: "FBMBPRD001", deviceName: name, tsl, spec: { key, productKey: "FBMBPRD001", deviceName: name, serverId: "s1", modbus: { slaveId: 1, points: [] } } };
}

export interface Rig {
  emu: TencentEmulator;
  adapter: TencentAdapter;
  store: Store;
  log: LogCapture;
  requests: CloudRequest[];
  offers: ConfigOffer[];
  lifecycle: Array<[string, LifecycleAction]>;
  /** core.hold calls: device, cause, held. */
  holds: Array<[string, string, boolean]>;
  presence: boolean[];
  rejoined: string[];
  firmware: string[];
  /** What `core.request` answers. */
  answer: (r: CloudRequest) => Outcome | Promise<Outcome>;
  close(): Promise<void>;
}

function download(url: string, ca: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`HTTP ${res.statusCode}`)); return; }
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
    }).on("error", reject);
  });
}

export async function startRig(o: { psk?: string; reconnectMaxSeconds?: number; setup?: (emu: TencentEmulator) => void; tencent?: Record<string, unknown>; sessions?: Record<string, unknown> } = {}): Promise<Rig> {
  const emu = await TencentEmulator.start({ ...GW, tls: true });
  o.setup?.(emu);
  const dir = mkdtempSync(join(tmpdir(), "fb-tencent-"));
  const log = captureLogger("debug");
  const store = openStore(dir, { logger: log.logger, sync: "normal" });
  const caFile = join(dir, "ca.pem");
  (await import("node:fs")).writeFileSync(caFile, emu.caPem);
  const cfg = {
    gateway: { platform: "tencent", productId: GW.productId, deviceName: GW.deviceName, deviceSecret: o.psk ?? GW.psk },
    mqtt: { host: "127.0.0.1", port: emu.port, tls: true, caFile, keepaliveSeconds: 60, signMethod: "hmacsha256", reconnectMinSeconds: 0.1, reconnectMaxSeconds: o.reconnectMaxSeconds ?? 1, requestTimeoutSeconds: 1 },
    tencent: { sdkAppId: "12010126", expirySeconds: 3600, bindSignMethod: "hmacsha256", configResourceName: "gateway-config.json", timestampUnit: "s", replayMaxAgeHours: 23, publishesPerSecond: 100, fieldOfflineSeconds: 5, ...o.tencent },
    sessions: { maxOnline: 1500, loginsPerSecond: 100, batchSize: 10, pruneTopology: true, ...o.sessions },
    subDevices: [{ productKey: "FBMBPRD001", deviceName: "keyed", deviceSecret: SUB_KEY }],
    download: { allowHttp: false, maxBytes: 1 << 20, timeoutSeconds: 10 },
    ota: { maxBytes: 1 << 20 },
  };
  const rig = {} as Rig;
  rig.requests = [];
  rig.offers = [];
  rig.lifecycle = [];
  rig.holds = [];
  rig.presence = [];
  rig.rejoined = [];
  rig.firmware = [];
  rig.answer = () => ({ ok: true });
  let nextId = 0;
  const core: Core = {
    logger: log.logger,
    nextId: () => String(++nextId),
    rejectConfig: () => undefined,
    metrics: new Metrics(),
    secrets: store.secrets,
    kv: store.kv,
    dataDir: dir,
    version: "1.4.0",
    request: async (r) => { rig.requests.push(r); return rig.answer(r); },
    offerConfig: async (offer): Promise<ConfigOutcome> => {
      rig.offers.push(offer);
      let body: Buffer;
      try { body = await download(offer.url, emu.caPem); } catch (err) { return { ok: false, stage: "download", message: (err as Error).message, problems: [] }; }
      offer.progress?.(100);
      if (offer.size !== undefined && body.length !== offer.size) return { ok: false, stage: "digest", message: "size mismatch", problems: [] };
      if (offer.digest && createHash(offer.digestMethod ?? "sha256").update(body).digest("hex") !== offer.digest) return { ok: false, stage: "digest", message: "md5 mismatch", problems: [] };
      try { JSON.parse(body.toString()); } catch { return { ok: false, stage: "validation", message: "invalid", problems: ["(root): not JSON"] }; }
      return { ok: true };
    },
    offerFirmware: async (f) => { rig.firmware.push(f.version); return { ok: false, step: "install", message: "ota disabled" }; },
    lifecycle: async (d, a) => { rig.lifecycle.push([d, a]); },
    presence: (_r, up) => { rig.presence.push(up); },
    deviceRejoined: (d) => { rig.rejoined.push(d); },
    hold: (d, cause, held) => { rig.holds.push([d, cause, held]); },
  };
  const adapter = new TencentAdapter(cfg as unknown as BootstrapConfig, core);
  Object.assign(rig, {
    emu, adapter, store, log,
    close: async () => {
      await adapter.stop(2000).catch(() => undefined);
      await emu.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
  return rig;
}
