/** Reads `tslList` (alink.md 5.7, section 6): one TSL per product, looked up by productKey. */
import type { TslDocument, TslEvent, TslParam, TslProperty, TslService } from "../../things/tsl-types.js";
import { duplicateIndexes, isObject } from "./normalize.js";
import type { ProblemLog } from "./problems.js";

export interface TslEntry {
  index: number;
  tsl: TslDocument;
  /** False when the entry has an error or its productKey appears more than once. */
  valid: boolean;
}

export function tslProperty(tsl: TslDocument, identifier: string): TslProperty | undefined {
  return tsl.properties?.find((p) => p.identifier === identifier);
}

export function tslService(tsl: TslDocument, identifier: string): TslService | undefined {
  return tsl.services?.find((s) => s.identifier === identifier);
}

export function tslEvent(tsl: TslDocument, identifier: string): TslEvent | undefined {
  return tsl.events?.find((e) => e.identifier === identifier);
}

/** The parameter definitions of a list that may also hold plain identifiers (the standard `get`). */
export function paramDefs(list: Array<TslParam | string> | "" | undefined): TslParam[] {
  return Array.isArray(list) ? list.filter((p): p is TslParam => typeof p !== "string") : [];
}

/** Product key of a modelList/tslList entry, when it has a usable one. */
export function entryProductKey(entry: unknown): string | undefined {
  const pk = isObject(entry) && isObject(entry.profile) ? entry.profile.productKey : undefined;
  return typeof pk === "string" && pk !== "" ? pk : undefined;
}

/**
 * Logs an error on every entry of `section` whose productKey occurs more than once: with two
 * definitions of one product neither can be trusted. Returns the duplicated keys.
 */
export function flagDuplicateProducts(section: "modelList" | "tslList", items: unknown[], log: ProblemLog): Set<string> {
  const dups = new Set<string>();
  for (const [pk, indexes] of duplicateIndexes(items, entryProductKey)) {
    dups.add(pk);
    for (const i of indexes) {
      const others = indexes.filter((j) => j !== i).map((j) => `${section}[${j}]`).join(", ");
      log.error([section, i, "profile", "productKey"], `product "${pk}" is defined more than once (also ${others}); all its definitions are ignored`);
    }
  }
  return dups;
}

function flagDuplicateIdentifiers(list: unknown, path: (string | number)[], what: string, log: ProblemLog): void {
  const keyOf = (item: unknown) => (isObject(item) && typeof item.identifier === "string" ? item.identifier : undefined);
  for (const [id, [first, ...later]] of duplicateIndexes(list, keyOf)) {
    for (const i of later) log.error([...path, i, "identifier"], `${what} "${id}" is defined twice (first at index ${first})`);
  }
}

export function readTslList(items: unknown[], log: ProblemLog): Map<string, TslEntry> {
  const dups = flagDuplicateProducts("tslList", items, log);
  const out = new Map<string, TslEntry>();
  items.forEach((item, i) => {
    const pk = entryProductKey(item);
    if (!isObject(item) || pk === undefined) return;
    const path = ["tslList", i];
    flagDuplicateIdentifiers(item.properties, [...path, "properties"], "property", log);
    flagDuplicateIdentifiers(item.events, [...path, "events"], "event", log);
    flagDuplicateIdentifiers(item.services, [...path, "services"], "service", log);
    const valid = !dups.has(pk) && !log.hasErrorUnder(path);
    if (!out.has(pk)) out.set(pk, { index: i, tsl: item as unknown as TslDocument, valid });
  });
  return out;
}
