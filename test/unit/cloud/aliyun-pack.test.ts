/**
 * The uplink path of one window on Alibaba: the neutral batcher (things/batcher.ts) turns values into outbox
 * records, and the Alink encoder (cloud/aliyun/uplink.ts) packs the records into pack posts at send time.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Writable } from "node:stream";
import { createLogger } from "../../../src/ops/logger.js";
import { UplinkBatcher, type UplinkBatcherOptions } from "../../../src/things/batcher.js";
import { compileTsl } from "../../../src/things/tsl.js";
import type { TslDataType, TslDocument, TslTypeName } from "../../../src/things/tsl-types.js";
import type { NewRecord, PlatformDevice, UplinkRecord } from "../../../src/cloud/platform.js";
import { AlinkUplinks } from "../../../src/cloud/aliyun/uplink.js";
import { defaultPackLimits, type PackLimits, type Uplink } from "../../../src/cloud/aliyun/pack.js";
import type { TslValue } from "../../../src/things/tsl-value.js";

const gatewayKey = "a1Gw/gw-001";
const packTopic = "/sys/a1Gw/gw-001/thing/event/property/pack/post";

type Typed = { deviceKey: string; identifier: string; time: number; tslType?: TslTypeName | TslDataType };

/** The batcher's inputs with the thing-model type of each value, from which each device's TSL is made up. */
interface TypedBatcher {
  addProperty(p: Typed & { value: TslValue }): void;
  addEvent(e: Typed & { value: Record<string, TslValue> }): void;
  flush(): void;
  stop(): void;
  readonly pendingCount: number;
}

interface Harness {
  batcher: TypedBatcher;
  batches: Uplink[][];
  all: () => Uplink[];
  /** Resolves with the next emitted batch; rejects after a bounded wait. */
  next: (timeoutMs?: number) => Promise<Uplink[]>;
}

function harness(options: Partial<UplinkBatcherOptions> & { limits?: Partial<PackLimits> } = {}): Harness {
  const batches: Uplink[][] = [];
  const waiters: Array<(b: Uplink[]) => void> = [];
  let id = 1000;
  let seq = 0;
  const types = new Map<string, TslDocument>();
  const typeOf = (device: string): TslDocument => {
    let doc = types.get(device);
    if (!doc) types.set(device, (doc = { profile: { productKey: device.split("/")[0]! }, properties: [], events: [] }));
    return doc;
  };
  const encoder = new AlinkUplinks(gatewayKey, { ...defaultPackLimits, ...options.limits });
  const emit = (records: NewRecord[]) => {
    const devices: PlatformDevice[] = [...types].map(([key, tsl]) => ({ key, productKey: key.split("/")[0]!, deviceName: key.split("/")[1]!, tsl, spec: {} as PlatformDevice["spec"] }));
    encoder.setDevices(devices);
    const stored = records.map((r) => ({ ...r, seq: ++seq, attempts: 0 }) as UplinkRecord);
    const uplinks = encoder.encode(stored, () => String(id++));
    batches.push(uplinks);
    waiters.shift()?.(uplinks);
  };
  const inner = new UplinkBatcher({ ...options, emit: options.emit ?? emit });
  const batcher: TypedBatcher = {
    addProperty: ({ tslType, ...p }) => {
      if (tslType) typeOf(p.deviceKey).properties!.push({ identifier: p.identifier, dataType: typeof tslType === "string" ? { type: tslType } : tslType });
      inner.addProperty(p);
    },
    addEvent: ({ tslType, ...e }) => {
      if (tslType) typeOf(e.deviceKey).events!.push({ identifier: e.identifier, outputData: (tslType as unknown as { specs: never }).specs });
      inner.addEvent(e);
    },
    flush: () => inner.flush(),
    stop: () => inner.stop(),
    get pendingCount() {
      return inner.pendingCount;
    },
  };
  return {
    batcher,
    batches,
    all: () => batches.flat(),
    next: (timeoutMs = 3000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no batch emitted in time")), timeoutMs);
        waiters.push((b) => {
          clearTimeout(t);
          resolve(b);
        });
      }),
  };
}

const dev = (i: number) => `a1Sub/meter-${String(i).padStart(3, "0")}`;

interface Seen {
  device: string;
  identifier: string;
  value: unknown;
  time: number;
  msg: number;
}

