/**
 * Startup: `node dist/cli.js run --config …` is spawned → the first property post the platform accepts, from a
 * persisted `dataDir/gateway-config.json`, with and without an OPC UA channel. The emulator knows the
 * sub-devices (secrets in the bootstrap config). A first start binds the topology and creates the OPC UA client
 * certificate; the restarts that follow find both, as a daemon restarted by systemd does. The OPC UA simulator
 * is started beforehand and is not part of the timing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BenchDaemon } from "../lib/daemon.js";
import { env } from "../lib/env.js";
import { keepLog } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { METER, meterTsl, modbusDocument, startCloud, startModbusField, writeDaemonConfig, type Cloud, type RunDir } from "../lib/rig.js";
import { fmtInt, median, waitUntil } from "../lib/stats.js";
import type { EmulatorEvent } from "../../../src/sim/cloud/aliyun/index.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";

const MODBUS_DEVICES = 10;
const POINTS = 10;
const BOILER = "a1BenchBoiler";
const OPCUA_DEVICES = 2;
const OPCUA_VARIABLES = ["Temperature", "Pressure", "Flow", "Level", "Power"];

interface StartRun {
  /** Spawn → first accepted property with a sample time after the spawn, ms. */
  firstPostMs: number;
  /** Spawn → every device has had a property accepted, ms. */
  allDevicesMs: number;
  /** Spawn → first accepted property of an OPC UA device, ms (NaN without OPC UA). */
  firstOpcuaMs: number;
  /** Spawn → MQTT CONNECT accepted by the emulator, ms. */
  connectedMs: number;
  /** Spawn → the daemon's "fieldbridge started" log line, ms. */
  startedLogMs: number;
  /** SIGTERM → exit, ms. */
  stopMs: number;
}

function boilerTsl(): TslDocument {
  return {
    schema: "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
    profile: { productKey: BOILER },
    properties: OPCUA_VARIABLES.map((v) => ({ identifier: v, name: v, accessMode: "r", dataType: { type: "double", specs: { min: "-1000000", max: "1000000" } } })),
    events: [],
    services: [],
  };
}

/** One daemon start, timed from the emulator's side (same machine clock for the sample-time filter). */
async function timedStart(cloud: Cloud, run: RunDir, keys: string[], opcuaKeys: Set<string>): Promise<StartRun> {
  const seen = new Set<string>();
  const r: StartRun = { firstPostMs: NaN, allDevicesMs: NaN, firstOpcuaMs: NaN, connectedMs: NaN, startedLogMs: NaN, stopMs: NaN };
  let daemon: BenchDaemon | undefined;
  const rejected: string[] = [];
  const onRecord = (e: EmulatorEvent) => {
    if (!daemon) return;
    const at = performance.now() - daemon.spawnedAtPerf;
    if (e.kind === "connects" && e.record.accepted && Number.isNaN(r.connectedMs)) r.connectedMs = at;
    if (e.kind === "rejected") rejected.push(`${e.record.deviceKey ?? ""} ${e.record.identifier ?? ""} ${e.record.reason}`);
    // Values sampled by an earlier run (still in the outbox) do not count as this start's first post.
    if (e.kind !== "properties" || e.record.time < daemon.spawnedAt) return;
    if (Number.isNaN(r.firstPostMs)) r.firstPostMs = at;
    if (opcuaKeys.has(e.record.deviceKey) && Number.isNaN(r.firstOpcuaMs)) r.firstOpcuaMs = at;
    seen.add(e.record.deviceKey);
    if (seen.size === keys.length && Number.isNaN(r.allDevicesMs)) r.allDevicesMs = at;
  };
  cloud.emu.on("record", onRecord);
  try {
    daemon = new BenchDaemon({ configFile: run.configFile, logFile: run.logFile });
    const d = daemon;
    try {
      await waitUntil(() => !Number.isNaN(r.allDevicesMs) || !d.running, 30_000, "every device's first accepted post", 10);
    } catch (err) {
      const missing = keys.filter((k) => !seen.has(k));
      keepLog(run.logFile);
      throw new Error(`${(err as Error).message}; no post yet from ${missing.join(", ")}; rejected: ${rejected.slice(0, 3).join(" | ") || "none"}; daemon log tail: ${d.logTail(12).join(" | ")}`);
    }
    if (!d.running) throw new Error(`daemon exited during start: ${d.logSummary().first.join(" | ")}`);
    const started = d.findLog("fieldbridge started");
    if (typeof started?.["time"] === "string") r.startedLogMs = Date.parse(started["time"]) - d.spawnedAt;
    r.stopMs = (await d.stop()).ms;
    return r;
  } finally {
    cloud.emu.off("record", onRecord);
    if (daemon?.running) await daemon.stop();
  }
}

