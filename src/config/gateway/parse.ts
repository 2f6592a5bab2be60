/**
 * The gateway config document → the config the daemon runs (alink.md section 5). Pure: no I/O.
 *
 * Error policy (C29): only a document that is not an object, or whose top-level lists are not lists,
 * is fatal. Otherwise each invalid channel, device or point is left out of `config` and reported;
 * the daemon decides whether a document with errors is applied partly or refused.
 */
import type { GatewayConfig } from "./model.js";
import type { TslDocument } from "../../things/tsl-types.js";
import { depthMessage, MAX_JSON_DEPTH, nestedDeeperThan } from "../json.js";
import { readServerList } from "./channels.js";
import { readDeviceList } from "./devices.js";
import { readModelList } from "./model-list.js";
import { readSections, type Sections } from "./normalize.js";
import { ProblemLog, SECTIONS, type Path, type Problem } from "./problems.js";
import { validateSection } from "./schema.js";
import { readTslList } from "./tsl-list.js";

export interface ParseContext {
  /** Bootstrap map from a `serialPort` value ("0") to a device path ("/dev/ttyUSB0"). */
  serialPorts: Record<string, string>;
  /** The gateway's DeviceSecret: the AES key of the OPC UA passwords (C24). */
  gatewayDeviceSecret: string;
  /**
   * Checks that need the bootstrap config, skipped when a document is checked on its own: unmapped
   * serial ports and undecryptable passwords then give a warning instead of an error.
   */
  unchecked?: { serialPorts?: boolean; passwords?: boolean };
  /**
   * The platform's own rules for the document (`PlatformBootstrap.checkDocument`, e.g. the identifier forms of a
   * per-device platform). Its problems are errors like any structural one: an item with one is left out of the
   * config, and a pushed document with one is rejected as a whole.
   */
  checkDocument?: (doc: DocumentSections) => DocumentProblem[];
}

/** The document's four lists after the shape repairs and before they are read (what a platform check sees). */
export type DocumentSections = Readonly<Sections>;

/** A problem a platform finds in a document, at a JSON path such as `["deviceList", 2, "productKey"]`. */
export interface DocumentProblem {
  path: Path;
  message: string;
}

export interface ParseResult {
  /** What can run: only valid channels, devices and points. Empty when fatal. */
  config: GatewayConfig;
  /** Every problem found, errors and warnings, in document order. */
  problems: Problem[];
  fatal: boolean;
}

export function emptyGatewayConfig(): GatewayConfig {
  return { channels: [], devices: [], products: {} };
}

export function parseGatewayConfig(doc: unknown, ctx: ParseContext): ParseResult {
  const log = new ProblemLog();
  // Everything below (cloning, schema validation, the readers) recurses: bound the depth first.
  if (nestedDeeperThan(doc, MAX_JSON_DEPTH)) {
    log.error([], depthMessage(MAX_JSON_DEPTH));
    return { config: emptyGatewayConfig(), problems: log.problems(), fatal: true };
  }
  const sections = readSections(doc, log);
  if (!sections) return { config: emptyGatewayConfig(), problems: log.problems(), fatal: true };

  for (const section of SECTIONS) validateSection(section, sections[section], log);
  // Before the readers, so that an item the platform refuses is not run.
  for (const p of ctx.checkDocument?.(sections) ?? []) log.error(p.path, p.message);

  const tsls = readTslList(sections.tslList, log);
  const models = readModelList(sections.modelList, tsls, log);
  const channels = readServerList(sections.serverList, ctx, log);
  const devices = readDeviceList(sections.deviceList, { channels, models, tsls }, log);

  const products: Record<string, TslDocument> = {};
  for (const [pk, entry] of tsls) if (entry.valid) products[pk] = structuredClone(entry.tsl);
  const config: GatewayConfig = {
    channels: [...channels.values()].flatMap((c) => (c.spec ? [c.spec] : [])),
    devices,
    products,
  };
  return { config, problems: log.problems(), fatal: false };
}

/** True when any problem is an error (as opposed to a warning). */
export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === "error");
}
