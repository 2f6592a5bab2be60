/**
 * The bootstrap config: the local JSON file (operator-interface.md). `gateway.platform` is read first; the config
 * is then validated with ajv against that platform's schema (compose.ts: `schema.json` + the platform's part);
 * unknown keys are errors, defaults are applied, every problem is reported as `path: message`.
 */
import { readFileSync, accessSync, constants, statSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { dirname, resolve, isAbsolute } from "node:path";
import type { ErrorObject } from "ajv";
import type { PlatformName } from "../../cloud/platform.js";
import type { BootstrapRegistry } from "../../cloud/bootstraps.js";
import { platformProblem, platformSchema, readPlatform, relabelForeignKeys } from "./compose.js";
import { parseJson } from "../json.js";
import { parseHostPort } from "../host-port.js";
import { dataDirProblem } from "./data-dir.js";
import { deviceKey } from "../../core/device-key.js";

export { prepareDataDir, dataDirErrorText, dataDirProblem } from "./data-dir.js";

/**
 * The keys the core reads. Everything else of `gateway` and `mqtt`, and the platform's own sections, belong to the
 * platform (typed views in `cloud/<platform>/bootstrap.ts`, e.g. `aliyunConfig`).
 */
/** The `mqtt` keys every platform has (a platform may refuse `requestTimeoutSeconds`; it is then absent). */
export interface CommonMqtt {
  host: string;
  port: number;
  tls: boolean;
  /** Absolute path once loaded. */
  caFile?: string;
  keepaliveSeconds: number;
  reconnectMinSeconds: number;
  reconnectMaxSeconds: number;
  requestTimeoutSeconds: number;
}

export interface BootstrapConfig {
  gateway: { platform: PlatformName; firmwareVersion?: string } & Record<string, unknown>;
  mqtt: CommonMqtt & Record<string, unknown>;
  dataDir: string;
  serialPorts: Record<string, string>;
  /** Pre-provisioned device credentials; the entry's other keys are per platform. */
  subDevices: Array<{ productKey: string; deviceName: string; deviceSecret: string } & Record<string, unknown>>;
  /** Local gateway config document (absolute path once loaded), applied at start when the data dir holds none. */
  gatewayConfig: { file?: string };
  /** Sub-device sessions, on the platforms that have them (Alibaba, Tencent). */
  sessions?: { maxOnline: number; loginsPerSecond: number; batchSize: number; pruneTopology: boolean };
  uplink: { batchWindowMs: number };
  store: { sync: "full" | "normal"; maxBytes: number; maxAgeHours: number; replayRatePerSecond: number; inFlight: number };
  field: { modbusTimeoutMs: number; modbusRetries: number; modbusMaxGap: number; modbusTcpInFlight: number; opcuaSamplingMs: number };
  download: { caFile?: string; allowHttp: boolean; maxBytes: number; timeoutSeconds: number };
  telemetry: { intervalSeconds: number };
  http: { listen?: string; unhealthyAfterSeconds: number; token?: string };
  ota: { installCommand?: string[]; maxBytes: number };
  log: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
}

export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[], message?: string) {
    super(message ?? problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
    this.name = "ConfigError";
  }
}

/** A valid config and the platform's warnings (problems that do not stop the daemon). */
export interface LoadedBootstrap {
  config: BootstrapConfig;
  warnings: ConfigProblem[];
}

/** `/mqtt/keepaliveSeconds` → `mqtt.keepaliveSeconds`; `/subDevices/0/x` → `subDevices[0].x`. */
export function jsonPointerToPath(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out || "$";
}

function join(path: string, key: string): string {
  return path === "$" ? key : `${path}.${key}`;
}

/** One `path: message` problem per ajv error, worded for operators. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const base = jsonPointerToPath(e.instancePath);
    let p: ConfigProblem;
    switch (e.keyword) {
      case "additionalProperties":
        p = { path: join(base, String((e.params as { additionalProperty: string }).additionalProperty)), message: "unknown key" };
        break;
      case "required":
        p = { path: join(base, String((e.params as { missingProperty: string }).missingProperty)), message: "is required" };
        break;
      case "enum":
        p = { path: base, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}` };
        break;
      default:
        p = { path: base, message: e.message ?? e.keyword };
    }
    const k = `${p.path}: ${p.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(p);
    }
  }
  return out;
}

/** Validates a parsed object, applies defaults in place and derives the computed defaults. */
export function validateBootstrap(raw: unknown, baseDir: string, registry?: BootstrapRegistry): BootstrapConfig {
  return validateBootstrapWithWarnings(raw, baseDir, registry).config;
}

