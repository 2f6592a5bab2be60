/**
 * Uplink encoding (lierda.md §7.2, §7.3), chosen at send time: a record sampled while the device was online and
 * sent within `liveMaxAgeSeconds` goes live (16 for properties, 17 for an event; the platform stamps them on
 * arrival); everything else goes as 27 with its sample times, at most `historyBatchSize` items and under 64 KiB
 * per message. Values are written by their TSL type (float/double keep their decimal point).
 */
import type { EventRecord, PropertiesRecord } from "../platform.js";
import type { TslDataType, TslDocument } from "../../things/tsl-types.js";
import { encoderFor, type Encoder } from "../../things/json.js";
import { MAX_UPLINK_BYTES } from "./envelope.js";

export type DataRecord = PropertiesRecord | EventRecord;

/** One message to publish: its HeaderCtrl, topic kind, Payload JSON, and the records it carries. */
export interface PlannedMessage {
  headerCtrl: 16 | 17 | 27;
  /** The event identifier of a 17. */
  eventId?: string;
  payloadJson: string;
  seqs: number[];
}

/** Encoders by identifier, from the product's TSL. */
export class ValueWriter {
  private readonly props = new Map<string, Encoder>();
  private readonly events = new Map<string, Encoder>();
  private readonly services = new Map<string, Encoder>();

  constructor(tsl: TslDocument | undefined) {
    for (const p of tsl?.properties ?? []) if (p && typeof p.identifier === "string") this.props.set(p.identifier, encoderFor(p.dataType));
    for (const e of tsl?.events ?? []) {
      if (!e || typeof e.identifier !== "string") continue;
      const outputs = Array.isArray(e.outputData) ? e.outputData : [];
      this.events.set(e.identifier, encoderFor({ type: "struct", specs: outputs } as TslDataType));
    }
    for (const s of tsl?.services ?? []) {
      if (!s || typeof s.identifier !== "string") continue;
      const outputs = Array.isArray(s.outputData) ? s.outputData : [];
      this.services.set(s.identifier, encoderFor({ type: "struct", specs: outputs } as TslDataType));
    }
  }

  /** A map of property values as a JSON object (set replies, property query answers). */
  propertyMap(values: Record<string, unknown>): string {
    return `{${Object.entries(values).map(([k, v]) => `${JSON.stringify(k)}:${this.property(k, v)}`).join(",")}}`;
  }

  serviceOutputs(identifier: string, outputs: Record<string, unknown>): string {
    return (this.services.get(identifier) ?? encoderFor(undefined))(outputs);
  }

  property(identifier: string, value: unknown): string {
    return (this.props.get(identifier) ?? encoderFor(undefined))(value);
  }

  eventOutputs(identifier: string, outputs: Record<string, unknown>): string {
    return (this.events.get(identifier) ?? encoderFor(undefined))(outputs);
  }
}

export interface PlanOptions {
  writer: ValueWriter;
  /** Epoch ms the device's connection came online (records sampled earlier go as history). */
  onlineSince: number;
  now: number;
  liveMaxAgeMs: number;
  historyBatchSize: number;
  /** Added to every sample time (the measured clock offset when above 2 s, §8.3). */
  timeOffsetMs?: number;
  /** Bytes an envelope adds around a Payload (MessageId, HeaderCtrl, Version). */
  envelopeBytes?: number;
}

/** Whether a record goes live (16/17) rather than as history (27). */
export function isLive(r: DataRecord, o: Pick<PlanOptions, "onlineSince" | "now" | "liveMaxAgeMs">): boolean {
  const times = r.kind === "properties" ? r.values.map((v) => v.time) : [r.time];
  const oldest = Math.min(r.time, ...times);
  if (oldest < o.onlineSince || o.now - oldest > o.liveMaxAgeMs) return false;
  // A 16 has one value per identifier: a record holding an identifier twice keeps its times as a 27.
  if (r.kind === "properties") return new Set(r.values.map((v) => v.identifier)).size === r.values.length;
  return true;
}

/** The 27 items of one record: one `properties` item per sample time, one `events` item per event. */
function historyItems(r: DataRecord, o: PlanOptions): { kind: "properties" | "events"; json: string }[] {
  const shift = Math.abs(o.timeOffsetMs ?? 0) > 2000 ? o.timeOffsetMs! : 0;
  if (r.kind === "event") {
    const t = Math.trunc(r.time + shift);
    return [{ kind: "events", json: `{${JSON.stringify(r.identifier)}:{"value":${o.writer.eventOutputs(r.identifier, r.outputs)},"time":${t}}}` }];
  }
  const groups: { time: number; members: Map<string, string> }[] = [];
  for (const v of r.values) {
    let g = groups.find((x) => x.time === v.time && !x.members.has(v.identifier));
    if (!g) {
      g = { time: v.time, members: new Map() };
      groups.push(g);
    }
    const t = Math.trunc(v.time + shift);
    g.members.set(v.identifier, `${JSON.stringify(v.identifier)}:{"value":${o.writer.property(v.identifier, v.value)},"time":${t}}`);
  }
  groups.sort((a, b) => a.time - b.time);
  return groups.map((g) => ({ kind: "properties", json: `{${[...g.members.values()].join(",")}}` }));
}

function historyPayload(props: string[], events: string[]): string {
  return `{"params":[{"properties":[${props.join(",")}],"events":[${events.join(",")}]}]}`;
}

/** Plans the messages for records of one device, oldest first; sample order is kept across message types. */
export function planMessages(records: readonly DataRecord[], o: PlanOptions): PlannedMessage[] {
  const out: PlannedMessage[] = [];
  const limit = MAX_UPLINK_BYTES - (o.envelopeBytes ?? 96);
  let props: string[] = [];
  let events: string[] = [];
  let seqs: number[] = [];
  let bytes = 0;
  const flush = () => {
    if (props.length + events.length === 0) return;
    out.push({ headerCtrl: 27, payloadJson: historyPayload(props, events), seqs: [...new Set(seqs)] });
    props = [];
    events = [];
    seqs = [];
    bytes = 0;
  };
  for (const r of records) {
    if (isLive(r, o)) {
      flush();
      if (r.kind === "event") {
        out.push({ headerCtrl: 17, eventId: r.identifier, payloadJson: o.writer.eventOutputs(r.identifier, r.outputs), seqs: [r.seq] });
      } else {
        const members = r.values.map((v) => `${JSON.stringify(v.identifier)}:${o.writer.property(v.identifier, v.value)}`);
        out.push({ headerCtrl: 16, payloadJson: `{${members.join(",")}}`, seqs: [r.seq] });
      }
      continue;
    }
    for (const item of historyItems(r, o)) {
      const size = Buffer.byteLength(item.json) + 1;
      if (props.length + events.length >= o.historyBatchSize || bytes + size + 64 > limit) flush();
      (item.kind === "properties" ? props : events).push(item.json);
      seqs.push(r.seq);
      bytes += size;
    }
  }
  flush();
  return out;
}