async function variant(opcua: boolean, restarts: number): Promise<{ cold: StartRun; warm: StartRun[] }> {
  const prefix = opcua ? "su-ua" : "su-mb";
  const field = await startModbusField({ devices: MODBUS_DEVICES, points: POINTS, perChannel: MODBUS_DEVICES, namePrefix: `${prefix}-meter` });
  let sim: { endpointUrl: string; shutdown(): Promise<void> } | undefined;
  const uaNames = opcua ? Array.from({ length: OPCUA_DEVICES }, (_, i) => `${prefix}-boiler-${i}`) : [];
  const cleanups: Array<() => Promise<void> | void> = [() => field.close()];
  try {
    if (opcua) {
      const { startOpcuaSimulator } = await import("../../../src/sim/opcua/index.js");
      const pkiRoot = fs.mkdtempSync(path.join(os.tmpdir(), "fb-bench-ua-"));
      cleanups.push(() => fs.rmSync(pkiRoot, { recursive: true, force: true }));
      sim = await startOpcuaSimulator({
        port: 0,
        pkiDir: path.join(pkiRoot, "server"),
        devices: uaNames.map((_, i) => ({
          path: `Plant/Boiler${i}`,
          // Moving values: an OPC UA sample carries the server's source timestamp, and a value that never changes
          // would look older than the spawn.
          variables: OPCUA_VARIABLES.map((v, k) => ({ name: v, dataType: "Double" as const, value: 10 * k + i, motion: { kind: "ramp" as const, min: 0, max: 1000, step: 1 } })),
        })),
        motionIntervalMs: 200,
      });
      const s = sim;
      cleanups.push(() => s.shutdown());
    }
    const devices = [
      ...field.devices.map((d) => ({ productKey: METER, deviceName: d.name })),
      ...uaNames.map((n) => ({ productKey: BOILER, deviceName: n })),
    ];
    const cloud = await startCloud({ tls: env.tls(), devices, products: { [METER]: meterTsl(POINTS), ...(opcua ? { [BOILER]: boilerTsl() } : {}) } });
    cleanups.push(() => cloud.close());
    const doc = modbusDocument(field, { periodMs: 1000, trigger: 1 }) as {
      modelList: unknown[];
      serverList: unknown[];
      deviceList: unknown[];
      tslList: unknown[];
    };
    if (sim) {
      doc.modelList.push({ profile: { productKey: BOILER }, properties: OPCUA_VARIABLES.map((v) => ({ identifier: v, displayName: v })), services: [], events: [] });
      doc.serverList.push({ name: "bench-opcua", serverId: "BENCHOPCUA01", url: sim.endpointUrl, secPolicy: "Basic256Sha256", secMode: "SignAndEncrypt", timeout: 10 });
      uaNames.forEach((n, i) => doc.deviceList.push({ productKey: BOILER, deviceName: n, deviceConfig: { displayNamePath: `Plant/Boiler${i}`, serverId: "BENCHOPCUA01" } }));
      doc.tslList.push(boilerTsl());
    }
    const run = await writeDaemonConfig({ emu: cloud.emu, subDevices: devices, document: doc, overrides: {} });
    cleanups.push(() => run.cleanup());
    const keys = devices.map((d) => `${d.productKey}/${d.deviceName}`);
    const uaKeys = new Set(uaNames.map((n) => `${BOILER}/${n}`));
    const cold = await timedStart(cloud, run, keys, uaKeys);
    const warm: StartRun[] = [];
    for (let i = 0; i < restarts; i++) warm.push(await timedStart(cloud, run, keys, uaKeys));
    return { cold, warm };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

export async function startupScenario(): Promise<ScenarioBody> {
  const restarts = env.startupRuns();
  const modbus = await variant(false, restarts);
  const withUa = await variant(true, restarts);
  const med = (runs: StartRun[], k: keyof StartRun) => median(runs.map((r) => r[k]));
  const max = (runs: StartRun[], k: keyof StartRun) => Math.max(...runs.map((r) => r[k]));
  const mbFirst = med(modbus.warm, "firstPostMs");
  const uaFirst = med(withUa.warm, "firstPostMs");
  return {
    title: "Startup",
    params: { modbusDevices: MODBUS_DEVICES, points: POINTS, opcuaDevices: OPCUA_DEVICES, opcuaVariables: OPCUA_VARIABLES.length, restarts, tls: env.tls() },
    metrics: { modbusOnly: modbus, withOpcua: withUa },
    rows: [
      {
        label: `Startup, ${MODBUS_DEVICES} Modbus devices: spawn → first post accepted`,
        measured:
          `${fmtInt(mbFirst)} ms median of ${restarts} restarts (max ${fmtInt(max(modbus.warm, "firstPostMs"))}; first start ${fmtInt(modbus.cold.firstPostMs)}); ` +
          `all devices ${fmtInt(med(modbus.warm, "allDevicesMs"))} ms; SIGTERM → exit ${fmtInt(med(modbus.warm, "stopMs"))} ms`,
        target: "≤ 1,500 ms",
        met: mbFirst <= 1500,
      },
      {
        label: `Startup, + OPC UA channel (${OPCUA_DEVICES} devices, Basic256Sha256): spawn → first post accepted`,
        measured:
          `${fmtInt(uaFirst)} ms median (first start ${fmtInt(withUa.cold.firstPostMs)}); first OPC UA value ${fmtInt(med(withUa.warm, "firstOpcuaMs"))} ms ` +
          `(first start ${fmtInt(withUa.cold.firstOpcuaMs)}); all devices ${fmtInt(med(withUa.warm, "allDevicesMs"))} ms`,
      },
    ],
    notes: [
      `Startup: timed from the spawn of \`node dist/cli.js run\` to the emulator accepting a property sampled after the spawn. ` +
        `"fieldbridge started" is logged after ${fmtInt(med(modbus.warm, "startedLogMs"))} ms and MQTT CONNECT is accepted after ${fmtInt(med(modbus.warm, "connectedMs"))} ms (Modbus only, median); ` +
        `then come topo get, the paced sub-device logins, their subscriptions, and the outbox.`,
    ],
  };
}
