import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import type { UplinkRecord } from "../../src/cloud/platform.js";
import { openStore, DB_FILE_NAME } from "../../src/store/store.js";
import type { NewRecord } from "../../src/store/records.js";
import { captureLogger } from "../helpers/log-capture.js";
import { storeOpener } from "../helpers/store.js";

const open = storeOpener("normal");
const T0 = 1_760_000_000_000;

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-records-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function props(device: string, n: number, time = Date.now()): NewRecord {
  return { kind: "properties", device, time, values: [{ identifier: "count", value: n, time }] };
}

const counts = (records: UplinkRecord[]): number[] => records.map((r) => (r.kind === "properties" ? (r.values[0]!.value as number) : -1));

test("records keep their kind, values and order; take honours cursor, range, device and accept", (t) => {
  const store = open(t, tempDir(t));
  const ob = store.records;
  const seen: Array<Set<string>> = [];
  ob.onAppended((d) => seen.push(d));
  ob.append([
    { kind: "properties", device: "p/A", time: T0, values: [{ identifier: "v", value: 1.5, time: T0 }, { identifier: "s", value: { a: [1, "x"] }, time: T0 + 1 }] },
    { kind: "event", device: "p/B", time: T0 + 2, identifier: "alarm", outputs: { level: 3, text: "hot" } },
    { kind: "wire", device: "p/A", time: T0 + 3, platform: "aliyun", topic: "/sys/p/A/thing/event/property/post", payload: '{"id":"7"}', devices: ["p/A", "p/C"] },
    props("p/B", 4, T0 + 4),
    props("p/A", 5, T0 + 5),
  ]);
  ob.flush();
  assert.deepEqual(seen, [new Set(["p/A", "p/B"])]);
  const first = ob.take({ afterSeq: 0, limit: 3 });
  assert.equal(first.records.length, 3);
  const [a, b, c] = first.records as [UplinkRecord, UplinkRecord, UplinkRecord];
  assert.deepEqual(a, { seq: a.seq, device: "p/A", time: T0, attempts: 0, kind: "properties", values: [{ identifier: "v", value: 1.5, time: T0 }, { identifier: "s", value: { a: [1, "x"] }, time: T0 + 1 }] });
  assert.deepEqual(b, { seq: a.seq + 1, device: "p/B", time: T0 + 2, attempts: 0, kind: "event", identifier: "alarm", outputs: { level: 3, text: "hot" } });
  assert.deepEqual(c, { seq: a.seq + 2, device: "p/A", time: T0 + 3, attempts: 0, kind: "wire", platform: "aliyun", topic: "/sys/p/A/thing/event/property/post", payload: '{"id":"7"}', devices: ["p/A", "p/C"] });
  assert.equal(first.exhausted, false);

  const onlyA = ob.take({ afterSeq: 0, limit: 10, device: "p/A" });
  assert.deepEqual(counts(onlyA.records), [5], "in-flight records are not handed out twice; device filter");
  assert.equal(onlyA.exhausted, true);
  const rest = ob.take({ afterSeq: 0, limit: 10, accept: (d) => d !== "p/B" });
  assert.deepEqual(rest.records, [], "p/B's record skipped by accept, the others in flight");
  ob.release(b.seq);
  const ranged = ob.take({ afterSeq: a.seq, maxSeq: a.seq + 3, limit: 10 });
  assert.deepEqual(ranged.records.map((r) => r.seq), [a.seq + 1, a.seq + 3], "released record pending again; range (afterSeq, maxSeq]");
  assert.equal(ranged.lastSeq, a.seq + 3);
  assert.equal(ranged.exhausted, true);
  const capped = ob.take({ afterSeq: 0, limit: 10, scanLimit: 2 });
  assert.deepEqual(capped, { records: [], lastSeq: a.seq + 1, exhausted: false });

  ob.ack(a.seq);
  ob.ack(c.seq);
  ob.flush();
  const s = ob.stats();
  assert.equal(s.depth, 3);
  assert.equal(s.acked, 2);
  assert.equal(s.appended, 5);
  assert.equal(s.inFlight, 3);
  assert.ok(s.bytes > 0, "bytes are counted");
});

test("a malformed record throws before anything is queued", (t) => {
  const store = open(t, tempDir(t));
  const bad = [props("p/A", 1), { kind: "properties", device: "p/A", time: 1, values: [] } as NewRecord];
  assert.throws(() => store.records.append(bad), /invalid uplink record \(device p\/A, kind properties\): values/);
  assert.throws(() => store.records.append([{ kind: "event", device: "", time: 1, identifier: "x", outputs: {} }]), /device must be/);
  assert.throws(() => store.records.append([props("p/A", NaN, 1)]), /value count is missing or not a JSON value/);
  assert.throws(() => store.records.append([{ kind: "event", device: "p/A", time: 1, identifier: "x", outputs: { a: [1, Infinity] } }]), /finite numbers/);
  assert.throws(() => store.records.append([{ kind: "wire", device: "p/A", time: 1, platform: "mqtt" as "aliyun", topic: "/t", payload: "", devices: [] }]), /unknown platform/);
  assert.equal(store.records.stats().pendingWrites, 0);
});

