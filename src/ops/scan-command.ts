/**
 * `fieldbridge scan --config <file> --channel <serverId|serial port> [--units 1-247] [--report <productKey>]`:
 * probes the unit ids of one Modbus line (field/modbus/scan.ts) and prints which answer and how. The channel is a
 * serverId of the gateway config document the daemon runs (the pushed one in the data dir, else
 * `gatewayConfig.file`), or a serial port (a `serialPorts` key or a device path; its line settings come from the
 * document's channel on that port, else `--baud`/`--parity`, default 9600 8N1). With `--report` the units found are
 * handed to the running daemon (core/found-inbox.ts), which reports them to the cloud.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import type { BootstrapConfig } from "../config/bootstrap/load.js";
import { gatewayConfigPath, loadGatewayDocument, type ChannelSpec, type ModbusRtuChannelSpec, type Parity } from "../config/gateway/index.js";
import { bootstraps } from "../cloud/bootstraps.js";
import { TcpTransport } from "../field/modbus/tcp-transport.js";
import { RtuTransport } from "../field/modbus/rtu-transport.js";
import type { ModbusTransport } from "../field/modbus/transport.js";
import { formatUnits, parseUnits, scanUnits, MIN_UNIT, MAX_UNIT, type UnitResult } from "../field/modbus/scan.js";
import { readFoundResult, writeFoundReport, type FoundDevice } from "../core/found-inbox.js";

export interface ScanArgs {
  channel: string;
  units?: string;
  report?: string;
  timeoutMs?: string;
  gapMs?: string;
  baud?: string;
  parity?: string;
  namePrefix?: string;
  waitSeconds?: string;
}

/** A usage mistake (exit 2) as opposed to a line that cannot be scanned (exit 1). */
export class ScanUsageError extends Error {}

const DEVICE_NAME = /^[A-Za-z0-9_@.:-]{4,32}$/;
const TIMEOUT_MS = 500;
const GAP_MS = 50;

function int(text: string | undefined, what: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new ScanUsageError(`${what} must be an integer from ${min} to ${max} (got "${text}")`);
  return n;
}

/** The channels of the document the daemon runs (or would run at its next start). */
async function documentChannels(cfg: BootstrapConfig): Promise<ChannelSpec[]> {
  const file = await readFile(gatewayConfigPath(cfg.dataDir)).catch(() => (cfg.gatewayConfig.file ? readFile(cfg.gatewayConfig.file).catch(() => undefined) : undefined));
  if (!file) return [];
  const secret = bootstraps[cfg.gateway.platform]?.documentSecret(cfg) ?? "";
  return loadGatewayDocument(file, { serialPorts: cfg.serialPorts, gatewayDeviceSecret: secret, unchecked: { passwords: true } }).config.channels;
}

async function resolveChannel(cfg: BootstrapConfig, a: ScanArgs): Promise<{ label: string; name: string; spec: ChannelSpec }> {
  const channels = await documentChannels(cfg);
  const byId = channels.find((c) => c.serverId === a.channel);
  if (byId) {
    if (byId.protocol === "opcua") throw new ScanUsageError(`channel ${a.channel} is OPC UA; only Modbus lines can be scanned`);
    return { label: `channel ${byId.serverId} "${byId.name}"`, name: byId.name || byId.serverId, spec: byId };
  }
  const path = cfg.serialPorts[a.channel] ?? (isAbsolute(a.channel) ? a.channel : undefined);
  if (!path) {
    const known = channels.filter((c) => c.protocol !== "opcua").map((c) => c.serverId);
    throw new ScanUsageError(`--channel ${a.channel}: no Modbus channel with that serverId in the gateway config${known.length ? ` (known: ${known.join(", ")})` : ""}, and not a serial port (a serialPorts key or a device path)`);
  }
  const onPort = channels.find((c): c is ModbusRtuChannelSpec => c.protocol === "modbus-rtu" && c.path === path);
  const parity = (a.parity ?? onPort?.parity ?? "none") as Parity;
  if (!["none", "even", "odd"].includes(parity)) throw new ScanUsageError(`--parity must be none, even or odd (got "${a.parity}")`);
  const spec: ModbusRtuChannelSpec = {
    protocol: "modbus-rtu", serverId: onPort?.serverId ?? a.channel, name: onPort?.name ?? path, path,
    baudRate: int(a.baud, "--baud", 300, 1_000_000, onPort?.baudRate ?? 9600),
    dataBits: onPort?.dataBits ?? 8, stopBits: onPort?.stopBits ?? 1, parity,
  };
  return { label: `serial port ${path}`, name: onPort?.name ?? path.split("/").pop() ?? "port", spec };
}

