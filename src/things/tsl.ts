/**
 * The compiled thing model of one product: built once per config apply, then used for every sample (uplink),
 * every property set and service call (downlink), every event and every service reply.
 *
 * The platform silently drops property values that do not match the TSL (alink.md section 3.10) and fails whole
 * pack posts (section 3.14), so values are checked here before anything is sent.
 */
import { Ajv } from "ajv";
import type { TslDataType, TslDocument, TslParam, TslProperty, TslService } from "./tsl-types.js";
import { compileDataType, compileStruct, type CodecContext, type Coerced, type TslValue, type ValueCodec } from "./tsl-value.js";
import { isObject } from "../core/json.js";

export interface CompiledProperty {
  identifier: string;
  codec: ValueCodec;
  /** accessMode "rw"; a property without accessMode is writable when the standard `set` service lists it. */
  writable: boolean;
}

export interface CompiledEvent {
  identifier: string;
  method: string;
  /** The type of the event's `value`: a struct of the output parameters (used to encode it). */
  dataType: TslDataType;
  codec: ValueCodec;
}

export interface CompiledService {
  identifier: string;
  callType: "sync" | "async";
  /** Inputs as a struct whose members are all required. */
  inputs: ValueCodec;
  /** Outputs as a struct; members may be left out. */
  outputs: ValueCodec;
}

export interface ParamProblem {
  identifier: string;
  kind: "unknown" | "read-only" | "invalid";
  reason: string;
}

export type ParamsResult = { ok: true; values: Record<string, TslValue> } | { ok: false; problems: ParamProblem[] };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });


function paramList(list: unknown): TslParam[] {
  // outputData may be "" or null (C17); the standard `get` service lists identifier strings, which carry no type.
  return Array.isArray(list) ? list.filter((p): p is TslParam => isObject(p)) : [];
}

export class CompiledTsl {
  readonly productKey: string;
  /** Definition problems (bad specs, unknown types, duplicates); the affected values are rejected or unchecked. */
  readonly problems: readonly string[];
  private readonly props = new Map<string, CompiledProperty>();
  private readonly events = new Map<string, CompiledEvent>();
  private readonly services = new Map<string, CompiledService>();

  constructor(doc: TslDocument) {
    const problems: string[] = [];
    let ajv: Ajv | undefined;
    const ctx = (path: string): CodecContext => ({ path, problems, ajv: () => (ajv ??= new Ajv({ strict: true })) });
    this.productKey = isObject(doc?.profile) && typeof doc.profile.productKey === "string" ? doc.profile.productKey : "";

    const setInputs = new Set(
      (Array.isArray(doc.services) ? doc.services : [])
        .filter((s) => s?.identifier === "set")
        .flatMap((s) => paramList(s.inputData).map((p) => p.identifier)),
    );

    (Array.isArray(doc.properties) ? doc.properties : []).forEach((p: TslProperty, i) => {
      const path = `properties[${i}]`;
      if (!this.claim(p, path, this.props, problems)) return;
      this.props.set(p.identifier, {
        identifier: p.identifier,
        codec: compileDataType(p.dataType, ctx(`${path}.dataType`)),
        writable: p.accessMode === undefined ? setInputs.has(p.identifier) : p.accessMode === "rw",
      });
    });

    (Array.isArray(doc.events) ? doc.events : []).forEach((e, i) => {
      const path = `events[${i}]`;
      if (!this.claim(e, path, this.events, problems)) return;
      const outputs = paramList(e.outputData);
      const dataType: TslDataType = { type: "struct", specs: outputs };
      this.events.set(e.identifier, {
        identifier: e.identifier,
        method: typeof e.method === "string" && e.method ? e.method : `thing.event.${e.identifier}.post`,
        dataType,
        codec: compileStruct(dataType, outputs, ctx(`${path}.outputData`)),
      });
    });

    (Array.isArray(doc.services) ? doc.services : []).forEach((s: TslService, i) => {
      const path = `services[${i}]`;
      if (!this.claim(s, path, this.services, problems)) return;
      const inputs = paramList(s.inputData);
      const outputs = paramList(s.outputData);
      this.services.set(s.identifier, {
        identifier: s.identifier,
        callType: s.callType === "sync" ? "sync" : "async",
        inputs: compileStruct({ type: "struct", specs: inputs }, inputs, ctx(`${path}.inputData`), { requireAll: true }),
        outputs: compileStruct({ type: "struct", specs: outputs }, outputs, ctx(`${path}.outputData`)),
      });
    });
    this.problems = problems;
  }

