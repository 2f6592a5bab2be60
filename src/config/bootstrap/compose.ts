/**
 * One JSON Schema per platform: the common schema (`schema.json`: every key that means the same on every platform,
 * plus `gateway.platform` and `gateway.firmwareVersion`) with the platform's part (`cloud/<platform>/bootstrap.ts`:
 * the rest of `gateway`, all of `mqtt`, its own sections, the shape of a `subDevices` entry). Each schema is
 * compiled once and cached. Keys that only other platforms declare are remembered so that an operator who copied a
 * config from another platform reads "not used on platform X" rather than "unknown key".
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { PLATFORM_NAMES, type PlatformBootstrap, type PlatformName } from "../../cloud/platform.js";
import { bootstraps, type BootstrapRegistry } from "../../cloud/bootstraps.js";
import type { ConfigProblem } from "./load.js";

export type Schema = Record<string, unknown>;
export interface ObjectSchema extends Schema {
  properties?: Record<string, Schema>;
  required?: string[];
}

const schemaPath = resolve(dirname(fileURLToPath(import.meta.url)), "schema.json");
let commonText: string | undefined;

/** The common schema (`schema.json`), a fresh copy on every call. */
export function commonSchema(): ObjectSchema {
  commonText ??= readFileSync(schemaPath, "utf8");
  return JSON.parse(commonText) as ObjectSchema;
}

/** Top-level keys of the common schema (the keys no platform may declare as its own section). */
function commonKeys(common: ObjectSchema): Set<string> {
  return new Set(Object.keys(common.properties ?? {}));
}

/** The platform `gateway.platform` defaults to (the common schema's default). */
export function defaultPlatform(): PlatformName {
  const gateway = commonSchema().properties?.["gateway"] as ObjectSchema | undefined;
  return (gateway?.properties?.["platform"]?.["default"] as PlatformName | undefined) ?? "aliyun";
}

/** The problem for a `gateway.platform` value that is not a platform name. */
export function platformProblem(): ConfigProblem {
  return { path: "gateway.platform", message: `must be one of ${PLATFORM_NAMES.map((p) => JSON.stringify(p)).join(", ")}` };
}

/**
 * `gateway.platform` of a parsed config, read before anything else (it chooses the schema): the default when the
 * key (or the `gateway` section) is absent; undefined for a value that is not a platform name.
 */
export function readPlatform(raw: Record<string, unknown>): PlatformName | undefined {
  const gw = raw["gateway"];
  // A `gateway` that is not an object is reported by the schema of the default platform.
  if (typeof gw !== "object" || gw === null || Array.isArray(gw)) return defaultPlatform();
  const p = (gw as Record<string, unknown>)["platform"];
  if (p === undefined) return defaultPlatform();
  return (PLATFORM_NAMES as readonly unknown[]).includes(p) ? (p as PlatformName) : undefined;
}

/** Operator paths a part declares: `gateway.x`, `mqtt.x`, section names, `subDevices[].x`. */
export function declaredKeys(part: PlatformBootstrap): Set<string> {
  const out = new Set<string>();
  for (const k of Object.keys(part.gateway.properties)) out.add(`gateway.${k}`);
  for (const k of Object.keys(part.mqtt.properties)) out.add(`mqtt.${k}`);
  for (const k of Object.keys(part.sections)) out.add(k);
  for (const k of Object.keys((part.subDevice as ObjectSchema).properties ?? {})) out.add(`subDevices[].${k}`);
  return out;
}

/**
 * Keys that belong to other platforms and not to `platform`: everything the other registered parts declare, and
 * every other platform's own section (named after it) even when that platform is not in the registry.
 */
export function foreignKeys(platform: PlatformName, registry: BootstrapRegistry = bootstraps): Set<string> {
  const common = commonKeys(commonSchema());
  const own = registry[platform] ? declaredKeys(registry[platform]) : new Set<string>();
  const out = new Set<string>();
  for (const name of PLATFORM_NAMES) {
    if (name === platform) continue;
    out.add(name);
    const part = registry[name];
    if (part) for (const k of declaredKeys(part)) out.add(k);
  }
  for (const k of [...out]) if (own.has(k) || common.has(k) || k === "gateway.platform" || k === "gateway.firmwareVersion") out.delete(k);
  return out;
}

/** The full schema of one platform. Throws (a defect of the part, not of a config) when a part overrides a common key. */
export function composeSchema(part: PlatformBootstrap): ObjectSchema {
  const schema = commonSchema();
  const props = schema.properties!;
  const common = commonKeys(schema);
  const gateway = props["gateway"] as ObjectSchema;
  for (const k of Object.keys(part.gateway.properties)) {
    if (gateway.properties?.[k]) throw new Error(`platform ${part.name}: gateway.${k} is a common key`);
  }
  for (const k of Object.keys(part.sections)) {
    if (common.has(k) || (PLATFORM_NAMES.includes(k as PlatformName) && k !== part.name)) {
      throw new Error(`platform ${part.name}: section ${k} is not its own`);
    }
  }
  props["gateway"] = {
    ...gateway,
    additionalProperties: false,
    required: [...(gateway.required ?? []), ...part.gateway.required],
    properties: { ...gateway.properties, ...part.gateway.properties },
  };
  props["mqtt"] = {
    ...props["mqtt"],
    type: "object",
    additionalProperties: false,
    default: {},
    properties: part.mqtt.properties,
    ...(part.mqtt.required?.length ? { required: part.mqtt.required } : {}),
  };
  props["subDevices"] = { ...props["subDevices"], items: part.subDevice };
  for (const [name, section] of Object.entries(part.sections)) props[name] = section as Schema;
  return schema;
}

/** A platform's compiled schema and what the loader needs around it. */
export interface PlatformSchema {
  readonly platform: PlatformName;
  readonly part: PlatformBootstrap;
  readonly schema: Schema;
  /** Applies defaults in place (ajv `useDefaults`). */
  readonly validate: ValidateFunction;
  /** Operator paths (`gateway.regionId`, `tencent`, `subDevices[].deviceId`) of other platforms' keys. */
  readonly foreign: ReadonlySet<string>;
}

const cache = new WeakMap<BootstrapRegistry, Map<PlatformName, PlatformSchema>>();

/** The compiled schema of `platform`, compiled on first use; undefined when this build has no such platform. */
export function platformSchema(platform: PlatformName, registry: BootstrapRegistry = bootstraps): PlatformSchema | undefined {
  let perRegistry = cache.get(registry);
  if (!perRegistry) cache.set(registry, (perRegistry = new Map()));
  const hit = perRegistry.get(platform);
  if (hit) return hit;
  const part = registry[platform];
  if (!part) return undefined;
  if (part.name !== platform) throw new Error(`bootstrap part ${part.name} registered as ${platform}`);
  const schema = composeSchema(part);
  // One ajv per platform: every composed schema keeps the common $id.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false });
  const compiled: PlatformSchema = { platform, part, schema, validate: ajv.compile(schema), foreign: foreignKeys(platform, registry) };
  perRegistry.set(platform, compiled);
  return compiled;
}

/** Rewrites "unknown key" of a key that another platform declares as "not used on platform X". */
export function relabelForeignKeys(problems: ConfigProblem[], ps: PlatformSchema): ConfigProblem[] {
  return problems.map((p) =>
    p.message === "unknown key" && ps.foreign.has(p.path.replace(/\[\d+\]/g, "[]")) ? { path: p.path, message: `not used on platform ${ps.platform}` } : p,
  );
}
