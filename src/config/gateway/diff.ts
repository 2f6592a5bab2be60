/**
 * What a new gateway config changes against the running one, per channel and per device, so the
 * daemon restarts only what changed. Values are compared as canonical JSON. Passwords are compared
 * through their encrypted form only (`passwordCipher`), never as plaintext.
 */
import type { ChannelSpec, DeviceSpec, GatewayConfig } from "./model.js";
import { canonicalJson } from "./canonical.js";

export type ChangeKind = "added" | "removed" | "changed" | "unchanged";

/**
 * Why a device changed: its own entry (channel reference, slave id, node path), its product's point
 * mapping, its product's TSL, or its channel (which restarts with all its devices).
 */
export type DeviceChangeReason = "device" | "mapping" | "tsl" | "channel";

export interface ChannelChange {
  serverId: string;
  kind: ChangeKind;
  prev?: ChannelSpec;
  next?: ChannelSpec;
}

export interface DeviceChange {
  key: string;
  kind: ChangeKind;
  /** Non-empty exactly when kind is "changed". */
  reasons: DeviceChangeReason[];
  prev?: DeviceSpec;
  next?: DeviceSpec;
}

export interface GatewayConfigDiff {
  channels: ChannelChange[];
  devices: DeviceChange[];
  /** True when anything is added, removed or changed. */
  changed: boolean;
}

/**
 * Equality as canonical JSON. Identical plain JSON implies identical canonical JSON, and many devices
 * share the same mapping, so canonical texts are computed once per distinct plain text.
 */
function sameness(): (a: unknown, b: unknown) => boolean {
  const memo = new Map<string, string>();
  const canonical = (plain: string, value: unknown): string => {
    let text = memo.get(plain);
    if (text === undefined) {
      text = canonicalJson(value);
      memo.set(plain, text);
    }
    return text;
  };
  return (a, b) => {
    const pa = JSON.stringify(a) ?? "null";
    const pb = JSON.stringify(b) ?? "null";
    return pa === pb || canonical(pa, a) === canonical(pb, b);
  };
}

function channelData(c: ChannelSpec): unknown {
  if (c.protocol !== "opcua") return c;
  const { password: _plain, ...rest } = c;
  return rest;
}

function identity(d: DeviceSpec): unknown {
  return {
    productKey: d.productKey,
    deviceName: d.deviceName,
    serverId: d.serverId,
    slaveId: d.modbus?.slaveId,
    displayNamePath: d.opcua?.displayNamePath,
    protocol: d.modbus ? "modbus" : d.opcua ? "opcua" : "none",
  };
}

function mapping(d: DeviceSpec): unknown {
  return {
    points: d.modbus?.points,
    properties: d.opcua?.properties,
    services: d.opcua?.services,
    events: d.opcua?.events,
  };
}

/** Items of both lists by key: next's order first (added/changed/unchanged), then the removed ones. */
function pairs<T>(prev: readonly T[], next: readonly T[], key: (item: T) => string): Array<{ key: string; prev?: T; next?: T }> {
  const before = new Map(prev.map((p) => [key(p), p]));
  const seen = new Set<string>();
  const out: Array<{ key: string; prev?: T; next?: T }> = [];
  for (const n of next) {
    const k = key(n);
    seen.add(k);
    const p = before.get(k);
    out.push({ key: k, next: n, ...(p !== undefined ? { prev: p } : {}) });
  }
  for (const p of prev) if (!seen.has(key(p))) out.push({ key: key(p), prev: p });
  return out;
}

export function diffGatewayConfig(prev: GatewayConfig | null, next: GatewayConfig): GatewayConfigDiff {
  const before: GatewayConfig = prev ?? { channels: [], devices: [], products: {} };
  const same = sameness();

  const channels: ChannelChange[] = pairs(before.channels, next.channels, (c) => c.serverId).map(({ key, prev: p, next: n }) => {
    const kind: ChangeKind = !p ? "added" : !n ? "removed" : same(channelData(p), channelData(n)) ? "unchanged" : "changed";
    return { serverId: key, kind, ...(p ? { prev: p } : {}), ...(n ? { next: n } : {}) };
  });
  const channelKind = new Map(channels.map((c) => [c.serverId, c.kind]));
  const tslChanged = new Map<string, boolean>();
  const productChanged = (pk: string): boolean => {
    let changed = tslChanged.get(pk);
    if (changed === undefined) {
      changed = !same(before.products[pk] ?? null, next.products[pk] ?? null);
      tslChanged.set(pk, changed);
    }
    return changed;
  };

  const devices: DeviceChange[] = pairs(before.devices, next.devices, (d) => d.key).map(({ key, prev: p, next: n }) => {
    const reasons: DeviceChangeReason[] = [];
    if (p && n) {
      if (!same(identity(p), identity(n))) reasons.push("device");
      if (!same(mapping(p), mapping(n))) reasons.push("mapping");
      if (p.productKey !== n.productKey || productChanged(n.productKey)) reasons.push("tsl");
      if (channelKind.get(n.serverId) === "changed") reasons.push("channel");
    }
    const kind: ChangeKind = !p ? "added" : !n ? "removed" : reasons.length > 0 ? "changed" : "unchanged";
    return { key, kind, reasons, ...(p ? { prev: p } : {}), ...(n ? { next: n } : {}) };
  });

  const changed = [...channels, ...devices].some((c) => c.kind !== "unchanged");
  return { channels, devices, changed };
}

/** Counts per kind, for one log line per applied config. */
export function summarizeDiff(diff: GatewayConfigDiff): Record<"channels" | "devices", Record<ChangeKind, number>> {
  const count = (list: Array<{ kind: ChangeKind }>): Record<ChangeKind, number> => {
    const out: Record<ChangeKind, number> = { added: 0, removed: 0, changed: 0, unchanged: 0 };
    for (const c of list) out[c.kind]++;
    return out;
  };
  return { channels: count(diff.channels), devices: count(diff.devices) };
}