/** Every property in every message, with the index of the message it came in. */
function properties(uplinks: Uplink[]): Seen[] {
  const out: Seen[] = [];
  uplinks.forEach((u, msg) => {
    const body = JSON.parse(u.payload);
    {
      for (const [identifier, v] of Object.entries<{ value: unknown; time: number }>(body.params.properties ?? {})) {
        out.push({ device: gatewayKey, identifier, value: v.value, time: v.time, msg });
      }
      for (const s of body.params.subDevices) {
        for (const [identifier, v] of Object.entries<{ value: unknown; time: number }>(s.properties)) {
          out.push({ device: `${s.identity.productKey}/${s.identity.deviceName}`, identifier, value: v.value, time: v.time, msg });
        }
      }
    }
  });
  return out;
}

function assertPackLimits(uplinks: Uplink[]): void {
  for (const u of uplinks) {
    const p = JSON.parse(u.payload).params;
    const props = Object.keys(p.properties ?? {}).length + p.subDevices.reduce((n: number, s: { properties: object }) => n + Object.keys(s.properties).length, 0);
    const events = Object.keys(p.events ?? {}).length + p.subDevices.reduce((n: number, s: { events: object }) => n + Object.keys(s.events).length, 0);
    assert.ok(props <= 200, `pack ${u.msgId} has ${props} properties`);
    assert.ok(events <= 20, `pack ${u.msgId} has ${events} events`);
    assert.ok(p.subDevices.length <= 20, `pack ${u.msgId} has ${p.subDevices.length} sub-devices`);
    assert.ok(props + events > 0, "no empty pack");
  }
}