function transportOf(spec: ChannelSpec): { transport: ModbusTransport; where: string } {
  if (spec.protocol === "modbus-tcp") {
    // A scan meets many silent units in a row: that is no sign of a dead connection here.
    return { transport: new TcpTransport({ host: spec.host, port: spec.port, connectTimeoutMs: 5000, staleAfterTimeouts: Infinity, staleAfterMs: Infinity }), where: `Modbus TCP ${spec.host}:${spec.port}` };
  }
  if (spec.protocol === "modbus-rtu") {
    const letter = spec.parity === "none" ? "N" : spec.parity === "even" ? "E" : "O";
    return { transport: new RtuTransport({ line: spec }), where: `Modbus RTU ${spec.path} ${spec.baudRate} ${spec.dataBits}${letter}${spec.stopBits}` };
  }
  throw new ScanUsageError("only Modbus lines can be scanned");
}

/** `name-u17`: the channel's name made fit for a device name (alink.md 4.5), the unit id last. */
export function foundDeviceName(prefix: string, unit: number): string {
  const suffix = `-u${unit}`;
  const clean = prefix.replace(/[^A-Za-z0-9_@.:-]/g, "-").slice(0, 32 - suffix.length);
  return `${clean}${suffix}`.padStart(4, "0");
}

function line(r: UnitResult): string {
  if (r.outcome === "answer") return `unit ${r.unit}: answers (${r.detail})`;
  if (r.outcome === "exception") return `unit ${r.unit}: answers with ${r.detail}: present`;
  return `unit ${r.unit}: ${r.detail}`;
}

export async function scanCommand(cfg: BootstrapConfig, a: ScanArgs, out: NodeJS.WritableStream): Promise<number> {
  let units: number[];
  try {
    units = parseUnits(a.units ?? `${MIN_UNIT}-${MAX_UNIT}`);
  } catch (err) {
    throw new ScanUsageError((err as Error).message);
  }
  const timeoutMs = int(a.timeoutMs, "--timeout", 20, 10_000, TIMEOUT_MS);
  const gapMs = int(a.gapMs, "--gap", 0, 5000, GAP_MS);
  const reportTo = a.report;
  if (reportTo !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(reportTo)) throw new ScanUsageError(`--report needs a productKey (got "${reportTo}")`);
  const channel = await resolveChannel(cfg, a);
  const { transport, where } = transportOf(channel.spec);
  out.write(`scanning ${channel.label} (${where}): units ${formatUnits(units)}, timeout ${timeoutMs} ms, gap ${gapMs} ms\n`);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  let results: UnitResult[];
  try {
    await transport.open();
    results = await scanUnits(transport, {
      units, timeoutMs, gapMs, signal: abort.signal,
      // Units that answer are printed as they are found; the silent ones are summed up at the end.
      onResult: (r) => r.outcome !== "none" || !/^no answer within/.test(r.detail) ? out.write(`${line(r)}\n`) : undefined,
    });
  } catch (err) {
    out.write(`scan failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
    await transport.close();
  }
  const present = results.filter((r) => r.outcome !== "none");
  const silent = results.filter((r) => r.outcome === "none").map((r) => r.unit);
  if (silent.length) out.write(`no answer: ${formatUnits(silent)}\n`);
  out.write(`${present.length} of ${results.length} unit(s) present${abort.signal.aborted ? " (interrupted)" : ""}: ${formatUnits(present.map((r) => r.unit)) || "none"}\n`);
  if (reportTo === undefined || present.length === 0) return 0;

  const prefix = a.namePrefix ?? channel.name;
  const devices: FoundDevice[] = [];
  for (const r of present) {
    const deviceName = foundDeviceName(prefix, r.unit);
    if (DEVICE_NAME.test(deviceName)) devices.push({ productKey: reportTo, deviceName, unit: r.unit });
    else out.write(`unit ${r.unit}: "${deviceName}" is not a valid device name (4-32 of A-Z a-z 0-9 _ @ . : -); not reported\n`);
  }
  if (devices.length === 0) return 1;
  const path = await writeFoundReport(cfg.dataDir, { productKey: reportTo, channel: channel.spec.serverId, scannedAt: Date.now(), devices });
  out.write(`report for the daemon: ${devices.map((d) => `${d.productKey}/${d.deviceName}`).join(", ")} (${path})\n`);
  const waitMs = int(a.waitSeconds, "--wait", 0, 600, 20) * 1000;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const result = await readFoundResult(path);
    if (result) {
      out.write(result.state === "reported" ? "reported to the cloud (thing.list.found)\n" : `not reported: ${result.state}${result.reason ? `: ${result.reason}` : ""}\n`);
      return result.state === "reported" ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  out.write("not reported yet: the daemon sends it once it runs and is connected\n");
  return 0;
}
