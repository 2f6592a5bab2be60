/**
 * Binds devices to nodes on one live session: resolves the DisplayName paths, matches properties and methods,
 * subscribes the properties and the device events. All devices given together share each browse and each
 * CreateMonitoredItems request. Reports problems; health and logging are the channel's business.
 */
import type { DataValue, Variant } from "node-opcua";
import type { DeviceSpec, OpcuaPropertySpec, OpcuaServiceSpec } from "../../config/gateway/model.js";
import { buildEventFilter, eventMappingProblems, type EventBinding } from "./events.js";
import type { LiveConnection, MonitorHandle } from "./live.js";
import { findEventTypes, matchMembers, resolvePaths, type BrowseChild } from "./resolve.js";
import type { Ua } from "./ua.js";

export interface PropertyBinding {
  deviceKey: string;
  spec: OpcuaPropertySpec;
  nodeId: string;
  samplingMs: number;
  handle?: MonitorHandle;
  latest?: { value: unknown; time: number };
  /** A sample was emitted since the last periodic tick (trigger 1). */
  emittedSinceTick: boolean;
}

export interface MethodArguments {
  inputs: Array<{ name: string; builtin: number; array: boolean }>;
  outputs: number;
}

export interface MethodBinding {
  spec: OpcuaServiceSpec;
  nodeId: string;
  arguments?: Promise<MethodArguments>;
}

export interface DeviceBinding {
  live: LiveConnection;
  nodeId: string;
  properties: Map<string, PropertyBinding>;
  methods: Map<string, MethodBinding>;
  events: Array<{ binding: EventBinding; handle: MonitorHandle }>;
}

export interface AttachCallbacks {
  onValue(binding: PropertyBinding, dv: DataValue): void;
  onEvent(deviceKey: string, binding: EventBinding, fields: Variant[]): void;
}

export interface AttachResult {
  key: string;
  binding?: DeviceBinding;
  /** Why the device could not be bound at all. */
  error?: string;
  /** Mappings that could not be bound (the device is online without them). */
  problems: string[];
  /** Event mappings skipped because the device node is not an event notifier. */
  eventsIgnored: number;
}

const SUBSCRIBE_TO_EVENTS = 1;

export interface AttachOptions {
  ua: Ua;
  live: LiveConnection;
  devices: DeviceSpec[];
  defaultSamplingMs: number;
  callbacks: AttachCallbacks;
}

async function bindEvents(o: AttachOptions, resolved: Array<{ spec: DeviceSpec; result: AttachResult }>): Promise<void> {
  const withEvents = resolved.filter((r) => (r.spec.opcua?.events.length ?? 0) > 0 && r.result.binding);
  if (withEvents.length === 0) return;
  const notifiers = await o.live.readAttribute(
    withEvents.map((r) => r.result.binding!.nodeId),
    "EventNotifier",
  );
  const emitting = withEvents.filter((r, i) => {
    const ok = (Number(notifiers[i] ?? 0) & SUBSCRIBE_TO_EVENTS) !== 0;
    if (!ok) r.result.eventsIgnored = r.spec.opcua!.events.length;
    return ok;
  });
  if (emitting.length === 0) return;
  const names = [...new Set(emitting.flatMap((r) => r.spec.opcua!.events.map((e) => e.displayName)))];
  const types = await findEventTypes(o.live.browseMany, names);
  const typeIds = [...new Set([...types.values()].flatMap((t) => ("nodeId" in t ? [t.nodeId] : [])))];
  const fieldsByType = typeIds.length > 0 ? await o.live.browseMany(typeIds, "properties") : new Map<string, BrowseChild[]>();
  for (const r of emitting) {
    for (const spec of r.spec.opcua!.events) {
      const t = types.get(spec.displayName)!;
      if ("error" in t) {
        r.result.problems.push(`${spec.identifier}: ${t.error}`);
        continue;
      }
      const fields = (fieldsByType.get(t.nodeId) ?? []).map((c) => ({ name: c.browseName, namespace: c.browseNamespace }));
      const binding: EventBinding = { spec, typeId: t.nodeId, fields };
      r.result.problems.push(...eventMappingProblems(binding));
      const deviceKey = r.spec.key;
      const handle = await o.live.monitorEvents({
        nodeId: r.result.binding!.nodeId,
        filter: buildEventFilter(o.ua, binding),
        onEvent: (f) => o.callbacks.onEvent(deviceKey, binding, f),
      });
      if (!handle.ok) r.result.problems.push(`${spec.identifier}: event subscription ${handle.status}`);
      r.result.binding!.events.push({ binding, handle });
    }
  }
}

