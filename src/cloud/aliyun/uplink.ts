/**
 * Neutral outbox records → Alink pack posts (alink.md section 3.14), at send time. Values are written by their
 * thing-model type (float and double keep their decimal point), each with its sample time.
 */
import type { PlatformDevice, UplinkRecord } from "../platform.js";
import { splitDeviceKey } from "../../core/device-key.js";
import type { TslDataType } from "../../things/tsl-types.js";
import { memberBytes, memberHead, timeTail } from "./json.js";
import { encoderFor, type Encoder } from "../../things/json.js";
import { buildPacks, defaultPackLimits, type BatchItem, type DeviceItems, type DeviceRef, type PackLimits, type Uplink } from "./pack.js";

/** Value encoders of one thing model, shared by every device of that model. */
interface ModelCodec {
  properties: Map<string, Encoder>;
  events: Map<string, Encoder>;
}

interface DeviceCodec extends ModelCodec {
  ref: DeviceRef;
}

export class AlinkUplinks {
  private readonly codecs = new Map<string, DeviceCodec>();
  private readonly gateway: DeviceRef;

  constructor(gatewayKey: string, private readonly limits: PackLimits = defaultPackLimits) {
    this.gateway = ref(gatewayKey);
  }

  /** The thing models of the applied document (value types for encoding). */
  setDevices(devices: readonly PlatformDevice[]): void {
    this.codecs.clear();
    // Devices of one product carry the same model object: its encoders are built once.
    const models = new Map<PlatformDevice["tsl"], ModelCodec>();
    for (const d of devices) {
      let model = models.get(d.tsl);
      if (!model) models.set(d.tsl, (model = modelCodec(d.tsl)));
      this.codecs.set(d.key, { ref: ref(d.key), properties: model.properties, events: model.events });
    }
  }

  /** Property and event records packed into as few pack posts as the limits allow. */
  encode(records: readonly UplinkRecord[], nextId: () => string): Uplink[] {
    const groups = new Map<string, DeviceItems>();
    for (const r of records) {
      if (r.kind === "wire") continue;
      let codec = this.codecs.get(r.device);
      if (!codec) this.codecs.set(r.device, (codec = { ref: ref(r.device), ...modelCodec(undefined) }));
      let g = groups.get(r.device);
      if (!g) groups.set(r.device, (g = { device: codec.ref, items: [] }));
      if (r.kind === "properties") {
        for (const v of r.values) g.items.push(item("property", r.seq, v.identifier, (codec.properties.get(v.identifier) ?? generic)(v.value), v.time));
      } else {
        g.items.push(item("event", r.seq, r.identifier, (codec.events.get(r.identifier) ?? generic)(r.outputs), r.time));
      }
    }
    return buildPacks(this.gateway, [...groups.values()], this.limits, nextId);
  }
}

const generic = encoderFor(undefined);

function item(kind: BatchItem["kind"], seq: number, identifier: string, valueJson: string, time: number): BatchItem {
  const it: BatchItem = { kind, identifier, head: memberHead(identifier), valueJson, tail: timeTail(time), time, bytes: 0, seq };
  it.bytes = memberBytes(it);
  return it;
}

function ref(key: string): DeviceRef {
  const id = splitDeviceKey(key);
  if (!id) throw new TypeError(`invalid device key ${JSON.stringify(key)}`);
  return { key, identity: id, identityJson: JSON.stringify(id) };
}

function modelCodec(tsl: PlatformDevice["tsl"]): ModelCodec {
  const properties = new Map<string, Encoder>();
  const events = new Map<string, Encoder>();
  for (const p of tsl?.properties ?? []) if (p?.identifier) properties.set(p.identifier, encoderFor(p.dataType));
  for (const e of tsl?.events ?? []) {
    if (!e?.identifier) continue;
    const struct: TslDataType = { type: "struct", specs: e.outputData ?? [] };
    events.set(e.identifier, encoderFor(struct));
  }
  return { properties, events };
}
