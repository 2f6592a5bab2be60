/**
 * Reads `modelList` (alink.md 5.3): per product, the Modbus points or OPC UA node mappings, checked
 * against that product's TSL. A bad point (or OPC UA mapping) disables only itself; a bad entry
 * (no productKey, mixed protocols, defined twice) disables the product.
 */
import type {
  IndexedParam,
  ModbusPointSpec,
  ModbusRawType,
  OpcuaEventSpec,
  OpcuaPropertySpec,
  OpcuaServiceSpec,
  OperateType,
} from "./model.js";
import type { TslDocument, TslParam, TslTypeName } from "../../things/tsl-types.js";
import {
  BIT_TABLES,
  MAX_REGISTERS_PER_READ,
  NATURAL_WIDTH,
  READ_ONLY_TABLES,
  compatibleRawTypes,
  parseRegisterAddress,
  rawFitsTsl,
} from "./modbus-types.js";
import { duplicateIndexes, isObject, type JsonObject } from "./normalize.js";
import { readPollingTime } from "./polling.js";
import type { Path, ProblemLog } from "./problems.js";
import { entryProductKey, flagDuplicateProducts, paramDefs, tslEvent, tslProperty, tslService, type TslEntry } from "./tsl-list.js";

export type ModelProtocol = "modbus" | "opcua" | "none";

/** A Modbus point before the device's default polling interval is applied. */
export type ModbusPointTemplate = Omit<ModbusPointSpec, "pollingMs"> & { pollingMs?: number };

export interface ProductModel {
  index: number;
  productKey: string;
  protocol: ModelProtocol;
  /** False when the entry itself is unusable; its devices are then disabled. */
  valid: boolean;
  /** Valid points only (empty when the product has no valid TSL to check them against). */
  modbusPoints: ModbusPointTemplate[];
  opcua: { properties: OpcuaPropertySpec[]; services: OpcuaServiceSpec[]; events: OpcuaEventSpec[] };
}

const OPERATE_TYPES: readonly string[] = ["coilStatus", "inputStatus", "holdingRegister", "inputRegister"];
const RAW_TYPES: readonly string[] = ["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float", "double", "string", "customized data"];
const MODBUS_KEYS = ["operateType", "registerAddress", "originalDataType"] as const;

