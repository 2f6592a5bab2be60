/**
 * Shape repairs applied before schema validation, each reported as a warning:
 * a single object where a list is expected is wrapped into a one-element list (C26), and an empty
 * `outputData` written as `""` or `null` means no outputs (C17). A top-level list that is neither a
 * list nor an object is a fatal error (C29).
 */
import { SECTIONS, type Path, type ProblemLog, type Section } from "./problems.js";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The keys that more than one item of a list has, each with the indexes of those items in list order (the one
 * helper behind every "listed more than once" problem of the document).
 */
export function duplicateIndexes(items: unknown, keyOf: (item: unknown) => string | undefined): Array<[string, number[]]> {
  if (!Array.isArray(items)) return [];
  const seen = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = keyOf(item);
    if (k === undefined) return;
    const list = seen.get(k);
    if (list) list.push(i);
    else seen.set(k, [i]);
  });
  return [...seen].filter(([, indexes]) => indexes.length > 1);
}

function kind(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

/** Undefined stays undefined; a list stays; an object is wrapped; anything else is left for the schema to refuse. */
function asList(value: unknown, path: Path, log: ProblemLog, emptyMeansNone = false): unknown {
  if (emptyMeansNone && (value === "" || value === null)) return [];
  if (isObject(value)) {
    log.warning(path, "a single object where a list is expected; read as a one-element list");
    return [value];
  }
  return value;
}

function normalizeList(owner: JsonObject, key: string, path: Path, log: ProblemLog, emptyMeansNone = false): void {
  if (!(key in owner)) return;
  owner[key] = asList(owner[key], [...path, key], log, emptyMeansNone);
}

function forEachObject(list: unknown, fn: (item: JsonObject, index: number) => void): void {
  if (!Array.isArray(list)) return;
  list.forEach((item, i) => {
    if (isObject(item)) fn(item, i);
  });
}

/** Lists inside a modelList or tslList entry: properties, services, events and their parameters. */
function normalizeEntry(entry: JsonObject, path: Path, log: ProblemLog): void {
  for (const key of ["properties", "services", "events"]) normalizeList(entry, key, path, log);
  forEachObject(entry.services, (svc, j) => {
    normalizeList(svc, "inputData", [...path, "services", j], log);
    normalizeList(svc, "outputData", [...path, "services", j], log, true);
  });
  forEachObject(entry.events, (evt, j) => normalizeList(evt, "outputData", [...path, "events", j], log, true));
}

export type Sections = Record<Section, unknown[]>;

/**
 * Reads the four top-level lists from a deep copy of the document. Returns undefined (fatal) when the
 * document is not an object or a list has an impossible type; every such problem is logged.
 */
export function readSections(doc: unknown, log: ProblemLog): Sections | undefined {
  if (!isObject(doc)) {
    log.error([], `the document must be a JSON object (got ${kind(doc)})`);
    return undefined;
  }
  const copy = structuredClone(doc);
  const sections = {} as Sections;
  let fatal = false;
  for (const section of SECTIONS) {
    const value = copy[section];
    if (value === undefined) sections[section] = [];
    else if (Array.isArray(value)) sections[section] = value;
    else if (isObject(value)) {
      log.warning([section], "a single object where a list is expected; read as a one-element list");
      sections[section] = [value];
    } else {
      log.error([section], `must be a list (got ${kind(value)}); the document is rejected`);
      fatal = true;
    }
  }
  if (fatal) return undefined;
  forEachObject(sections.modelList, (entry, i) => normalizeEntry(entry, ["modelList", i], log));
  forEachObject(sections.tslList, (entry, i) => normalizeEntry(entry, ["tslList", i], log));
  return sections;
}
