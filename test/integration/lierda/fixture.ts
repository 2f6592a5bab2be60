/** A Lierda adapter against the Lierda emulator, with a small fake core on a real on-disk store. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import https from "node:https";
import { LierdaAdapter } from "../../../src/cloud/lierda/adapter.js";
import type { LierdaConfig } from "../../../src/cloud/lierda/bootstrap.js";
import type { CloudRequest, ConfigOffer, ConfigOutcome, Core, FirmwareOffer, Outcome, PlatformDevice, RouteId } from "../../../src/cloud/platform.js";
import { Metrics } from "../../../src/ops/metrics.js";
import { openStore, type Store } from "../../../src/store/store.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";
import { LierdaEmulator } from "../../../src/sim/cloud/lierda/index.js";
import { testPki } from "../../../src/sim/cloud/tls-material.js";
import { captureLogger, type LogCapture } from "../../helpers/log-capture.js";

export const OPEN = "7ED01E2A";
export const GW = { pid: "AA30C505", eui: "FBGW0001", pk: "DB6FACEF35BEBA0517712F0E4BE32936", secret: "326086233FAB8A96566796551EB1DFF8" };
export const T0 = { pid: "B1C2D3E4", pk: "00112233445566778899AABBCCDDEEFF" };
export const T2 = { pid: "C5D6E7F8", pk: "FFEEDDCCBBAA99887766554433221100", secret: "0F1E2D3C4B5A69788796A5B4C3D2E1F0" };
export const GW_KEY = `${GW.pid}/${GW.eui}`;

export function meterTsl(productKey: string): TslDocument {
  return {
    profile: { productKey },
    properties: [
      { identifier: "temp", accessMode: "r", dataType: { type: "float", specs: { min: "-100", max: "100" } } },
      { identifier: "count", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "65535" } } },
      { identifier: "sp", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "1000" } } },
      { identifier: "level", accessMode: "rw", dataType: { type: "double", specs: { min: "0", max: "10" } } },
    ],
    events: [{ identifier: "Alarm", outputData: [{ identifier: "value", dataType: { type: "float" } }] }],
    services: [
      {
        identifier: "Reset",
        inputData: [{ identifier: "mode", dataType: { type: "int", specs: { min: "0", max: "9" } } }],
        outputData: [{ identifier: "result", dataType: { type: "int" } }],
      },
    ],
  };
}

export interface FakeCore extends Core {
  requests: CloudRequest[];
  offers: ConfigOffer[];
  firmware: FirmwareOffer[];
  presenceLog: { route: RouteId; up: boolean }[];
  rejoined: string[];
  /** Scripted answer of request(); default ok with the values (set) / fixed data (get, service). */
  answer: (r: CloudRequest) => Promise<Outcome>;
  configAnswer: (o: ConfigOffer) => Promise<ConfigOutcome>;
}

export interface Rig {
  emu: LierdaEmulator;
  store: Store;
  core: FakeCore;
  logs: LogCapture;
  cfg: LierdaConfig;
  adapter: LierdaAdapter;
  dir: string;
  /** A new adapter on the same store (a restart). */
  restart(): Promise<LierdaAdapter>;
  close(): Promise<void>;
}

export interface RigOptions {
  connectType?: 0 | 1;
  fieldSecret?: string;
  reconnectMaxSeconds?: number;
  requestTimeoutSeconds?: number;
  gatewayAuthType?: 0 | 1 | 2;
  tls?: boolean;
  connectsPerSecond?: number;
}

/** HTTPS GET trusting the test CA; the core's offerConfig stand-in checks the digest like the real one. */
function fetchBytes(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: testPki().ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))));
    }).on("error", reject);
  });
}

