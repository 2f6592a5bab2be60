/**
 * Requests from the cloud, in neutral terms: every request is checked against the device's thing model before
 * anything reaches a field device, so a request that is not valid changes no state. Outcomes carry a failure
 * kind that each adapter maps to its own reply codes.
 */
import type { Logger } from "pino";
import type { CloudRequest, FailureKind, Outcome } from "../cloud/platform.js";
import { FieldError } from "../field/driver.js";
import type { CompiledTsl } from "../things/tsl.js";
import type { TslValue } from "../things/tsl-value.js";
import { isObject } from "./json.js";

export interface CommandTargets {
  /** The compiled thing model of a device of the applied config; undefined for a device this gateway does not serve. */
  tslOf(device: string): CompiledTsl | undefined;
  latest(device: string): Map<string, { value: TslValue; time: number }>;
  write(device: string, values: Record<string, unknown>): Promise<void>;
  call(device: string, service: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>>;
}

const fail = (kind: FailureKind, message: string): Outcome => ({ ok: false, kind, message });


export class Commands {
  readonly counters = { requests: 0, refused: 0, failed: 0 };

  constructor(private readonly t: CommandTargets, private readonly logger: Logger) {}

  /** Never rejects. */
  async run(r: CloudRequest): Promise<Outcome> {
    this.counters.requests++;
    let out: Outcome;
    try {
      out = await this.dispatch(r);
    } catch (err) {
      if (err instanceof FieldError) out = fail(err.code, err.message);
      else {
        this.logger.error({ device: r.device, request: r.kind, err: (err as Error).message }, "request handling failed");
        out = fail("internal", "internal error");
      }
    }
    if (!out.ok) {
      if (out.kind === "badRequest" || out.kind === "unknownIdentifier" || out.kind === "readOnly" || out.kind === "unknownDevice") this.counters.refused++;
      else this.counters.failed++;
    }
    return out;
  }

  private async dispatch(r: CloudRequest): Promise<Outcome> {
    const tsl = this.t.tslOf(r.device);
    if (!tsl) return fail("unknownDevice", `device ${r.device} is not served by this gateway`);
    switch (r.kind) {
      case "propertySet":
        return this.propertySet(r.device, tsl, r.values);
      case "propertyGet":
        return this.propertyGet(r.device, tsl, r.identifiers);
      case "service":
        return this.service(r.device, tsl, r.service, r.inputs);
    }
  }

  private async propertySet(device: string, tsl: CompiledTsl, values: unknown): Promise<Outcome> {
    if (!isObject(values) || Object.keys(values).length === 0) return fail("badRequest", "params must be an object of identifier: value");
    const checked = tsl.checkPropertySet(values);
    if (!checked.ok) {
      // The most specific kind wins only when every problem has it; a mix is a bad request.
      const kinds = new Set(checked.problems.map((p) => p.kind));
      const kind: FailureKind = kinds.size === 1 && kinds.has("unknown") ? "unknownIdentifier" : kinds.size === 1 && kinds.has("read-only") ? "readOnly" : "badRequest";
      return fail(kind, checked.problems.map((p) => `${p.identifier}: ${p.reason}`).join("; "));
    }
    await this.t.write(device, checked.values);
    return { ok: true };
  }

  private propertyGet(device: string, tsl: CompiledTsl, identifiers: unknown): Outcome {
    if (!Array.isArray(identifiers) || !identifiers.every((i) => typeof i === "string")) return fail("badRequest", "params must be a list of property identifiers");
    const unknown = identifiers.filter((id) => !tsl.property(id));
    if (unknown.length) return fail("unknownIdentifier", `unknown identifier ${unknown.join(", ")}`);
    const latest = this.t.latest(device);
    const data: Record<string, TslValue> = {};
    const wanted = identifiers.length ? identifiers : [...latest.keys()];
    for (const id of wanted) {
      const v = latest.get(id);
      if (v) data[id] = v.value;
    }
    return { ok: true, data };
  }

  private async service(device: string, tsl: CompiledTsl, service: string, inputs: unknown): Promise<Outcome> {
    if (!isObject(inputs)) return fail("badRequest", "params must be an object of input: value");
    if (!tsl.service(service)) return fail("unknownIdentifier", `unknown service ${service}`);
    const checked = tsl.checkServiceInputs(service, inputs);
    if (!checked.ok) return fail("badRequest", checked.reason);
    const outputs = await this.t.call(device, service, checked.value);
    const out = tsl.checkServiceOutputs(service, outputs);
    if (!out.ok) {
      this.logger.warn({ device, service, reason: out.reason }, "service outputs do not match the thing model");
      return fail("internal", `outputs do not match the thing model: ${out.reason}`);
    }
    return { ok: true, data: out.value };
  }
}