test("a retry is written to disk with the next commit and survives a crash; the record stays", async (t) => {
  const dir = tempDir(t);
  let store = openStore(dir, { logger: captureLogger().logger, sync: "full", records: { batchDelayMs: 1, settleDelayMs: 1 } });
  store.records.append([props("p/A", 1), props("p/A", 2)]);
  store.records.flush();
  const [r1] = store.records.take({ afterSeq: 0, limit: 1 }).records;
  assert.equal(store.records.retry(r1!.seq, 5), true);
  await new Promise((r) => setTimeout(r, 30));
  // Another connection sees the count before any close: it is not held in memory only.
  const reader = new BetterSqlite3(path.join(dir, DB_FILE_NAME), { readonly: true });
  const row = reader.prepare("SELECT attempts FROM records WHERE seq = ?").get(r1!.seq) as { attempts: number };
  reader.close();
  assert.equal(row.attempts, 1);
  const again = store.records.take({ afterSeq: 0, limit: 1 }).records[0]!;
  assert.equal(again.seq, r1!.seq);
  assert.equal(again.attempts, 1, "pending again with its attempts");
  assert.equal(store.records.retry(again.seq, 5), true);
  store.close(); // no ack: as after a crash, the record must come back
  store = open(t, dir);
  const after = store.records.take({ afterSeq: 0, limit: 10 }).records;
  assert.deepEqual(counts(after), [1, 2]);
  assert.equal(after[0]!.attempts, 2);
  assert.equal(after[1]!.attempts, 0);
});

test("refusals up to maxAttempts, then the record is dropped, counted and logged once per episode", (t) => {
  const log = captureLogger();
  const store = open(t, tempDir(t), { logger: log.logger });
  const ob = store.records;
  ob.append([props("p/A", 1), props("p/A", 2), props("p/B", 3)]);
  ob.flush();
  const refuse = (): boolean => ob.retry(ob.take({ afterSeq: 0, limit: 1, device: "p/A" }).records[0]!.seq, 3);
  assert.equal(refuse(), true);
  assert.equal(refuse(), true);
  assert.equal(refuse(), false, "third refusal of a record with maxAttempts 3: dropped");
  for (let i = 0; i < 3; i++) refuse(); // the second record goes the same way
  ob.flush();
  assert.equal(ob.stats().droppedRefused, 2);
  assert.equal(ob.stats().depth, 1);
  const starts = log.lines().filter((l) => l["msg"] === "the platform kept refusing a record: dropped it after its last attempt");
  assert.equal(starts.length, 1, "one line for the episode");
  assert.equal(starts[0]!["device"], "p/A");
  const [b] = ob.take({ afterSeq: 0, limit: 1 }).records;
  ob.ack(b!.seq);
  assert.equal(log.find("records are accepted again; dropped after repeated refusals meanwhile")?.["dropped"], 2);
});

test("reject drops and counts, logged once per episode with the reason", (t) => {
  const log = captureLogger();
  const store = open(t, tempDir(t), { logger: log.logger });
  const ob = store.records;
  ob.append([props("p/A", 1), props("p/A", 2)]);
  ob.flush();
  for (const r of ob.take({ afterSeq: 0, limit: 2 }).records) ob.reject(r.seq, "identifier count is not in the thing model");
  ob.flush();
  assert.equal(ob.stats().droppedRejected, 2);
  assert.equal(ob.stats().depth, 0);
  const lines = log.lines().filter((l) => l["msg"] === "the platform rejected a record for good: dropped it");
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!["reason"], "identifier count is not in the thing model");
});

test("expired records are dropped and counted apart from rejections, without a rejection warning", (t) => {
  const log = captureLogger();
  const store = open(t, tempDir(t), { logger: log.logger });
  const ob = store.records;
  ob.append([props("p/A", 1), props("p/A", 2)]);
  ob.flush();
  const [r1] = ob.take({ afterSeq: 0, limit: 1 }).records;
  ob.expired(r1!.seq);
  ob.flush();
  assert.deepEqual([ob.stats().droppedExpired, ob.stats().droppedRejected, ob.stats().depth], [1, 0, 1]);
  assert.equal(log.lines().filter((l) => String(l["msg"]).includes("rejected")).length, 0);
});