export async function rig(opts: RigOptions = {}): Promise<Rig> {
  const emu = await LierdaEmulator.start({ openId: OPEN, tls: opts.tls ?? false, replyTimeoutMs: 5000 });
  emu.addProduct(GW.pid, { productKey: GW.pk, authType: opts.gatewayAuthType ?? 2, tsl: meterTsl(GW.pid) });
  if ((opts.gatewayAuthType ?? 2) === 2) emu.addDevice(GW.pid, GW.eui, { secret: GW.secret });
  emu.addProduct(T0.pid, { productKey: T0.pk, authType: 0, tsl: meterTsl(T0.pid) });
  emu.addProduct(T2.pid, { productKey: T2.pk, authType: 2, tsl: meterTsl(T2.pid) });
  emu.addDevice(T2.pid, "METER0002", { secret: T2.secret });
  const dir = mkdtempSync(join(tmpdir(), "fb-lierda-"));
  const logs = captureLogger("debug");
  const store = openStore(dir, { logger: captureLogger("silent").logger, sync: "normal" });
  const gwType = opts.gatewayAuthType ?? 2;
  const cfg: LierdaConfig = {
    gateway: { platform: "lierda", openId: OPEN, productId: GW.pid, nodeEui: GW.eui, productKey: GW.pk, authType: gwType, ...(gwType === 2 ? { deviceSecret: GW.secret } : {}), firmwareVersion: "1.4.0" },
    mqtt: { host: "127.0.0.1", port: emu.port, tls: opts.tls ?? false, ...(opts.tls ? { caFile: join(testPki().dir, "ca.pem") } : {}), keepaliveSeconds: 60, reconnectMinSeconds: 1, reconnectMaxSeconds: opts.reconnectMaxSeconds ?? 2, requestTimeoutSeconds: opts.requestTimeoutSeconds ?? 3 },
    lierda: { connectType: opts.connectType ?? 0, connectsPerSecond: opts.connectsPerSecond ?? 50, products: { [T0.pid]: { productKey: T0.pk, authType: 0, encrypted: false }, [T2.pid]: { productKey: T2.pk, authType: 2, encrypted: false } }, liveMaxAgeSeconds: 5, historyBatchSize: 50, hardwareVersion: "fieldbridge" },
    subDevices: [{ productKey: T2.pid, deviceName: "METER0002", deviceSecret: opts.fieldSecret ?? T2.secret }],
    download: { allowHttp: false, maxBytes: 1 << 20, timeoutSeconds: 10 },
  };
  const core: FakeCore = {
    logger: logs.logger,
    metrics: new Metrics(),
    secrets: store.secrets,
    kv: store.kv,
    dataDir: dir,
    version: "1.4.0",
    nextId: (() => {
      let id = 0;
      return () => String(++id);
    })(),
    rejectConfig: () => undefined,
    requests: [],
    offers: [],
    firmware: [],
    presenceLog: [],
    rejoined: [],
    answer: async (r) => {
      if (r.kind === "propertySet") return { ok: true, data: r.values as Record<string, number> };
      if (r.kind === "propertyGet") return { ok: true, data: { temp: 21, count: 7 } };
      return { ok: true, data: { result: 1007 } };
    },
    configAnswer: async (o) => {
      const body = await fetchBytes(o.url).catch(() => undefined);
      if (!body) return { ok: false, stage: "download", message: "download failed", problems: [] };
      if (createHash("sha256").update(body).digest("hex") !== o.digest) return { ok: false, stage: "digest", message: "digest mismatch", problems: [] };
      try {
        JSON.parse(body.toString());
      } catch {
        return { ok: false, stage: "validation", message: "not JSON", problems: ["$: not JSON"] };
      }
      return { ok: true };
    },
    request(r) {
      core.requests.push(r);
      return core.answer(r);
    },
    offerConfig(o) {
      core.offers.push(o);
      return core.configAnswer(o);
    },
    async offerFirmware(o) {
      core.firmware.push(o);
      return { ok: true };
    },
    async lifecycle() {},
    presence(route, up) {
      core.presenceLog.push({ route, up });
    },
    deviceRejoined(device) {
      core.rejoined.push(device);
    },
    hold() {},
  };
  let adapter = new LierdaAdapter(cfg, core);
  const adapters = [adapter];
  const r: Rig = {
    emu,
    store,
    core,
    logs,
    cfg,
    dir,
    get adapter() {
      return adapter;
    },
    async restart() {
      await adapter.stop(3000);
      adapter = new LierdaAdapter(cfg, core);
      adapters.push(adapter);
      return adapter;
    },
    async close() {
      for (const a of adapters) await a.stop(3000);
      await emu.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

export function devices(...list: [string, string][]): PlatformDevice[] {
  return list.map(([pid, eui]) => ({
    key: `${pid}/${eui}`,
    productKey: pid,
    deviceName: eui,
    tsl: meterTsl(pid),
    spec: { key: `${pid}/${eui}`, productKey: pid, deviceName: eui, serverId: "s1" },
  }));
}
