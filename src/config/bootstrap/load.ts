/**
 * The bootstrap config: the local JSON file (operator-interface.md). Validated against `schema.json` with ajv;
 * unknown keys are errors, defaults are applied, every problem is reported as `path: message`.
 */
import { readFileSync, mkdirSync, accessSync, writeFileSync, unlinkSync, constants, existsSync } from "node:fs";
import { dirname, resolve, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject } from "ajv";

export interface BootstrapConfig {
  gateway: {
    platform: "aliyun";
    productKey: string;
    deviceName: string;
    deviceSecret: string;
    regionId: string;
    firmwareVersion?: string;
  };
  mqtt: {
    host: string;
    port: number;
    tls: boolean;
    /** Absolute path once loaded. */
    caFile?: string;
    keepaliveSeconds: number;
    signMethod: "hmacmd5" | "hmacsha1" | "hmacsha256";
    clientId: string;
    reconnectMinSeconds: number;
    reconnectMaxSeconds: number;
    requestTimeoutSeconds: number;
  };
  dataDir: string;
  serialPorts: Record<string, string>;
  subDevices: Array<{ productKey: string; deviceName: string; deviceSecret: string }>;
  sessions: { maxOnline: number; loginsPerSecond: number; batchSize: number; pruneTopology: boolean };
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

const schemaPath = resolve(dirname(fileURLToPath(import.meta.url)), "schema.json");
let validator: ReturnType<Ajv["compile"]> | undefined;

function getValidator() {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false });
    validator = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
  }
  return validator;
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
export function validateBootstrap(raw: unknown, baseDir: string): BootstrapConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ path: "$", message: "must be a JSON object" }]);
  }
  const validate = getValidator();
  if (!validate(raw)) throw new ConfigError(formatAjvErrors(validate.errors));
  const cfg = raw as BootstrapConfig;
  const problems: ConfigProblem[] = [];
  cfg.mqtt.host ??= `${cfg.gateway.productKey}.iot-as-mqtt.${cfg.gateway.regionId}.aliyuncs.com`;
  cfg.mqtt.clientId ??= cfg.gateway.deviceName;
  if (cfg.mqtt.reconnectMaxSeconds < cfg.mqtt.reconnectMinSeconds) {
    problems.push({ path: "mqtt.reconnectMaxSeconds", message: "must be >= mqtt.reconnectMinSeconds" });
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.dataDir = abs(cfg.dataDir);
  for (const [path, holder] of [["mqtt.caFile", cfg.mqtt], ["download.caFile", cfg.download]] as const) {
    if (holder.caFile === undefined) continue;
    holder.caFile = abs(holder.caFile);
    try {
      accessSync(holder.caFile, constants.R_OK);
    } catch {
      problems.push({ path, message: `cannot read ${holder.caFile}` });
    }
  }
  const seen = new Set<string>();
  cfg.subDevices.forEach((d, i) => {
    const k = `${d.productKey}/${d.deviceName}`;
    if (seen.has(k)) problems.push({ path: `subDevices[${i}]`, message: `duplicate sub-device ${k}` });
    seen.add(k);
  });
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/** Reads, parses and validates the file. Throws ConfigError (problems) or Error (one-line fatal). */
export function loadBootstrap(file: string): BootstrapConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `config file ${file} not found` : `cannot read config file ${file}: ${code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ path: "$", message: `invalid JSON: ${(err as Error).message}` }]);
  }
  return validateBootstrap(raw, dirname(resolve(file)));
}

/** Creates the data dir (mode 0700) and proves it is writable. Throws a one-line Error otherwise. */
export function prepareDataDir(dataDir: string): void {
  try {
    if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const probe = resolve(dataDir, `.write-test-${process.pid}`);
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`data dir ${dataDir} is not writable (${code})`);
  }
}
