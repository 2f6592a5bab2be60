import { test } from "node:test";
import assert from "node:assert/strict";
import type { PropertySample } from "../../src/cloud/platform.js";
import { decodeRecord, encodeRecord, type NewRecord } from "../../src/store/record-codec.js";

const T0 = 1_760_000_000_000;

test("a properties body is the JSON of [[identifier, value, time], …] for every kind of value, and reads back the same", () => {
  const values: PropertySample[] = [
    { identifier: "plain", value: 21.5, time: T0 },
    { identifier: "big", value: 1e21, time: T0 + 1 },
    { identifier: "tiny", value: 5e-7, time: T0 + 2 },
    { identifier: "negZero", value: -0, time: T0 + 3 },
    { identifier: "int", value: -42, time: T0 + 4 },
    { identifier: 'quote"and\\slash', value: 'line\nbreak "q" 温度 \u0001', time: T0 + 6 },
    { identifier: "obj", value: { a: [1, "x", { b: "y" }], c: 2.5 }, time: T0 + 7 },
    { identifier: "arr", value: [1, 2, 3], time: T0 + 8 },
  ];
  const r: NewRecord = { kind: "properties", device: "pk/dev-温", time: T0, values };
  const e = encodeRecord(r, T0 + 100);
  // The form every build reads (and older builds wrote): one array per value.
  assert.equal(e.body, JSON.stringify(values.map((v) => [v.identifier, v.value, v.time])));
  assert.equal(e.bytes, Buffer.byteLength(r.device) + Buffer.byteLength(e.body));
  assert.equal(e.createdAt, T0 + 100);
  assert.equal(e.sampleTime, T0);
  const back = decodeRecord({ seq: 7, device: r.device, kind: e.kind, time: e.sampleTime, body: e.body, attempts: 0, bytes: e.bytes }, 2);
  assert.deepEqual(back, { seq: 7, device: r.device, time: T0, attempts: 2, kind: "properties", values: values.map((v) => ({ ...v, value: Object.is(v.value, -0) ? 0 : v.value })) });
});
