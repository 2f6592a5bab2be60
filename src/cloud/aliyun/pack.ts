/**
 * Turns one window of encoded samples into Alink messages (pure; no I/O, no timers).
 *
 * - Online devices share pack posts (alink.md section 3.14). The limits hold for the whole message (P28):
 *   at most 200 properties, 20 events and 20 sub-device entries, plus a payload byte budget.
 * - Records are sent only for devices that are logged in (the outbox holds the others), so every record goes
 *   into a pack post; each message lists the outbox records it carries, so that its reply settles them.
 * - A map holds one value per identifier, so a second sample of the same point in one window goes into a later
 *   message. Nothing is coalesced: trigger-2 filtering already happened upstream, and every trigger-1 sample
 *   is kept. Placement is first-fit after the message that holds the previous sample of the same point, so the
 *   samples of a point leave in time order and repeated samples do not multiply the number of messages.
 */
import { topics, type Identity } from "./topics.js";
import { packPostRequest, type PackEntryJson, type TimedValue } from "./json.js";

export interface PackLimits {
  maxProperties: number;
  maxEvents: number;
  maxSubDevices: number;
  /** Upper bound for a payload; a single value larger than this still leaves, alone. */
  maxPayloadBytes: number;
}

/** alink.md section 4.4; the byte budget is the platform's MQTT message limit of 256 KB. */
export const defaultPackLimits: PackLimits = { maxProperties: 200, maxEvents: 20, maxSubDevices: 20, maxPayloadBytes: 256 * 1024 };

export interface Uplink {
  topic: string;
  payload: string;
  msgId: string;
  /** Keys of the devices whose data the message carries (the gateway's own key for its own data). */
  devices: string[];
  /** The oldest sample time in the message, epoch ms. */
  sampleTime: number;
  /** Outbox records (seq) whose values the message carries; a record may be spread over several messages. */
  seqs: number[];
}

export interface DeviceRef {
  key: string;
  identity: Identity;
  /** `{"productKey":…,"deviceName":…}` */
  identityJson: string;
}

export interface BatchItem extends TimedValue {
  kind: "property" | "event";
  identifier: string;
  time: number;
  /** UTF-8 size of its member `"id":{"value":…,"time":…}`. */
  bytes: number;
  /** The outbox record it comes from. */
  seq: number;
}

export interface DeviceItems {
  device: DeviceRef;
  items: BatchItem[];
}

/** Drafts per call stay far below this (group * GROUP + draft index stays an exact integer). */
const GROUP = 2 ** 21;

/** Envelope, method and id; generous so that the estimate never undercounts. */
const ENVELOPE_BYTES = 200;
/** `{"identity":…,"properties":{},"events":{}}` around an entry's members, plus the identity itself. */
const entryOverhead = (d: DeviceRef) => d.identityJson.length + 48;

interface EntryDraft {
  device: DeviceRef;
  properties: TimedValue[];
  events: TimedValue[];
}

interface PackDraft {
  gateway: EntryDraft;
  subs: Map<string, EntryDraft>;
  properties: number;
  events: number;
  bytes: number;
  sampleTime: number;
  seqs: Set<number>;
}

/** `groups`: one per device, its items in sample order. */
export function buildPacks(gateway: DeviceRef, groups: readonly DeviceItems[], limits: PackLimits, nextId: () => string): Uplink[] {
  const drafts: PackDraft[] = [];
  const newDraft = (): PackDraft => ({
    gateway: { device: gateway, properties: [], events: [] },
    subs: new Map(),
    properties: 0,
    events: 0,
    bytes: ENVELOPE_BYTES,
    sampleTime: Infinity,
    seqs: new Set(),
  });
  // Per kind: identifier → (group, index of the draft holding its latest sample), as group * GROUP + index. An entry of
  // an earlier group means "not in this group": no map and no key string per device.
  const lastOf = { property: new Map<string, number>(), event: new Map<string, number>() };
  let group = 0;
  let openProps = 0;
  let openEvents = 0;

  const fits = (d: PackDraft, device: DeviceRef, item: BatchItem): boolean => {
    if (item.kind === "property" ? d.properties >= limits.maxProperties : d.events >= limits.maxEvents) return false;
    const isGateway = device.key === gateway.key;
    const newEntry = !isGateway && !d.subs.has(device.key);
    if (newEntry && d.subs.size >= limits.maxSubDevices) return false;
    if (d.properties + d.events === 0) return true;
    return d.bytes + item.bytes + 1 + (newEntry ? entryOverhead(device) : 0) <= limits.maxPayloadBytes;
  };

  for (const { device, items } of groups) {
    const base = ++group * GROUP;
    for (const item of items) {
      const last = lastOf[item.kind];
      const seen = last.get(item.identifier);
      const prev = seen !== undefined && seen >= base && seen < base + GROUP ? seen - base : undefined;
      let j = Math.max(prev === undefined ? 0 : prev + 1, item.kind === "property" ? openProps : openEvents);
      for (; ; j++) {
        if (j === drafts.length) drafts.push(newDraft());
        if (fits(drafts[j]!, device, item)) break;
      }
      const d = drafts[j]!;
      let entry = device.key === gateway.key ? d.gateway : d.subs.get(device.key);
      if (!entry) {
        entry = { device, properties: [], events: [] };
        d.subs.set(device.key, entry);
        d.bytes += entryOverhead(device);
      }
      if (item.kind === "property") {
        entry.properties.push(item);
        d.properties++;
      } else {
        entry.events.push(item);
        d.events++;
      }
      d.bytes += item.bytes + 1;
      if (item.time < d.sampleTime) d.sampleTime = item.time;
      d.seqs.add(item.seq);
      last.set(item.identifier, base + j);
      while (openProps < drafts.length && drafts[openProps]!.properties >= limits.maxProperties) openProps++;
      while (openEvents < drafts.length && drafts[openEvents]!.events >= limits.maxEvents) openEvents++;
    }
  }

  const topic = topics.packPost(gateway.identity);
  return drafts.map((d) => {
    const subs: PackEntryJson[] = [...d.subs.values()].map((e) => ({
      identityJson: e.device.identityJson,
      properties: e.properties,
      events: e.events,
    }));
    const devices = [...d.subs.keys()];
    if (d.gateway.properties.length + d.gateway.events.length > 0) devices.unshift(gateway.key);
    const msgId = nextId();
    return {
      topic,
      payload: packPostRequest(msgId, d.gateway, subs),
      msgId,
      devices,
      sampleTime: d.sampleTime,
      seqs: [...d.seqs],
    };
  });
}
