/**
 * Remote settings: the bootstrap keys a cloud may set (a platform's remote configuration file, e.g. Alibaba's
 * `thing.config.push`). Only runtime settings that cannot lock the operator out: `store.*`, `field.*`, `uplink.*`,
 * `telemetry.*` and `log.level`. Credentials, hosts, ports, paths, the status endpoint and the install command stay
 * in the bootstrap file. A settings file is a JSON object shaped like the bootstrap file, validated with the same
 * schema; unknown and forbidden keys are problems, never ignored.
 */
import { Ajv, type ValidateFunction } from "ajv";
import { commonSchema, platformSchema, type ObjectSchema, type Schema } from "./compose.js";
import { formatAjvErrors, type BootstrapConfig, type ConfigProblem } from "./load.js";
import type { PlatformName } from "../../cloud/platform.js";

/** Sections settable as a whole. */
const SECTIONS = ["store", "field", "uplink", "telemetry"] as const;

/** Keys that take effect at once; every other settable key takes effect at the next start. */
export const LIVE_KEYS = ["log.level", "uplink.batchWindowMs", "telemetry.intervalSeconds"] as const;
export type LiveKey = (typeof LIVE_KEYS)[number];

/** `section.key` → value. */
export type FlatSettings = Record<string, string | number | boolean>;

let compiled: ValidateFunction | undefined;
let settable: string[] | undefined;

function schema(): ObjectSchema {
  const common = commonSchema().properties!;
  const props: Record<string, Schema> = {};
  for (const s of SECTIONS) props[s] = withoutDefaults(common[s]!);
  const log = common["log"] as ObjectSchema;
  props["log"] = { type: "object", additionalProperties: false, properties: { level: withoutDefaults(log.properties!["level"]!) } };
  return { type: "object", additionalProperties: false, properties: props };
}

/** A settings file sets only what it names: the bootstrap's defaults must not fill the rest in. */
function withoutDefaults(s: Schema): Schema {
  const { default: _d, ...rest } = s as Schema & { default?: unknown };
  const props = (rest as ObjectSchema).properties;
  if (props) (rest as ObjectSchema).properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, withoutDefaults(v)]));
  return rest;
}

function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, useDefaults: false, strict: true, strictTypes: false }).compile(schema());
  return compiled;
}

/** Every key a settings file may set, as `section.key`. */
export function settableKeys(): string[] {
  if (!settable) {
    const props = schema().properties!;
    settable = Object.entries(props).flatMap(([s, v]) => Object.keys((v as ObjectSchema).properties ?? {}).map((k) => `${s}.${k}`));
  }
  return [...settable];
}

export function isLiveKey(key: string): key is LiveKey {
  return (LIVE_KEYS as readonly string[]).includes(key);
}

/**
 * Checks a parsed settings file. Keys of the bootstrap file that may not be set remotely are reported as such
 * ("cannot be set remotely"), others as unknown; values are checked against the bootstrap schema.
 */
export function validateRemoteSettings(raw: unknown, platform: PlatformName): { ok: true; settings: FlatSettings } | { ok: false; problems: ConfigProblem[] } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, problems: [{ path: "$", message: "must be a JSON object" }] };
  const problems: ConfigProblem[] = [];
  const bootstrapKeys = new Set(Object.keys(platformSchema(platform)?.schema["properties"] as object ?? {}));
  const allowed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((SECTIONS as readonly string[]).includes(k) || k === "log") allowed[k] = v;
    else problems.push(bootstrapKeys.has(k) ? forbidden(k) : { path: k, message: "unknown key" });
  }
  const validate = validator();
  if (!validate(allowed)) {
    const reported = new Set(problems.map((p) => p.path));
    for (const p of formatAjvErrors(validate.errors)) if (!reported.has(p.path)) problems.push(p);
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, settings: flatten(allowed) };
}

function forbidden(path: string): ConfigProblem {
  return { path, message: "cannot be set remotely (credentials, hosts, paths and access stay in the bootstrap file)" };
}

function flatten(settings: Record<string, unknown>): FlatSettings {
  const out: FlatSettings = {};
  for (const [s, section] of Object.entries(settings)) {
    for (const [k, v] of Object.entries(section as Record<string, unknown>)) out[`${s}.${k}`] = v as string | number | boolean;
  }
  return out;
}

/** The value of `section.key` in a bootstrap config. */
export function readKey(cfg: BootstrapConfig, key: string): unknown {
  const [s, k] = key.split(".") as [string, string];
  return (cfg as unknown as Record<string, Record<string, unknown>>)[s]?.[k];
}

/** A copy of `base` with `settings` over it (base is left as it is: it stays the fallback). */
export function withSettings(base: BootstrapConfig, settings: FlatSettings): BootstrapConfig {
  const out = structuredClone(base);
  for (const [key, value] of Object.entries(settings)) {
    const [s, k] = key.split(".") as [string, string];
    const section = (out as unknown as Record<string, Record<string, unknown>>)[s] ?? {};
    section[k] = value;
    (out as unknown as Record<string, unknown>)[s] = section;
  }
  return out;
}