test("dropDevice drops stored, queued and (when they settle) in-flight records of a removed device only", (t) => {
  const store = open(t, tempDir(t), { records: { batchDelayMs: 1_000 } });
  const ob = store.records;
  ob.append([props("p/A", 1), props("p/A", 2), props("p/A", 3), props("p/B", 4)]);
  ob.flush();
  const [a1, a2] = ob.take({ afterSeq: 0, limit: 2 }).records;
  ob.append([props("p/A", 5)]); // queued, not committed
  assert.equal(ob.dropDevice("p/A"), 2, "the stored pending one and the queued one");
  ob.release(a1!.seq); // not delivered: dropped now
  ob.ack(a2!.seq); // delivered after all: acknowledged
  ob.flush();
  const s = ob.stats();
  assert.equal(s.droppedRemoved, 3);
  assert.equal(s.acked, 1);
  assert.equal(s.depth, 1);
  assert.deepEqual(counts(ob.take({ afterSeq: 0, limit: 10 }).records), [4]);
});

test("backlog accounting: backlogByDevice, hasWaiting and countUpTo", (t) => {
  const store = open(t, tempDir(t));
  const ob = store.records;
  ob.append([props("p/A", 1), props("p/B", 2), props("p/A", 3)]);
  ob.flush();
  const boundary = ob.lastSeq;
  ob.append([props("p/C", 4)]);
  ob.flush();
  assert.deepEqual(ob.backlogByDevice(boundary), new Map([["p/A", 2], ["p/B", 1]]));
  assert.equal(ob.countUpTo(boundary), 3);
  assert.equal(ob.countUpTo(boundary, "p/A"), 2);
  assert.equal(ob.hasWaiting("p/A", boundary), true);
  assert.equal(ob.hasWaiting("p/C", boundary), false, "C's record is past the boundary");
  const taken = ob.take({ afterSeq: 0, limit: 10, device: "p/A" }).records;
  assert.equal(ob.hasWaiting("p/A", boundary), false, "in flight is not waiting");
  ob.ack(taken[0]!.seq);
  assert.deepEqual(ob.backlogByDevice(boundary), new Map([["p/A", 1], ["p/B", 1]]), "an acknowledged record no longer counts");
});

test("size and age limits drop the oldest records that are not in flight", (t) => {
  let now = T0;
  const store = open(t, tempDir(t), { now: () => now, records: { maxBytes: 200, maxAgeHours: 1 } });
  const ob = store.records;
  ob.append([props("p/A", 1, T0)]);
  ob.flush();
  const held = ob.take({ afterSeq: 0, limit: 1 }).records[0]!;
  for (let i = 2; i <= 10; i++) ob.append([props("p/A", i, T0)]);
  ob.flush();
  const s = ob.stats();
  assert.ok(s.droppedForSize > 0, `dropped for size: ${s.droppedForSize}`);
  assert.ok(s.bytes <= 200, `bytes ${s.bytes} within the limit`);
  ob.release(held.seq);
  assert.equal(counts(ob.take({ afterSeq: 0, limit: 1 }).records)[0], 1, "the record in flight was kept");
  now += 2 * 3_600_000;
  assert.equal(ob.expire(), s.depth - 1);
  assert.equal(ob.stats().droppedForAge, s.depth - 1);
});

test("schema 1 database of the previous release: its waiting messages become wire records, the old table is emptied", (t) => {
  const dir = tempDir(t);
  const fixtures = path.join(import.meta.dirname, "../fixtures/store");
  fs.copyFileSync(path.join(fixtures, "v1-outbox.db"), path.join(dir, DB_FILE_NAME));
  const expected = JSON.parse(fs.readFileSync(path.join(fixtures, "v1-outbox.expected.json"), "utf8")) as Array<{ topic: string; payload: string; devices: string[]; sampleTime: number }>;
  assert.equal(expected.length, 3);
  // The fixture's samples are from T0; a clock far later would apply the age limit to them.
  const store = open(t, dir, { now: () => T0 + 60_000 });
  assert.equal(store.db.pragma("user_version", { simple: true }), 2);
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number }).n, 0, "nothing left in the old table");
  const got = store.records.take({ afterSeq: 0, limit: 10 });
  assert.equal(got.exhausted, true);
  assert.deepEqual(
    got.records.map((r) => (r.kind === "wire" ? { platform: r.platform, device: r.device, topic: r.topic, payload: r.payload, devices: r.devices, time: r.time, attempts: r.attempts } : r)),
    expected.map((e) => ({ platform: "aliyun", device: e.devices[0], topic: e.topic, payload: e.payload, devices: e.devices, time: e.sampleTime, attempts: 0 })),
  );
  assert.deepEqual(got.records.map((r) => r.seq), [1, 2, 3], "they keep their order and seq");
  assert.equal(store.records.stats().depth, 3);
  store.records.append([props("p/A", 1)]);
  store.records.flush();
  assert.equal(store.records.lastSeq, 4, "new records come after them");
});

