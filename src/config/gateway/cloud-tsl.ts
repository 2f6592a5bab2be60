/**
 * TSLs from the cloud (alink.md section 3.18): on a platform that can fetch a product's thing model, a document may
 * leave a product out of `tslList`. The parse then takes the model from `ParseContext.cloudTsls` (fetched earlier and
 * cached) as if it were a `tslList` entry, so that it goes through exactly the checks of a pushed one (schema, the
 * model mapping cross-checks); a product with no model yet is "pending": its devices are kept, without mapping, and
 * are not polled until the model is known.
 */
import type { TslDocument } from "../../things/tsl-types.js";
import { compileTsl } from "../../things/tsl.js";
import { isObject } from "./normalize.js";
import type { Problem } from "./problems.js";
import { entryProductKey } from "./tsl-list.js";

/** Products of a document whose model comes from the cloud. */
export interface CloudTslUse {
  /** Products with no `tslList` entry and no cloud model yet: fetched by the daemon, devices not polled meanwhile. */
  pending: Set<string>;
  /** Products whose model was taken from `ParseContext.cloudTsls`. */
  fromCloud: string[];
  /** Rewrites `tslList[k]` of an injected model into `cloudTsl["pk"]` in problem paths and messages. */
  relabel(problems: Problem[]): Problem[];
}

export interface CloudTslOptions {
  /** The platform can fetch a product's model (PlatformBootstrap.fetchesTsl). */
  fetchTsl?: boolean;
  /** Models fetched from the cloud, by productKey. */
  cloudTsls?: Record<string, TslDocument>;
}

/** A section as a list (a single object counts as a one-element list, as the parse reads it). */
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : isObject(v) ? [v] : []);

/** Products used by `deviceList` entries, in document order. */
function usedProducts(deviceList: unknown[]): string[] {
  const out = new Set<string>();
  for (const d of deviceList) if (isObject(d) && typeof d.productKey === "string" && d.productKey !== "") out.add(d.productKey);
  return [...out];
}

/**
 * The document with the cloud models of the products it has no `tslList` entry for appended to `tslList` (a shallow
 * copy; the input is not changed), before the parse reads and normalises it.
 */
export function injectCloudTsls(doc: unknown, opts: CloudTslOptions): { doc: unknown; use: CloudTslUse } {
  const pending = new Set<string>();
  const fromCloud: string[] = [];
  const labels = new Map<number, string>();
  let out = doc;
  if (opts.fetchTsl && isObject(doc) && (doc.tslList === undefined || Array.isArray(doc.tslList) || isObject(doc.tslList))) {
    const own = asList(doc.tslList);
    const listed = new Set(own.map(entryProductKey).filter((pk): pk is string => pk !== undefined));
    const items = [...own];
    for (const pk of usedProducts(asList(doc.deviceList))) {
      if (listed.has(pk)) continue;
      const tsl = opts.cloudTsls?.[pk];
      if (tsl === undefined) {
        pending.add(pk);
        continue;
      }
      labels.set(items.length, pk);
      items.push(structuredClone(tsl));
      fromCloud.push(pk);
    }
    if (fromCloud.length) out = { ...doc, tslList: items };
  }
  const relabel = (problems: Problem[]): Problem[] => {
    if (labels.size === 0) return problems;
    const swap = (text: string) => text.replace(/tslList\[(\d+)\]/g, (m, k: string) => {
      const pk = labels.get(Number(k));
      return pk === undefined ? m : `cloudTsl[${JSON.stringify(pk)}]`;
    });
    return problems.map((p) => ({ ...p, path: swap(p.path), message: swap(p.message) }));
  };
  return { doc: out, use: { pending, fromCloud, relabel } };
}

/**
 * Why a model fetched for `productKey` cannot be used with a document, as `path: message` lines; empty when it can.
 * `parse(models)` parses the running document with these cloud models. A problem counts when the candidate brings it:
 * the document's own problems (present while the product was pending) are not the template's fault.
 */
export function cloudTslProblems(
  productKey: string,
  tsl: unknown,
  known: Record<string, TslDocument>,
  parse: (models: Record<string, TslDocument>) => Problem[],
): string[] {
  if (!isObject(tsl)) return ["$: the template is not a JSON object"];
  const pk = isObject(tsl.profile) ? tsl.profile.productKey : undefined;
  if (pk !== productKey) return [`profile.productKey: the template is for product ${JSON.stringify(pk)}, not "${productKey}"`];
  const doc = tsl as unknown as TslDocument;
  const line = (p: Problem) => `${p.path}: ${p.message}`;
  const others = { ...known };
  delete others[productKey];
  const before = new Set(parse(others).filter((p) => p.severity === "error").map(line));
  const brought = parse({ ...others, [productKey]: doc }).filter((p) => p.severity === "error").map(line).filter((l) => !before.has(l));
  const compiled = compileTsl(doc).problems.map((p) => `cloudTsl[${JSON.stringify(productKey)}].${p}`);
  return [...new Set([...brought, ...compiled])];
}
