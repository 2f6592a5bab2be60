/**
 * Data reports (`deviceReq`, huawei.md sections 3.2, 5.3, 5.5): neutral records of one device become as few
 * messages as the limits allow. Property samples of the same second share one `data[]` entry of the product's
 * service (an identifier at most once per entry: a second sample of it in that second opens another entry);
 * each event is an entry of its own whose serviceId is the event identifier. Entries are in ascending eventTime
 * order, at most 100 per message and at most 64 KiB of payload. A record is never split across messages unless
 * it alone exceeds the limits.
 */
import { encoderFor } from "../../things/json.js";
import type { TslDataType } from "../../things/tsl-types.js";
import type { UplinkRecord } from "../platform.js";
import { compactUtc } from "./sign.js";

export const MAX_ENTRIES = 100;
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export interface UplinkTypes {
  /** The service of properties and commands of the device's product (`huawei.serviceId`). */
  serviceId: string;
  property(identifier: string): TslDataType | undefined;
  event(identifier: string): TslDataType | undefined;
}

export interface EncodedMessage {
  payload: string;
  /** Records whose data (or part of it) the message carries. */
  seqs: number[];
}

export interface EncodeResult {
  messages: EncodedMessage[];
  rejected: { seq: number; reason: string }[];
}

interface Item {
  service: string;
  stamp: string;
  /** The property identifier; undefined for an event (a whole entry). */
  identifier: string | undefined;
  /** `"id":value` for a property; the serviceData object for an event. */
  json: string;
}

interface Entry {
  service: string;
  stamp: string;
  ids: Set<string> | undefined;
  parts: string[];
}

function entriesOf(items: readonly Item[]): Entry[] {
  const sorted = items.map((it, i) => ({ it, i })).sort((a, b) => (a.it.stamp < b.it.stamp ? -1 : a.it.stamp > b.it.stamp ? 1 : a.i - b.i));
  const entries: Entry[] = [];
  const open = new Map<string, Entry[]>();
  for (const { it } of sorted) {
    if (it.identifier === undefined) {
      entries.push({ service: it.service, stamp: it.stamp, ids: undefined, parts: [it.json] });
      continue;
    }
    const k = `${it.stamp}\u0000${it.service}`;
    const list = open.get(k) ?? [];
    let e = list.find((x) => !x.ids!.has(it.identifier!));
    if (!e) {
      e = { service: it.service, stamp: it.stamp, ids: new Set(), parts: [] };
      list.push(e);
      open.set(k, list);
      entries.push(e);
    }
    e.ids!.add(it.identifier);
    e.parts.push(it.json);
  }
  return entries;
}

function serialize(entries: readonly Entry[]): string {
  const data = entries.map((e) => {
    const serviceData = e.ids === undefined ? e.parts[0]! : `{${e.parts.join(",")}}`;
    return `{"serviceId":${JSON.stringify(e.service)},"serviceData":${serviceData},"eventTime":"${e.stamp}"}`;
  });
  return `{"msgType":"deviceReq","data":[${data.join(",")}]}`;
}

function itemsOf(r: UplinkRecord, t: UplinkTypes): Item[] | string {
  if (r.kind === "wire") return `a ${r.platform} wire message cannot be sent on this platform`;
  if (r.kind === "event") {
    const dt = t.event(r.identifier);
    return [{ service: r.identifier, stamp: compactUtc(r.time), identifier: undefined, json: encoderFor(dt)(r.outputs) }];
  }
  if (r.values.length === 0) return "empty record";
  return r.values.map((s) => ({
    service: t.serviceId,
    stamp: compactUtc(s.time),
    identifier: s.identifier,
    json: `${JSON.stringify(s.identifier)}:${encoderFor(t.property(s.identifier))(s.value)}`,
  }));
}

/** The message for `items`, or undefined when it breaks a limit. */
function tryBuild(items: readonly Item[]): string | undefined {
  const entries = entriesOf(items);
  if (entries.length > MAX_ENTRIES) return undefined;
  const payload = serialize(entries);
  return Buffer.byteLength(payload, "utf8") <= MAX_PAYLOAD_BYTES ? payload : undefined;
}

export function encodeDeviceReq(records: readonly UplinkRecord[], types: UplinkTypes): EncodeResult {
  const out: EncodeResult = { messages: [], rejected: [] };
  let cur: { items: Item[]; seqs: number[]; payload: string } | undefined;
  const flush = () => {
    if (cur) out.messages.push({ payload: cur.payload, seqs: cur.seqs });
    cur = undefined;
  };
  for (const r of records) {
    const items = itemsOf(r, types);
    if (typeof items === "string") {
      out.rejected.push({ seq: r.seq, reason: items });
      continue;
    }
    if (cur) {
      const joined = [...cur.items, ...items];
      const payload = tryBuild(joined);
      if (payload !== undefined) {
        cur = { items: joined, seqs: [...cur.seqs, r.seq], payload };
        continue;
      }
      flush();
    }
    const alone = tryBuild(items);
    if (alone !== undefined) {
      cur = { items, seqs: [r.seq], payload: alone };
      continue;
    }
    // The record alone breaks a limit: split it over consecutive messages, item by item.
    const chunks: EncodedMessage[] = [];
    let chunk: Item[] = [];
    let chunkPayload = "";
    let tooBig = false;
    for (const it of items) {
      const p = tryBuild([...chunk, it]);
      if (p !== undefined) {
        chunk.push(it);
        chunkPayload = p;
        continue;
      }
      if (chunk.length === 0) {
        tooBig = true;
        break;
      }
      chunks.push({ payload: chunkPayload, seqs: [r.seq] });
      chunk = [it];
      const single = tryBuild(chunk);
      if (single === undefined) {
        tooBig = true;
        break;
      }
      chunkPayload = single;
    }
    if (tooBig) {
      out.rejected.push({ seq: r.seq, reason: `a value does not fit into one message of ${MAX_PAYLOAD_BYTES} bytes` });
      continue;
    }
    out.messages.push(...chunks);
    cur = { items: chunk, seqs: [r.seq], payload: chunkPayload };
  }
  flush();
  return out;
}
