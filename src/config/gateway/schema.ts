/**
 * JSON Schema validation of the four sections (schemas/*.schema.json, ajv 8, draft-07, all errors).
 * The schemas check the shape and the range of each field; relations between fields and sections
 * are checked in code. A schema may carry an `errorMessage` text for a friendlier line; `{value}`
 * in it is replaced by the offending value (never used on secret fields).
 */
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { PathSegment, ProblemLog, Section } from "./problems.js";

let validators: Map<Section, ValidateFunction> | undefined;

function compile(): Map<Section, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addKeyword({ keyword: "errorMessage", schemaType: "string" });
  const out = new Map<Section, ValidateFunction>();
  for (const section of ["modelList", "serverList", "deviceList", "tslList"] as const) {
    const file = new URL(`./schemas/${section}.schema.json`, import.meta.url);
    out.set(section, ajv.compile(JSON.parse(readFileSync(file, "utf8")) as object));
  }
  return out;
}

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((raw) => raw.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((seg) => (/^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : seg));
}

function shortValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return Number.isInteger(value) ? "integer" : typeof value;
}

function toProblem(section: Section, err: ErrorObject): { path: PathSegment[]; message: string } {
  const path: PathSegment[] = [section, ...pointerToPath(err.instancePath)];
  if (err.keyword === "required") {
    return { path: [...path, (err.params as { missingProperty: string }).missingProperty], message: "is required" };
  }
  const custom = (err.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
  if (typeof custom === "string" && err.keyword !== "type") {
    return { path, message: custom.replace("{value}", shortValue(err.data)) };
  }
  if (err.keyword === "type") {
    const expected = [(err.params as { type: string | string[] }).type].flat().join(" or ");
    const base = typeof custom === "string" && !custom.includes("{value}") ? custom : `must be ${expected}`;
    return { path, message: `${base} (got ${describeType(err.data)})` };
  }
  return { path, message: err.message ?? `fails ${err.keyword}` };
}

/** Validates one (already normalised) section and logs every schema error under `section[i]…`. */
export function validateSection(section: Section, items: unknown[], log: ProblemLog): void {
  validators ??= compile();
  const validate = validators.get(section)!;
  if (validate(items)) return;
  for (const err of validate.errors ?? []) {
    // `if` only says that a `then` branch failed; that branch's own errors are reported.
    if (err.keyword === "if") continue;
    const { path, message } = toProblem(section, err);
    log.error(path, message);
  }
}