  private claim(def: { identifier?: unknown } | undefined, path: string, map: Map<string, unknown>, problems: string[]): def is { identifier: string } {
    if (!isObject(def) || typeof def.identifier !== "string" || def.identifier === "") {
      problems.push(`${path}: definition without identifier; ignored`);
      return false;
    }
    if (map.has(def.identifier)) problems.push(`${path}: duplicate identifier ${JSON.stringify(def.identifier)}; the later one is used`);
    return true;
  }

  property(identifier: string): CompiledProperty | undefined {
    return this.props.get(identifier);
  }

  propertyIds(): string[] {
    return [...this.props.keys()];
  }

  event(identifier: string): CompiledEvent | undefined {
    return this.events.get(identifier);
  }

  service(identifier: string): CompiledService | undefined {
    return this.services.get(identifier);
  }

  isWritable(identifier: string): boolean {
    return this.props.get(identifier)?.writable ?? false;
  }

  /** Uplink: a driver's decoded value to the TSL value of a property, or the reason it cannot be reported. */
  toTsl(identifier: string, decoded: unknown): Coerced {
    const p = this.props.get(identifier);
    return p ? p.codec.toTsl(decoded) : fail(`unknown property ${JSON.stringify(identifier)}`);
  }

  /** Downlink: one cloud value for a property (type, range, enum keys, text length; not the access mode). */
  fromCloud(identifier: string, value: unknown): Coerced {
    const p = this.props.get(identifier);
    return p ? p.codec.fromCloud(value) : fail(`unknown property ${JSON.stringify(identifier)}`);
  }

  /** A whole property set (`params` of thing.service.property.set): every problem is listed, so a 460 can name them. */
  checkPropertySet(params: unknown): ParamsResult {
    if (!isObject(params)) return { ok: false, problems: [{ identifier: "", kind: "invalid", reason: "params is not an object" }] };
    const values: Record<string, TslValue> = {};
    const problems: ParamProblem[] = [];
    for (const [identifier, raw] of Object.entries(params)) {
      const p = this.props.get(identifier);
      if (!p) {
        problems.push({ identifier, kind: "unknown", reason: `unknown property ${JSON.stringify(identifier)}` });
      } else if (!p.writable) {
        problems.push({ identifier, kind: "read-only", reason: `property ${JSON.stringify(identifier)} is read-only` });
      } else {
        const r = p.codec.fromCloud(raw);
        if (r.ok) values[identifier] = r.value;
        else problems.push({ identifier, kind: "invalid", reason: r.reason });
      }
    }
    return problems.length ? { ok: false, problems } : { ok: true, values };
  }

  /** An event's output values (uplink direction); unknown outputs are rejected, missing ones allowed. */
  checkEvent(identifier: string, value: unknown): Coerced<Record<string, TslValue>> {
    const e = this.events.get(identifier);
    if (!e) return fail(`unknown event ${JSON.stringify(identifier)}`);
    return e.codec.toTsl(value) as Coerced<Record<string, TslValue>>;
  }

  /** Service inputs from the cloud: every declared input must be present and valid. */
  checkServiceInputs(service: string, inputs: unknown): Coerced<Record<string, TslValue>> {
    const s = this.services.get(service);
    if (!s) return fail(`unknown service ${JSON.stringify(service)}`);
    return s.inputs.fromCloud(inputs ?? {}) as Coerced<Record<string, TslValue>>;
  }

  /** Service outputs from a driver, before they go into the reply's `data`. */
  checkServiceOutputs(service: string, outputs: unknown): Coerced<Record<string, TslValue>> {
    const s = this.services.get(service);
    if (!s) return fail(`unknown service ${JSON.stringify(service)}`);
    return s.outputs.toTsl(outputs ?? {}) as Coerced<Record<string, TslValue>>;
  }
}

/** Compiles a product's TSL. Never throws for a bad definition: see `problems`. */
export function compileTsl(doc: TslDocument): CompiledTsl {
  return new CompiledTsl(doc);
}

export type { Coerced, TslValue, ValueCodec } from "./tsl-value.js";
