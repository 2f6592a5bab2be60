/**
 * Reads `serverList` (alink.md 5.4): Modbus RTU lines, Modbus TCP links and OPC UA servers. A bad
 * entry disables only that channel (and so its devices). OPC UA passwords are decrypted here with
 * the gateway's DeviceSecret; the plaintext stays in memory.
 */
import { isIP } from "node:net";
import type { ChannelSpec, OpcuaSecurityMode, Parity } from "./model.js";
import { CredentialError, decryptOpcuaPassword } from "./crypto.js";
import { duplicateIndexes, isObject, type JsonObject } from "./normalize.js";
import type { Path, ProblemLog } from "./problems.js";

export type ChannelProtocol = ChannelSpec["protocol"];

export interface ChannelEntry {
  index: number;
  /** Known when `protocol`/`url` could be read, even if the entry is invalid. */
  protocol?: ChannelProtocol;
  /** Present only when the channel is valid and will run. */
  spec?: ChannelSpec;
}

export interface ChannelContext {
  serialPorts: Record<string, string>;
  gatewayDeviceSecret: string;
  unchecked?: { serialPorts?: boolean; passwords?: boolean };
}

export const DEFAULT_MODBUS_TCP_PORT = 502;
export const DEFAULT_OPCUA_TIMEOUT_S = 10;

const DEPRECATED_POLICIES = new Set(["Basic128Rsa15", "Basic256"]);
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function channelProtocol(entry: JsonObject): ChannelProtocol | undefined {
  const p = entry.protocol;
  if (typeof p === "string") {
    if (/^rtu$/i.test(p)) return "modbus-rtu";
    if (/^tcp$/i.test(p)) return "modbus-tcp";
    if (/^opc[ _-]?ua$/i.test(p)) return "opcua";
    return undefined;
  }
  return p === undefined && "url" in entry ? "opcua" : undefined;
}

/** Parity (C5): letters or words in any case; 0/1/2 = none/odd/even with a warning. */
export function parseParity(value: unknown): { parity: Parity; numeric: boolean } | undefined {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim().toLowerCase() : undefined;
  switch (text) {
    case "n": case "none": return { parity: "none", numeric: false };
    case "e": case "even": return { parity: "even", numeric: false };
    case "o": case "odd": return { parity: "odd", numeric: false };
    case "0": return { parity: "none", numeric: true };
    case "1": return { parity: "odd", numeric: true };
    case "2": return { parity: "even", numeric: true };
    default: return undefined;
  }
}