/** Binds the devices; rejects only when the session fails (the caller then treats the connection as lost). */
export async function attachDevices(o: AttachOptions): Promise<AttachResult[]> {
  const { live } = o;
  const results = new Map<string, AttachResult>();
  const devices = o.devices.filter((d) => d.opcua);
  for (const d of o.devices) results.set(d.key, { key: d.key, problems: [], eventsIgnored: 0 });
  for (const d of o.devices) if (!d.opcua) results.get(d.key)!.error = "device has no OPC UA mapping";

  const paths = await resolvePaths(
    live.browseMany,
    devices.map((d) => ({ key: d.key, path: d.opcua!.displayNamePath })),
  );
  const found: Array<{ spec: DeviceSpec; nodeId: string }> = [];
  for (const d of devices) {
    const r = paths.get(d.key)!;
    if ("error" in r) results.get(d.key)!.error = `path "${d.opcua!.displayNamePath}" does not resolve: ${r.error}`;
    else found.push({ spec: d, nodeId: r.nodeId });
  }
  if (found.length === 0) return [...results.values()];

  const members = await live.browseMany(
    [...new Set(found.map((f) => f.nodeId))],
    "members",
  );
  const monitors: Array<{ binding: PropertyBinding }> = [];
  for (const f of found) {
    const m = f.spec.opcua!;
    const match = matchMembers(members.get(f.nodeId) ?? [], { properties: m.properties, services: m.services });
    const binding: DeviceBinding = { live, nodeId: f.nodeId, properties: new Map(), methods: new Map(), events: [] };
    for (const p of m.properties) {
      const nodeId = match.properties.get(p.identifier);
      if (!nodeId) continue;
      const pb: PropertyBinding = {
        deviceKey: f.spec.key,
        spec: p,
        nodeId,
        samplingMs: p.samplingMs ?? o.defaultSamplingMs,
        emittedSinceTick: false,
      };
      binding.properties.set(p.identifier, pb);
      monitors.push({ binding: pb });
    }
    for (const s of m.services) {
      const nodeId = match.methods.get(s.identifier);
      if (nodeId) binding.methods.set(s.identifier, { spec: s, nodeId });
    }
    const result = results.get(f.spec.key)!;
    result.binding = binding;
    result.problems.push(...match.problems);
  }

  // Items created before a failing request are deleted again, so that a later attempt does not duplicate them.
  const created: MonitorHandle[] = [];
  try {
    const handles = await live.monitorValues(
      monitors.map((m) => ({
        nodeId: m.binding.nodeId,
        samplingMs: m.binding.samplingMs,
        onValue: (dv: DataValue) => o.callbacks.onValue(m.binding, dv),
      })),
    );
    created.push(...handles);
    monitors.forEach((m, i) => {
      const h = handles[i]!;
      m.binding.handle = h;
      if (!h.ok) results.get(m.binding.deviceKey)!.problems.push(`${m.binding.spec.identifier}: monitored item ${h.status}`);
    });
    await bindEvents(
      o,
      found.map((f) => ({ spec: f.spec, result: results.get(f.spec.key)! })),
    );
  } catch (err) {
    for (const r of results.values()) created.push(...(r.binding?.events.map((e) => e.handle) ?? []));
    if (!live.isLost) await live.unmonitor(created).catch(() => undefined);
    throw err;
  }
  return [...results.values()];
}

/** Every monitored item of a binding, for removal. */
export function bindingHandles(b: DeviceBinding): MonitorHandle[] {
  return [
    ...[...b.properties.values()].flatMap((p) => (p.handle ? [p.handle] : [])),
    ...b.events.map((e) => e.handle),
  ];
}