/** As validateBootstrap, with the platform's warnings. `registry` (default: every platform of this build) is for tests. */
export function validateBootstrapWithWarnings(raw: unknown, baseDir: string, registry?: BootstrapRegistry): LoadedBootstrap {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ path: "$", message: "must be a JSON object" }]);
  }
  const platform = readPlatform(raw as Record<string, unknown>);
  if (platform === undefined) throw new ConfigError([platformProblem()]);
  const ps = platformSchema(platform, registry);
  if (!ps) throw new ConfigError([{ path: "gateway.platform", message: `platform ${platform} is not part of this build` }]);
  if (!ps.validate(raw)) throw new ConfigError(relabelForeignKeys(formatAjvErrors(ps.validate.errors), ps));
  const cfg = raw as BootstrapConfig;
  const problems: ConfigProblem[] = [];
  if (cfg.mqtt.reconnectMaxSeconds < cfg.mqtt.reconnectMinSeconds) {
    problems.push({ path: "mqtt.reconnectMaxSeconds", message: "must be >= mqtt.reconnectMinSeconds" });
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.dataDir = abs(cfg.dataDir);
  for (const [path, holder] of [["mqtt.caFile", cfg.mqtt], ["download.caFile", cfg.download]] as const) {
    if (holder.caFile === undefined) continue;
    holder.caFile = abs(holder.caFile);
    const problem = caFileProblem(holder.caFile);
    if (problem) problems.push({ path, message: problem });
  }
  if (cfg.http.listen !== undefined) {
    const listen = parseHostPort(cfg.http.listen);
    if ("error" in listen) problems.push({ path: "http.listen", message: listen.error });
  }
  if (cfg.gatewayConfig.file !== undefined) {
    cfg.gatewayConfig.file = abs(cfg.gatewayConfig.file);
    const problem = readableFileProblem(cfg.gatewayConfig.file);
    if (problem) problems.push({ path: "gatewayConfig.file", message: problem });
  }
  const seen = new Set<string>();
  cfg.subDevices.forEach((d, i) => {
    const k = deviceKey(d.productKey, d.deviceName);
    if (seen.has(k)) problems.push({ path: `subDevices[${i}]`, message: `duplicate sub-device ${k}` });
    seen.add(k);
  });
  // The platform's computed defaults and cross checks, on a config whose common keys are settled.
  ps.part.finish(cfg, problems);
  if (problems.length) throw new ConfigError(dedupe(problems));
  return { config: cfg, warnings: ps.part.warnings?.(cfg) ?? [] };
}

function readableFileProblem(file: string): string | undefined {
  try {
    accessSync(file, constants.R_OK);
    if (!statSync(file).isFile()) return `${file} is not a file`;
  } catch {
    return `cannot read ${file}`;
  }
  return undefined;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}: ${p.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * A CA file must be what TLS will take: PEM with at least one certificate, each of which parses. A DER
 * file or a key would otherwise only fail (or be silently ignored) at the first connection.
 */
function caFileProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "latin1");
  } catch {
    return `cannot read ${file}`;
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return `${file} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)`;
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `certificate ${i + 1} in ${file} cannot be parsed (${(err as Error).message})`;
    }
  }
  return undefined;
}

/**
 * Reads, parses and validates the file, including what needs the file system (CA files, the data dir,
 * checked without creating anything): `check` and `run` both load the config through here, so `check`
 * passes exactly what `run` accepts. Throws ConfigError (problems) or Error (one-line fatal).
 */
export function loadBootstrap(file: string): BootstrapConfig {
  return loadBootstrapWithWarnings(file).config;
}

/** As loadBootstrap, with the platform's warnings (check prints them, run logs them). */
export function loadBootstrapWithWarnings(file: string): LoadedBootstrap {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `config file ${file} not found` : `cannot read config file ${file}: ${code ?? String(err)}`);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) throw new ConfigError(parsed.problems.map((p) => ({ path: pathText(p.path), message: p.message })));
  const raw = parsed.value;
  const baseDir = dirname(resolve(file));
  const problems: ConfigProblem[] = [];
  let loaded: LoadedBootstrap | undefined;
  try {
    loaded = validateBootstrapWithWarnings(raw, baseDir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  // The data dir is checked even when other keys are wrong, so that one `check` lists everything.
  const dataDir = loaded?.config.dataDir ?? rawDataDir(raw, baseDir);
  const problem = dataDir === undefined ? undefined : dataDirProblem(dataDir);
  if (problem) problems.push({ path: "dataDir", message: problem });
  if (problems.length || !loaded) throw new ConfigError(problems);
  return loaded;
}

function rawDataDir(raw: unknown, baseDir: string): string | undefined {
  const value = (raw as { dataDir?: unknown } | null)?.dataDir;
  return typeof value === "string" && value !== "" ? resolve(baseDir, value) : undefined;
}

/** ["subDevices", 0, "x"] → `subDevices[0].x`, the operator paths of the other problems. */
function pathText(path: Array<string | number>): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || "$";
}