function isHost(value: string): boolean {
  if (isIP(value) !== 0) return true;
  // "192.168.0.300" must not pass as a host name
  return !/^[\d.]+$/.test(value) && HOSTNAME.test(value);
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function readRtu(e: JsonObject, path: Path, ctx: ChannelContext, log: ProblemLog): ChannelSpec | undefined {
  let devicePath: string | undefined;
  if (typeof e.serialPort === "string" || typeof e.serialPort === "number") {
    const key = String(e.serialPort);
    devicePath = Object.hasOwn(ctx.serialPorts, key) ? ctx.serialPorts[key] : key.startsWith("/") ? key : undefined;
    if (devicePath === undefined && ctx.unchecked?.serialPorts) {
      log.warning([...path, "serialPort"], `serial port "${key}" not checked: it must be mapped in the bootstrap serialPorts`);
      devicePath = key;
    } else if (devicePath === undefined) {
      log.error([...path, "serialPort"], `serial port "${key}" is not in the bootstrap serialPorts map and is not an absolute device path`);
    }
  }
  let parity: Parity = "none";
  if (e.parity === undefined) {
    log.warning([...path, "parity"], "no parity given; using none");
  } else if (typeof e.parity === "string" || typeof e.parity === "number") {
    const parsed = parseParity(e.parity);
    if (!parsed) log.error([...path, "parity"], `parity ${JSON.stringify(e.parity)} is not N, E, O, none, even, odd, 0, 1 or 2`);
    else {
      parity = parsed.parity;
      if (parsed.numeric) log.warning([...path, "parity"], `numeric parity ${e.parity} read as ${parity} (0 = none, 1 = odd, 2 = even); prefer N, E or O`);
    }
  }
  if (log.hasErrorUnder(path) || devicePath === undefined || typeof e.baudRate !== "number") return undefined;
  return {
    protocol: "modbus-rtu",
    serverId: e.serverId as string,
    name: str(e.name) ?? (e.serverId as string),
    path: devicePath,
    baudRate: e.baudRate,
    dataBits: (e.byteSize ?? 8) as 5 | 6 | 7 | 8,
    stopBits: (e.stopBits ?? 1) as 1 | 2,
    parity,
  };
}

function readTcp(e: JsonObject, path: Path, log: ProblemLog): ChannelSpec | undefined {
  if (typeof e.ip === "string" && e.ip !== "" && !isHost(e.ip)) {
    log.error([...path, "ip"], `${JSON.stringify(e.ip)} is not a valid IP address or host name`);
  }
  if (log.hasErrorUnder(path) || typeof e.ip !== "string") return undefined;
  return {
    protocol: "modbus-tcp",
    serverId: e.serverId as string,
    name: str(e.name) ?? (e.serverId as string),
    host: e.ip,
    port: typeof e.port === "number" ? e.port : DEFAULT_MODBUS_TCP_PORT,
  };
}

function readOpcua(e: JsonObject, path: Path, ctx: ChannelContext, log: ProblemLog): ChannelSpec | undefined {
  const mode = (typeof e.secMode === "string" ? e.secMode : "None") as OpcuaSecurityMode;
  const policy = typeof e.secPolicy === "string" ? e.secPolicy : "None";
  if (!log.hasErrorUnder([...path, "secMode"]) && !log.hasErrorUnder([...path, "secPolicy"])) {
    if (mode === "None" && policy !== "None") {
      log.error([...path, "secPolicy"], `security policy ${policy} needs secMode Sign or SignAndEncrypt, not None`);
    } else if (mode !== "None" && policy === "None") {
      log.error([...path, "secPolicy"], `secMode ${mode} needs a security policy other than None`);
    } else if (DEPRECATED_POLICIES.has(policy)) {
      log.warning([...path, "secPolicy"], `${policy} is a deprecated OPC UA security policy; prefer Basic256Sha256`);
    }
  }
  const userName = str(e.userName);
  const cipher = str(e.password);
  const timeoutMs = Math.round((typeof e.timeout === "number" ? e.timeout : DEFAULT_OPCUA_TIMEOUT_S) * 1000);
  // A channel that will not run for other reasons is not given a credential error on top.
  if (log.hasErrorUnder(path) || typeof e.url !== "string") return undefined;
  let password: string | undefined;
  if (userName !== undefined && cipher !== undefined && ctx.unchecked?.passwords) {
    log.warning([...path, "password"], "not decrypted: the gateway DeviceSecret is not known here");
  } else if (userName !== undefined && cipher !== undefined) {
    try {
      password = decryptOpcuaPassword(cipher, ctx.gatewayDeviceSecret);
    } catch (err) {
      const reason = err instanceof CredentialError ? err.message : "the password could not be decrypted";
      log.error([...path, "password"], `credential error: ${reason}`);
      return undefined;
    }
  }
  return {
    protocol: "opcua",
    serverId: e.serverId as string,
    name: str(e.name) ?? (e.serverId as string),
    url: e.url,
    securityPolicy: policy,
    securityMode: mode,
    ...(userName !== undefined ? { userName } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(cipher !== undefined && userName !== undefined ? { passwordCipher: cipher } : {}),
    timeoutMs,
  };
}

function flagDuplicates(items: unknown[], key: "serverId" | "name", log: ProblemLog): Set<string> {
  const dups = new Set<string>();
  for (const [v, indexes] of duplicateIndexes(items, (item) => (isObject(item) ? str(item[key]) : undefined))) {
    dups.add(v);
    for (const i of indexes) {
      const others = indexes.filter((j) => j !== i).map((j) => `serverList[${j}]`).join(", ");
      if (key === "serverId") log.error(["serverList", i, key], `serverId "${v}" is used more than once (also ${others}); all channels with it are disabled`);
      else log.warning(["serverList", i, key], `channel name "${v}" is used more than once (also ${others})`);
    }
  }
  return dups;
}

/** Channels by serverId (first entry for a duplicated id, which is then invalid). */
export function readServerList(items: unknown[], ctx: ChannelContext, log: ProblemLog): Map<string, ChannelEntry> {
  flagDuplicates(items, "serverId", log);
  flagDuplicates(items, "name", log);
  const out = new Map<string, ChannelEntry>();
  items.forEach((item, i) => {
    if (!isObject(item)) return;
    const path: Path = ["serverList", i];
    const protocol = channelProtocol(item);
    let spec: ChannelSpec | undefined;
    if (protocol === "modbus-rtu") spec = readRtu(item, path, ctx, log);
    else if (protocol === "modbus-tcp") spec = readTcp(item, path, log);
    else if (protocol === "opcua") spec = readOpcua(item, path, ctx, log);
    else if (item.protocol === undefined) log.error([...path, "protocol"], "is required (RTU or TCP) unless the entry is an OPC UA server with a url");
    const serverId = str(item.serverId);
    if (serverId !== undefined && !out.has(serverId)) out.set(serverId, { index: i, ...(protocol ? { protocol } : {}), ...(spec ? { spec } : {}) });
  });
  return out;
}
