/**
 * OPC UA events of a device node mapped to TSL events.
 *
 * The gateway config gives an event a `displayName` and outputs with an `index` only (alink.md C18). fieldbridge
 * reads it as: `displayName` is the DisplayName of an event type (a subtype of BaseEventType); the event's fields
 * are that type's own properties in the order the server browses them; output `index` k is the k-th of them.
 * Only events of exactly that type, emitted on the device node, are reported.
 */
import type { EventFilter, Variant } from "node-opcua";
import type { OpcuaEventSpec } from "../../config/gateway/model.js";
import type { Ua } from "./ua.js";
import { fromOpcuaValue } from "./values.js";

export interface EventField {
  name: string;
  namespace: number;
}

export interface EventBinding {
  spec: OpcuaEventSpec;
  typeId: string;
  fields: EventField[];
}

/** VariantArrayType.Scalar, without loading node-opcua for one constant. */
const VARIANT_SCALAR = 0;

/** Fields selected before the type's own ones. */
const HEADER = ["EventType", "Time"] as const;

export function buildEventFilter(ua: Ua, binding: EventBinding): EventFilter {
  const base = ua.resolveNodeId("i=2041");
  return new ua.EventFilter({
    selectClauses: [
      ...HEADER.map((name) => ({
        typeDefinitionId: base,
        browsePath: [{ namespaceIndex: 0, name }],
        attributeId: ua.AttributeIds.Value,
      })),
      ...binding.fields.map((f) => ({
        typeDefinitionId: ua.resolveNodeId(binding.typeId),
        browsePath: [{ namespaceIndex: f.namespace, name: f.name }],
        attributeId: ua.AttributeIds.Value,
      })),
    ],
  });
}

/** Output indexes that the event type cannot fill: reported once when the device is attached. */
export function eventMappingProblems(binding: EventBinding): string[] {
  return binding.spec.outputs
    .filter((o) => o.index < 0 || o.index >= binding.fields.length)
    .map((o) => `${binding.spec.identifier}: output ${o.identifier} has index ${o.index}, the event type has ${binding.fields.length} fields`);
}

export interface DecodedEvent {
  value: Record<string, unknown>;
  time: number;
}

/** Decodes the selected fields of one notification; undefined when it is another event type. */
export function decodeEvent(binding: EventBinding, fields: Variant[]): DecodedEvent | undefined {
  const type = fields[0]?.value as { toString(): string } | null | undefined;
  if (!type || type.toString() !== binding.typeId) return undefined;
  const t = fields[1]?.value;
  const time = t instanceof Date && Number.isFinite(t.getTime()) ? t.getTime() : Date.now();
  const value: Record<string, unknown> = {};
  for (const o of binding.spec.outputs) {
    const v = fields[HEADER.length + o.index];
    value[o.identifier] = v ? fromOpcuaValue(v.dataType, v.value, v.arrayType !== VARIANT_SCALAR) : null;
  }
  return { value, time };
}