describe("UplinkBatcher and the Alink pack encoder", () => {
  test("one cycle of 100 sub-devices x 10 points leaves in exactly 5 pack posts with every value and time", async () => {
    const h = harness();
    const t0 = 1_700_000_000_000;
    const expected = new Map<string, { value: number; time: number }>();
    for (let d = 0; d < 100; d++) {
      for (let p = 0; p < 10; p++) {
        const value = d * 10 + p + 0.5;
        const time = t0 + d * 10 + p;
        expected.set(`${dev(d)}|P${p}`, { value, time });
        h.batcher.addProperty({ deviceKey: dev(d), identifier: `P${p}`, value, time, tslType: "double" });
      }
    }
    assert.equal(h.batches.length, 0, "nothing leaves before the window closes");
    const batch = await h.next();
    assert.equal(batch.length, 5);
    assertPackLimits(batch);
    for (const u of batch) {
      assert.equal(u.topic, packTopic);
      const body = JSON.parse(u.payload);
      assert.equal(body.id, u.msgId);
      assert.equal(body.version, "1.0");
      assert.equal(body.method, "thing.event.property.pack.post");
      assert.equal(body.params.subDevices.length, 20);
      assert.deepEqual(u.devices, body.params.subDevices.map((s: { identity: { productKey: string; deviceName: string } }) => `${s.identity.productKey}/${s.identity.deviceName}`));
    }
    assert.equal(new Set(batch.map((u) => u.msgId)).size, 5, "message ids are unique");
    const seen = properties(batch);
    assert.equal(seen.length, 1000);
    for (const s of seen) {
      const e = expected.get(`${s.device}|${s.identifier}`);
      assert.ok(e, `unexpected ${s.device} ${s.identifier}`);
      assert.equal(s.value, e.value);
      assert.equal(s.time, e.time);
      expected.delete(`${s.device}|${s.identifier}`);
    }
    assert.equal(expected.size, 0);
    assert.equal(batch[0]!.sampleTime, t0, "sampleTime is the oldest sample in the message");
    assert.equal(h.batcher.pendingCount, 0);
    h.batcher.stop();
  });

  test("float/double values carry a decimal point in the payload", () => {
    const h = harness();
    h.batcher.addProperty({ deviceKey: dev(1), identifier: "T", value: 12, time: 1, tslType: "float" });
    h.batcher.addProperty({ deviceKey: dev(1), identifier: "N", value: 12, time: 1, tslType: "int" });
    h.batcher.addProperty({
      deviceKey: dev(1),
      identifier: "S",
      value: { x: 3 },
      time: 1,
      tslType: { type: "struct", specs: [{ identifier: "x", dataType: { type: "double" } }] },
    });
    h.batcher.flush();
    const payload = h.all()[0]!.payload;
    assert.match(payload, /"T":\{"value":12\.0,"time":1\}/);
    assert.match(payload, /"N":\{"value":12,"time":1\}/);
    assert.match(payload, /"S":\{"value":\{"x":3\.0\},"time":1\}/);
    h.batcher.stop();
  });

  test("several samples of one point in a window are all kept, in time order, without multiplying messages", () => {
    const h = harness();
    for (let cycle = 0; cycle < 3; cycle++) {
      for (let d = 0; d < 100; d++) {
        for (let p = 0; p < 10; p++) {
          h.batcher.addProperty({ deviceKey: dev(d), identifier: `P${p}`, value: cycle, time: 1000 + cycle, tslType: "int" });
        }
      }
    }
    h.batcher.flush();
    const batch = h.all();
    assert.equal(batch.length, 15, "3000 values need exactly 15 full packs");
    assertPackLimits(batch);
    const seen = properties(batch);
    assert.equal(seen.length, 3000);
    const byPoint = new Map<string, Seen[]>();
    for (const s of seen) byPoint.set(`${s.device}|${s.identifier}`, [...(byPoint.get(`${s.device}|${s.identifier}`) ?? []), s]);
    assert.equal(byPoint.size, 1000);
    for (const list of byPoint.values()) {
      assert.deepEqual(list.map((s) => s.value), [0, 1, 2]);
      assert.ok(list[0]!.msg < list[1]!.msg && list[1]!.msg < list[2]!.msg, "later samples leave in later messages");
    }
    h.batcher.stop();
  });

  test("events of online devices go into packs, at most 20 per message", () => {
    const h = harness();
    const tsl = compileTsl({
      profile: { productKey: "a1Sub" },
      events: [{ identifier: "alarm", outputData: [{ identifier: "v", dataType: { type: "double" } }] }],
    });
    const alarm = tsl.event("alarm")!;
    for (let d = 0; d < 30; d++) {
      h.batcher.addEvent({ deviceKey: dev(d), identifier: "alarm", value: { v: d }, time: 5000 + d, tslType: alarm.dataType });
      h.batcher.addProperty({ deviceKey: dev(d), identifier: "P", value: d, time: 5000 + d, tslType: "int" });
    }
    h.batcher.flush();
    const batch = h.all();
    assert.equal(batch.length, 2);
    assertPackLimits(batch);
    const events: Array<{ device: string; v: unknown; time: number }> = [];
    for (const u of batch) {
      for (const s of JSON.parse(u.payload).params.subDevices) {
        for (const [id, e] of Object.entries<{ value: { v: unknown }; time: number }>(s.events)) {
          assert.equal(id, "alarm");
          events.push({ device: s.identity.deviceName, v: e.value.v, time: e.time });
        }
      }
    }
    assert.equal(events.length, 30);
    assert.deepEqual(events.map((e) => e.time).sort(), Array.from({ length: 30 }, (_, d) => 5000 + d));
    assert.match(batch[0]!.payload, /"alarm":\{"value":\{"v":0\.0\},"time":5000\}/);
    assert.equal(properties(batch).length, 30);
    h.batcher.stop();
  });

  test("the 200-property and 20-event limits count over the whole message", () => {
    const h = harness();
    for (let d = 0; d < 10; d++) {
      for (let p = 0; p < 30; p++) h.batcher.addProperty({ deviceKey: dev(d), identifier: `P${p}`, value: p, time: 1, tslType: "int" });
      for (let e = 0; e < 3; e++) h.batcher.addEvent({ deviceKey: dev(d), identifier: `E${e}`, value: {}, time: 2 });
    }
    h.batcher.flush();
    const batch = h.all();
    assertPackLimits(batch);
    const count = (u: Uplink, key: "properties" | "events") =>
      JSON.parse(u.payload).params.subDevices.reduce((n: number, s: Record<string, object>) => n + Object.keys(s[key]!).length, 0);
    assert.deepEqual(batch.map((u) => count(u, "properties")), [200, 100]);
    assert.deepEqual(batch.map((u) => count(u, "events")), [20, 10]);
    assert.equal(properties(batch).length, 300);
    h.batcher.stop();
  });

  test("a window becomes one properties record per device (at most 200 values, in sample order) and one record per event", () => {
    const records: NewRecord[][] = [];
    const batcher = new UplinkBatcher({ emit: (r) => records.push(r) });
    for (let p = 0; p < 250; p++) batcher.addProperty({ deviceKey: dev(1), identifier: `P${p}`, value: p, time: 10 + p });
    batcher.addProperty({ deviceKey: dev(2), identifier: "T", value: 1.5, time: 7 });
    batcher.addProperty({ deviceKey: dev(2), identifier: "T", value: 2, time: 8 });
    batcher.addEvent({ deviceKey: dev(2), identifier: "alarm", value: { errorCode: "E1" }, time: 9 });
    batcher.flush();
    assert.equal(records.length, 1, "one window, one hand-over");
    const [batch] = records;
    const props1 = batch!.filter((r) => r.device === dev(1));
    assert.deepEqual(props1.map((r) => (r.kind === "properties" ? r.values.length : -1)), [200, 50]);
    assert.deepEqual(props1.map((r) => r.time), [10, 210]);
    const props2 = batch!.filter((r) => r.device === dev(2) && r.kind === "properties");
    assert.deepEqual(props2.map((r) => (r.kind === "properties" ? r.values.map((v) => [v.value, v.time]) : [])), [[[1.5, 7], [2, 8]]]);
    const ev = batch!.filter((r) => r.kind === "event");
    assert.deepEqual(ev, [{ device: dev(2), kind: "event", time: 9, identifier: "alarm", outputs: { errorCode: "E1" } }]);
    batcher.stop();
  });

  test("the gateway's own values go to the top level of the pack", () => {
    const h = harness();
    h.batcher.addProperty({ deviceKey: gatewayKey, identifier: "CpuLoad", value: 0.25, time: 3, tslType: "double" });
    h.batcher.addProperty({ deviceKey: dev(5), identifier: "T", value: 1, time: 4, tslType: "int" });
    h.batcher.flush();
    const [u] = h.all();
    const params = JSON.parse(u!.payload).params;
    assert.deepEqual(params.properties, { CpuLoad: { value: 0.25, time: 3 } });
    assert.equal(params.subDevices.length, 1);
    assert.deepEqual(u!.devices, [gatewayKey, dev(5)]);
    h.batcher.stop();
  });

  test("a payload byte budget splits packs without losing values", () => {
    const h = harness({ limits: { maxPayloadBytes: 2048 } });
    for (let d = 0; d < 10; d++) {
      for (let p = 0; p < 10; p++) {
        h.batcher.addProperty({ deviceKey: dev(d), identifier: `Label${p}`, value: "x".repeat(40), time: 1, tslType: "text" });
      }
    }
    h.batcher.flush();
    const batch = h.all();
    assert.ok(batch.length > 1);
    for (const u of batch) assert.ok(Buffer.byteLength(u.payload) <= 2048, `payload of ${Buffer.byteLength(u.payload)} bytes`);
    assert.equal(properties(batch).length, 100);
    h.batcher.stop();
  });

  test("maxPending closes the window early", () => {
    const h = harness({ maxPending: 50, windowMs: 60_000 });
    for (let i = 0; i < 120; i++) h.batcher.addProperty({ deviceKey: dev(i), identifier: "T", value: i, time: 1, tslType: "int" });
    assert.equal(h.batches.length, 2);
    assert.equal(h.batcher.pendingCount, 20);
    h.batcher.stop();
    assert.equal(properties(h.all()).length, 120);
  });

  test("stop flushes what waits and leaves no timer; later values leave at once", () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timeouts();
    const h = harness({ windowMs: 60_000 });
    h.batcher.addProperty({ deviceKey: dev(7), identifier: "T", value: 1, time: 1, tslType: "int" });
    assert.equal(timeouts(), before + 1, "the window timer runs");
    h.batcher.stop();
    assert.equal(timeouts(), before, "no timer after stop");
    assert.equal(h.batches.length, 1);
    h.batcher.addProperty({ deviceKey: dev(7), identifier: "T", value: 2, time: 2, tslType: "int" });
    assert.equal(h.batches.length, 2);
    assert.equal(timeouts(), before);
    h.batcher.flush();
    assert.equal(h.batches.length, 2, "an empty flush emits nothing");
  });

  test("an emit failure at the end of a window is logged, not thrown into the timer", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger("info", new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
    let calls = 0;
    const failed = new Promise<void>((resolve) => {
      const batcher = new UplinkBatcher({
        windowMs: 20,
        logger,
        emit: () => {
          calls++;
          setImmediate(resolve);
          throw new Error("outbox full");
        },
      });
      batcher.addProperty({ deviceKey: dev(8), identifier: "T", value: 1, time: 1 });
    });
    await Promise.race([failed, new Promise((_, reject) => setTimeout(() => reject(new Error("window never closed")), 3000).unref())]);
    assert.equal(calls, 1);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, "error");
    assert.match(JSON.stringify(lines[0]!.err), /outbox full/);
  });

  test("a malformed device key is refused when encoded", () => {
    const encoder = new AlinkUplinks(gatewayKey);
    const record: UplinkRecord = { seq: 1, attempts: 0, device: "nokey", kind: "properties", time: 1, values: [{ identifier: "T", value: 1, time: 1 }] };
    assert.throws(() => encoder.encode([record], () => "1"), /invalid device key/);
  });
});
