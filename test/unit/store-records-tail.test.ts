/**
 * Live records are handed to the drain from memory (the outbox's tail) rather than read back from the table. These
 * tests hold the tail to what the table says: the same records, in the same order, never one that was deleted, and
 * nothing missing when memory gives up on them.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { UplinkRecord } from "../../src/cloud/platform.js";
import type { NewRecord } from "../../src/store/records.js";
import { storeOpener } from "../helpers/store.js";

const open = storeOpener("normal");
const T0 = Date.now() - 60_000;

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-tail-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function props(device: string, n: number, time = T0 + n): NewRecord {
  return { kind: "properties", device, time, values: [{ identifier: "count", value: n, time }] };
}

const counts = (records: readonly UplinkRecord[]): number[] => records.map((r) => (r.kind === "properties" ? (r.values[0]!.value as number) : -1));

/** Takes everything takeable from `afterSeq` on, in chunks, as the drain does. */
function takeAll(store: ReturnType<typeof open>, afterSeq = 0, limit = 7): UplinkRecord[] {
  const out: UplinkRecord[] = [];
  let cursor = afterSeq;
  for (let i = 0; i < 100_000; i++) {
    const t = store.records.take({ afterSeq: cursor, limit });
    out.push(...t.records);
    cursor = t.lastSeq;
    if (t.exhausted) return out;
  }
  throw new Error("take did not reach the end");
}

test("a live record from memory equals the one read back from the table after a restart", (t) => {
  const dir = tempDir(t);
  const batch: NewRecord[] = [
    { kind: "properties", device: "p/A", time: T0, values: [{ identifier: "v", value: 1.25, time: T0 }, { identifier: "s", value: { a: [1, "x"], b: 2 }, time: T0 + 1 }] },
    { kind: "event", device: "p/B", time: T0 + 2, identifier: "alarm", outputs: { level: 3, text: "hot \u00e9\u4e2d" } },
    { kind: "wire", device: "p/A", time: T0 + 3, platform: "aliyun", topic: "/sys/p/A/thing/event/property/post", payload: '{"id":"7"}', devices: ["p/A", "p/C"] },
    props("p/B", 4),
  ];
  let store = open(t, dir);
  store.records.append(batch);
  store.records.flush();
  const live = takeAll(store);
  store.close();
  store = open(t, dir);
  const stored = takeAll(store);
  assert.equal(live.length, 4);
  assert.deepEqual(live, stored);
});

test("more live records than memory keeps: every one is handed out once, in seq order", (t) => {
  const store = open(t, tempDir(t), { records: { maxBatch: 100_000 } });
  const n = 10_000;
  // Appended in commits of 1,000 while nothing is taken, as during an outage: memory gives up on the oldest.
  for (let c = 0; c < n; c += 1_000) {
    store.records.append(Array.from({ length: 1_000 }, (_, i) => props("p/A", c + i)));
    store.records.flush();
  }
  const first = store.records.take({ afterSeq: 0, limit: 10 });
  // One released in the middle comes back in its place on the next scan from the start.
  store.records.release(first.records[3]!.seq);
  const rest = takeAll(store, first.lastSeq, 97);
  const again = takeAll(store, 0, 50);
  assert.deepEqual(counts(first.records), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(counts(rest), Array.from({ length: n - 10 }, (_, i) => i + 10));
  assert.deepEqual(counts(again), [3], "the released record, and nothing in flight twice");
});

test("records deleted by the size limit are never handed out from memory", (t) => {
  const store = open(t, tempDir(t), { records: { maxBytes: 400 } });
  store.records.append([props("p/A", 1)]);
  store.records.flush();
  const held = store.records.take({ afterSeq: 0, limit: 1 }).records[0]!;
  for (let i = 2; i <= 30; i++) {
    store.records.append([props("p/A", i)]);
    store.records.flush();
  }
  const s = store.records.stats();
  assert.ok(s.droppedForSize > 0, `dropped for size: ${s.droppedForSize}`);
  store.records.release(held.seq);
  const taken = takeAll(store);
  assert.equal(taken.length, s.depth, "exactly the stored records");
  assert.equal(counts(taken)[0], 1, "the one in flight was kept");
  assert.deepEqual(counts(taken).slice(1), counts(taken).slice(1).sort((a, b) => a - b), "in order");
  assert.equal(counts(taken).at(-1), 30, "the newest is there");
});

test("records dropped by the age limit, acknowledged or of a removed device are not handed out again", (t) => {
  let now = T0 + 100;
  const store = open(t, tempDir(t), { now: () => now, records: { maxAgeHours: 1 } });
  store.records.append([props("p/A", 1), props("p/B", 2), props("p/A", 3)]);
  store.records.flush();
  const [a1] = store.records.take({ afterSeq: 0, limit: 1 }).records;
  store.records.ack(a1!.seq);
  assert.equal(store.records.dropDevice("p/B"), 1);
  const left = takeAll(store);
  assert.deepEqual(counts(left), [3]);
  store.records.release(left[0]!.seq);
  now += 2 * 3_600_000;
  store.records.append([props("p/A", 4, now)]);
  store.records.flush();
  assert.equal(store.records.expire(), 1);
  assert.deepEqual(counts(takeAll(store)), [4], "the expired one is gone, the new one is there");
});

test("a refusal's attempt count stays with the record taken from memory, also after its commit", (t) => {
  const store = open(t, tempDir(t), { records: { batchDelayMs: 0, settleDelayMs: 0 } });
  store.records.append([props("p/A", 1)]);
  store.records.flush();
  const r = store.records.take({ afterSeq: 0, limit: 1 }).records[0]!;
  assert.equal(store.records.retry(r.seq, 5), true);
  assert.equal(store.records.take({ afterSeq: 0, limit: 1 }).records[0]!.attempts, 1, "before the commit");
  assert.equal(store.records.retry(r.seq, 5), true);
  store.records.flush();
  assert.equal(store.records.take({ afterSeq: 0, limit: 1 }).records[0]!.attempts, 2, "after the commit");
});

test("acknowledgements in any order, with gaps, delete exactly those records; depth and bytes follow the table", (t) => {
  const dir = tempDir(t);
  let store = open(t, dir);
  store.records.append(Array.from({ length: 30 }, (_, i) => props(i % 3 === 0 ? "p/A" : "p/Bee", i)));
  store.records.flush();
  const taken = takeAll(store, 0, 30);
  const acked = new Set([7, 3, 4, 5, 29, 0, 12, 13, 11, 20, 22]);
  for (const r of taken) if (acked.has(counts([r])[0]!)) store.records.ack(r.seq);
  store.records.flush();
  const live = store.records.stats();
  store.close();
  store = open(t, dir);
  const left = takeAll(store, 0, 30);
  assert.deepEqual(counts(left), Array.from({ length: 30 }, (_, i) => i).filter((i) => !acked.has(i)));
  const reopened = store.records.stats();
  assert.deepEqual([live.depth, live.bytes], [reopened.depth, reopened.bytes], "counted the same as the table sums them");
  assert.equal(reopened.depth, 30 - acked.size);
});