test("a full disk drops new records (counted, logged once); a pending attempt count is written once writes work", (t) => {
  const log = captureLogger();
  let clock = T0;
  const store = open(t, tempDir(t), { logger: log.logger, now: () => clock, records: { writeRetryMs: 5_000 } });
  const ob = store.records;
  ob.append([props("p/A", 1, T0), props("p/A", 2, T0)]);
  ob.flush();
  const [r1] = ob.take({ afterSeq: 0, limit: 1 }).records;
  // SQLite reports SQLITE_FULL once the file may not grow: the same path a full disk takes.
  store.db.pragma(`max_page_count = ${Number(store.db.pragma("page_count", { simple: true }))}`);
  const bulky = (n: number): NewRecord => ({ kind: "event", device: "p/A", time: T0, identifier: "blob", outputs: { data: "y".repeat(20_000 + n) } });
  ob.append([bulky(1), bulky(2)]);
  assert.equal(ob.retry(r1!.seq, 5), true);
  assert.doesNotThrow(() => ob.flush());
  ob.append([bulky(3)]);
  let s = ob.stats();
  assert.equal(s.writable, false);
  assert.equal(s.droppedWriteFailed, 3);
  assert.equal(log.lines().filter((l) => String(l["msg"]).includes("cannot write")).length, 1);
  assert.equal(ob.take({ afterSeq: 0, limit: 1 }).records[0]!.attempts, 1, "the count waits in memory meanwhile");
  ob.release(r1!.seq);

  store.db.pragma("max_page_count = 1073741823");
  clock += 5_001;
  ob.append([props("p/A", 3, T0)]);
  ob.flush();
  s = ob.stats();
  assert.equal(s.writable, true);
  assert.equal(s.depth, 3);
  const row = store.db.prepare("SELECT attempts FROM records WHERE seq = ?").get(r1!.seq) as { attempts: number };
  assert.equal(row.attempts, 1, "written with the first commit that works");
});

test("a row this build cannot read (damaged, or a kind of a newer build) is dropped as rejected and does not block the rest", (t) => {
  const log = captureLogger();
  const dir = tempDir(t);
  const first = openStore(dir, { logger: log.logger, sync: "normal" });
  first.db.prepare("INSERT INTO records (device, kind, sample_time, body, created_at, bytes) VALUES ('p/A', 'hologram', ?, '{}', ?, 10)").run(Date.now(), Date.now());
  first.db.prepare("INSERT INTO records (device, kind, sample_time, body, created_at, bytes) VALUES ('p/A', 'properties', ?, '[[', ?, 10)").run(Date.now(), Date.now());
  first.close();
  const store = open(t, dir, { logger: log.logger });
  store.records.append([props("p/A", 1)]);
  store.records.flush();
  const got = store.records.take({ afterSeq: 0, limit: 10 });
  assert.deepEqual(counts(got.records), [1]);
  store.records.flush();
  assert.equal(store.records.stats().droppedRejected, 2);
  assert.equal(store.records.stats().depth, 1);
  assert.match(String(log.find("the platform rejected a record for good: dropped it")?.["reason"]), /unreadable hologram body/);
});

test("acknowledgements alone are committed within settleDelayMs; an append brings them forward", async (t) => {
  const dir = tempDir(t);
  const store = openStore(dir, { logger: captureLogger().logger, sync: "full", records: { batchDelayMs: 1, settleDelayMs: 400 } });
  t.after(() => store.close());
  store.records.append([props("p/A", 1), props("p/A", 2), props("p/A", 3)]);
  store.records.flush();
  const stored = (): number => {
    const reader = new BetterSqlite3(path.join(dir, DB_FILE_NAME), { readonly: true });
    try {
      return (reader.prepare("SELECT count(*) AS n FROM records").get() as { n: number }).n;
    } finally {
      reader.close();
    }
  };
  const [r1, r2] = store.records.take({ afterSeq: 0, limit: 2 }).records;
  store.records.ack(r1!.seq);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stored(), 3, "a lone acknowledgement waits for the settle window");
  assert.equal(store.records.stats().depth, 2, "but no longer counts");
  store.records.append([props("p/A", 4)]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stored(), 3, "the append and the delete went in one commit (3 - 1 + 1)");
  assert.equal(store.records.take({ afterSeq: 0, limit: 5 }).records.map((r) => r.seq).includes(r1!.seq), false);
  store.records.ack(r2!.seq);
  const deadline = Date.now() + 2_000;
  while (stored() !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  assert.equal(stored(), 2, "the lone acknowledgement is committed once the window has passed");
});
