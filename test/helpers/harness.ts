/** An in-process gateway against the cloud emulator, with a recording field driver. */
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { loadBootstrap, prepareDataDir } from "../../src/config/bootstrap/load.js";
import { Gateway } from "../../src/core/gateway.js";
import type { AliyunAdapter } from "../../src/cloud/aliyun/index.js";
import type { AsyncChannelFactory } from "../../src/field/manager.js";
import { RecordingDriver, type RecordingDriverOptions } from "./recording-driver.js";
import { GATEWAY, makeRig, type TestRig } from "./daemon.js";
import { captureLogger, type LogLine } from "./log-capture.js";

export interface Harness {
  emu: CloudEmulator;
  gw: Gateway;
  /** The gateway's Alibaba adapter (connection, sessions, OTA). */
  readonly alink: AliyunAdapter;
  driver: RecordingDriver;
  rig: TestRig;
  /** Everything the gateway logged, as text. */
  logText(): string;
  logs(): LogLine[];
  /** Stops the gateway (not the emulator) and starts a new one on the same data dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  config?: Record<string, unknown>;
  driver?: RecordingDriverOptions;
  factory?: AsyncChannelFactory;
  emu?: CloudEmulator;
  tls?: boolean;
  /** Do not start the gateway (the test starts it with `restart()`). */
  noStart?: boolean;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const emu = o.emu ?? (await CloudEmulator.start({ tls: o.tls ?? false }));
  if (!emu.device(GATEWAY.productKey, GATEWAY.deviceName).exists) emu.addDevice({ ...GATEWAY, gateway: true });
  const rig = makeRig(emu, { log: { level: "debug" }, uplink: { batchWindowMs: 50 }, ...o.config });
  const cfg = loadBootstrap(rig.configFile);
  prepareDataDir(cfg.dataDir);
  const log = captureLogger("debug");
  const logger = log.logger;
  const driver = new RecordingDriver(o.driver);
  const make = () => new Gateway(loadBootstrap(rig.configFile), logger, { channelFactory: o.factory ?? driver.factory });
  const h: Harness = {
    emu, gw: make(), driver, rig,
    get alink() {
      return h.gw.cloud as AliyunAdapter;
    },
    logText: log.text,
    logs: log.lines,
    async restart() {
      await h.gw.stop();
      h.gw = make();
      await h.gw.start();
    },
    async stop() {
      // FIELDBRIDGE_TEST_LOG_DIR keeps each harness's log for post-mortems of a failed run.
      const keep = process.env["FIELDBRIDGE_TEST_LOG_DIR"];
      if (keep) (await import("node:fs")).writeFileSync(`${keep}/harness-${Date.now()}-${process.pid}.log`, log.text());
      await h.gw.stop();
      if (!o.emu) await emu.close();
      rig.cleanup();
    },
  };
  if (!o.noStart) await h.gw.start();
  return h;
}

export async function until(pred: () => boolean, timeoutMs: number, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