interface TslContext {
  productKey: string;
  tsl: TslDocument;
  ref: string;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const flag = (v: unknown): boolean => v === 1 || v === true;
const objects = (v: unknown): Array<[JsonObject, number]> =>
  Array.isArray(v) ? v.flatMap((item, i): Array<[JsonObject, number]> => (isObject(item) ? [[item, i]] : [])) : [];

function isModbusShaped(p: unknown): boolean {
  return isObject(p) && MODBUS_KEYS.some((k) => k in p);
}

/** Which TSL kind owns an identifier, for a clearer message when a mapping names the wrong kind. */
function otherKind(tsl: TslDocument, id: string): string | undefined {
  if (tslProperty(tsl, id)) return "property";
  if (tslService(tsl, id)) return "service";
  if (tslEvent(tsl, id)) return "event";
  return undefined;
}

function missingInTsl(ctx: TslContext, kind: string, id: string): string {
  const other = otherKind(ctx.tsl, id);
  return other
    ? `"${id}" is a ${other} in the TSL of product "${ctx.productKey}", not a ${kind}`
    : `no ${kind} "${id}" in the TSL of product "${ctx.productKey}" (${ctx.ref})`;
}

/** Every occurrence of an identifier mapped more than once is an error: which mapping is meant is unknown. */
function flagDuplicateMappings(list: unknown, path: Path, what: string, log: ProblemLog): void {
  const keyOf = (item: unknown) => (isObject(item) ? str(item.identifier) : undefined);
  for (const [id, indexes] of duplicateIndexes(list, keyOf)) {
    for (const i of indexes) log.error([...path, i, "identifier"], `${what} "${id}" is mapped more than once (indexes ${indexes.join(", ")})`);
  }
}

function readModbusPoint(p: JsonObject, path: Path, ctx: TslContext | undefined, log: ProblemLog): ModbusPointTemplate | undefined {
  const identifier = str(p.identifier);
  for (const key of MODBUS_KEYS) if (!(key in p)) log.error([...path, key], "is required for a Modbus point");

  const operateType = OPERATE_TYPES.includes(p.operateType as string) ? (p.operateType as OperateType) : undefined;
  const address = parseRegisterAddress(p.registerAddress);
  if (address !== undefined && (address < 0 || address > 65535)) {
    log.error([...path, "registerAddress"], `register address ${JSON.stringify(p.registerAddress)} is outside 0..65535`);
  }

  const odt = isObject(p.originalDataType) ? p.originalDataType : {};
  const specs = isObject(odt.specs) ? odt.specs : {};
  const rawType = RAW_TYPES.includes(odt.type as string) ? (odt.type as ModbusRawType) : undefined;
  const declared = Number.isInteger(specs.registerCount) && (specs.registerCount as number) >= 1 ? (specs.registerCount as number) : undefined;
  const countPath = [...path, "originalDataType", "specs", "registerCount"];
  let registerCount: number | undefined;
  if (rawType && operateType) {
    if (BIT_TABLES.has(operateType)) {
      if (rawType !== "bool") log.error([...path, "originalDataType", "type"], `${operateType} points are single bits; only bool fits (got ${rawType})`);
      if (declared !== undefined && declared !== 1) log.error(countPath, `must be 1 for a ${operateType} bit (got ${declared})`);
      registerCount = 1;
    } else {
      const natural = NATURAL_WIDTH[rawType];
      if (natural !== undefined) {
        if (declared !== undefined && declared !== natural) {
          log.error(countPath, `${rawType} takes ${natural} register${natural > 1 ? "s" : ""}, not ${declared}`);
        }
        registerCount = natural;
      } else if (declared === undefined) {
        if (specs.registerCount === undefined) log.error(countPath, `is required for ${rawType} (number of registers)`);
      } else if (declared > MAX_REGISTERS_PER_READ) {
        log.error(countPath, `${declared} registers exceed the ${MAX_REGISTERS_PER_READ} of one Modbus read`);
      } else {
        registerCount = declared;
      }
    }
  }
  if (address !== undefined && registerCount !== undefined && address <= 65535 && address + registerCount - 1 > 65535) {
    log.error([...path, "registerAddress"], `${registerCount} registers from address ${address} run past 65535`);
  }

  let scaling = 1;
  if (typeof p.scaling === "number") {
    if (!Number.isFinite(p.scaling) || p.scaling === 0) log.error([...path, "scaling"], `must be a finite non-zero number (got ${p.scaling})`);
    else scaling = p.scaling;
  }
  const pollingMs = readPollingTime(p.pollingTime, [...path, "pollingTime"], log, true);
  const trigger: 1 | 2 = p.trigger === 2 ? 2 : 1;

  let tslType: TslTypeName | undefined;
  if (ctx && identifier) {
    const prop = tslProperty(ctx.tsl, identifier);
    if (!prop) log.error([...path, "identifier"], missingInTsl(ctx, "property", identifier));
    else {
      tslType = prop.dataType.type as TslTypeName;
      if (rawType === "customized data" && tslType !== "text") {
        log.error([...path, "originalDataType", "type"], `customized data can only feed a text property; "${identifier}" is ${tslType}`);
      } else if (rawType && !rawFitsTsl(rawType, tslType)) {
        const fits = compatibleRawTypes(tslType);
        log.error(
          [...path, "originalDataType", "type"],
          `raw type ${rawType} cannot feed the ${tslType} property "${identifier}"` +
            (fits.length ? ` (use one of ${fits.join(", ")})` : ` (no Modbus raw type maps onto ${tslType})`),
        );
      }
      if (prop.accessMode === "rw" && operateType && READ_ONLY_TABLES.has(operateType)) {
        log.warning([...path, "operateType"], `"${identifier}" is writable in the TSL but ${operateType} is read-only; property sets will be refused`);
      }
    }
  }

  if (log.hasErrorUnder(path) || !identifier || !operateType || address === undefined || !rawType || !registerCount || !tslType) {
    return undefined;
  }
  return {
    identifier,
    operateType,
    address,
    rawType,
    registerCount,
    swap16: BIT_TABLES.has(operateType) ? false : flag(specs.swap16),
    reverseRegister: BIT_TABLES.has(operateType) ? false : flag(specs.reverseRegister),
    scaling,
    ...(pollingMs != null ? { pollingMs } : {}),
    trigger,
    tslType,
  };
}

function readOpcuaProperty(p: JsonObject, path: Path, ctx: TslContext | undefined, log: ProblemLog): OpcuaPropertySpec | undefined {
  const identifier = str(p.identifier);
  const samplingMs = readPollingTime(p.pollingTime, [...path, "pollingTime"], log, false);
  let tslType: TslTypeName | undefined;
  if (ctx && identifier) {
    const prop = tslProperty(ctx.tsl, identifier);
    if (prop) tslType = prop.dataType.type as TslTypeName;
    else log.error([...path, "identifier"], missingInTsl(ctx, "property", identifier));
  }
  if (log.hasErrorUnder(path) || !identifier || !tslType) return undefined;
  return {
    identifier,
    displayName: str(p.displayName) ?? identifier,
    ...(samplingMs != null ? { samplingMs } : {}),
    // A subscription reports changes; every-sample reporting is opt-in with trigger 1.
    trigger: p.trigger === 1 ? 1 : 2,
    tslType,
  };
}

/** Checks indexed parameters against the TSL definitions; returns them when all are valid. */
function readIndexedParams(list: unknown, defs: TslParam[] | undefined, path: Path, owner: string, log: ProblemLog): IndexedParam[] {
  const out: IndexedParam[] = [];
  const usedIndex = new Map<number, number>();
  for (const [param, k] of objects(list)) {
    const identifier = str(param.identifier);
    const index = Number.isInteger(param.index) && (param.index as number) >= 0 ? (param.index as number) : undefined;
    if (identifier && defs && !defs.some((d) => d.identifier === identifier)) {
      log.error([...path, k, "identifier"], `no parameter "${identifier}" in ${owner}`);
    }
    if (index !== undefined) {
      const first = usedIndex.get(index);
      if (first !== undefined) log.error([...path, k, "index"], `index ${index} is already used by entry ${first}`);
      else usedIndex.set(index, k);
    }
    if (identifier && index !== undefined) out.push({ identifier, index });
  }
  return out.sort((a, b) => a.index - b.index);
}

function readOpcuaService(s: JsonObject, path: Path, ctx: TslContext | undefined, log: ProblemLog): OpcuaServiceSpec | undefined {
  const identifier = str(s.identifier);
  const svc = ctx && identifier ? tslService(ctx.tsl, identifier) : undefined;
  if (ctx && identifier && !svc) log.error([...path, "identifier"], missingInTsl(ctx, "service", identifier));
  const owner = `the TSL service "${identifier}"`;
  const inputs = readIndexedParams(s.inputData, svc && paramDefs(svc.inputData), [...path, "inputData"], `the inputData of ${owner}`, log);
  const outputs = readIndexedParams(s.outputData, svc && paramDefs(svc.outputData), [...path, "outputData"], `the outputData of ${owner}`, log);
  if (log.hasErrorUnder(path) || !identifier || !svc) return undefined;
  return { identifier, displayName: str(s.displayName) ?? identifier, inputs, outputs };
}

function readOpcuaEvent(e: JsonObject, path: Path, ctx: TslContext | undefined, log: ProblemLog): OpcuaEventSpec | undefined {
  const identifier = str(e.identifier);
  const evt = ctx && identifier ? tslEvent(ctx.tsl, identifier) : undefined;
  if (ctx && identifier && !evt) log.error([...path, "identifier"], missingInTsl(ctx, "event", identifier));
  const outputs = readIndexedParams(e.outputData, evt && paramDefs(evt.outputData), [...path, "outputData"], `the outputData of the TSL event "${identifier}"`, log);
  if (log.hasErrorUnder(path) || !identifier || !evt) return undefined;
  return { identifier, displayName: str(e.displayName) ?? identifier, outputs };
}

function detectProtocol(entry: JsonObject): { protocol: ModelProtocol; mixed: boolean } {
  const props = Array.isArray(entry.properties) ? entry.properties : [];
  const hasMethods = [entry.services, entry.events].some((l) => Array.isArray(l) && l.length > 0);
  const modbus = props.some(isModbusShaped);
  const opcua = hasMethods || props.some((p) => isObject(p) && "displayName" in p && !isModbusShaped(p));
  if (modbus && opcua) return { protocol: "modbus", mixed: true };
  // Identifier-only entries map by DisplayName = identifier in an OPC UA product; in a Modbus
  // product they are points with missing fields.
  return { protocol: modbus ? "modbus" : opcua || props.length > 0 ? "opcua" : "none", mixed: false };
}

function listsAreUsable(path: Path, log: ProblemLog): boolean {
  return !log.hasErrorAt(path) && !log.hasErrorUnder([...path, "profile"]) &&
    !["properties", "services", "events"].some((k) => log.hasErrorAt([...path, k]));
}

export function readModelList(items: unknown[], tsls: Map<string, TslEntry>, log: ProblemLog): Map<string, ProductModel> {
  const dups = flagDuplicateProducts("modelList", items, log);
  const out = new Map<string, ProductModel>();
  items.forEach((item, i) => {
    const productKey = entryProductKey(item);
    if (!isObject(item) || productKey === undefined) return;
    const path: Path = ["modelList", i];
    const { protocol, mixed } = detectProtocol(item);
    const model: ProductModel = {
      index: i,
      productKey,
      protocol,
      valid: false,
      modbusPoints: [],
      opcua: { properties: [], services: [], events: [] },
    };
    if (mixed) {
      log.error(path, "mixes Modbus points (operateType, registerAddress, originalDataType) with OPC UA mappings (displayName, services, events)");
    } else {
      const tslEntry = tsls.get(productKey);
      const ctx = tslEntry?.valid ? { productKey, tsl: tslEntry.tsl, ref: `tslList[${tslEntry.index}]` } : undefined;
      const at = (kind: string, k: number): Path => [...path, kind, k];
      if (protocol === "modbus") {
        flagDuplicateMappings(item.properties, [...path, "properties"], "property", log);
        for (const [p, k] of objects(item.properties)) {
          const point = readModbusPoint(p, at("properties", k), ctx, log);
          if (point) model.modbusPoints.push(point);
        }
      } else {
        flagDuplicateMappings(item.properties, [...path, "properties"], "property", log);
        flagDuplicateMappings(item.services, [...path, "services"], "service", log);
        flagDuplicateMappings(item.events, [...path, "events"], "event", log);
        for (const [p, k] of objects(item.properties)) {
          const spec = readOpcuaProperty(p, at("properties", k), ctx, log);
          if (spec) model.opcua.properties.push(spec);
        }
        for (const [s, k] of objects(item.services)) {
          const spec = readOpcuaService(s, at("services", k), ctx, log);
          if (spec) model.opcua.services.push(spec);
        }
        for (const [e, k] of objects(item.events)) {
          const spec = readOpcuaEvent(e, at("events", k), ctx, log);
          if (spec) model.opcua.events.push(spec);
        }
      }
    }
    model.valid = !mixed && !dups.has(productKey) && listsAreUsable(path, log);
    if (!out.has(productKey)) out.set(productKey, model);
  });
  return out;
}
