import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { createLogger } from "../../src/ops/logger.js";
import { openStore } from "../../src/store/store.js";
import type { OutboxItem } from "../../src/store/outbox-types.js";
import { captureLogger } from "../helpers/log-capture.js";
import { storeOpener } from "../helpers/store.js";

const HOUR = 3_600_000;

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-outbox-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const open = storeOpener("normal");

function item(n: number, o: Partial<OutboxItem> = {}): OutboxItem {
  return {
    topic: `/sys/a1Prod/gw/thing/event/property/post`,
    payload: JSON.stringify({ id: String(n), version: "1.0", params: { v: { value: n, time: 1_700_000_000_000 + n } } }),
    msgId: String(n),
    devices: [],
    sampleTime: Date.now(),
    ...o,
  };
}

const ids = (entries: Array<{ msgId: string }>): string[] => entries.map((e) => e.msgId);

test("append, take, ack and release keep seq order; in-flight state does not survive a reopen", (t) => {
  const dir = tempDir(t);
  let store = openStore(dir, { logger: createLogger("silent"), sync: "full" });
  const ob = store.outbox;
  ob.append([item(1), item(2), item(3)]);
  ob.append([item(4), item(5)]);
  ob.flush();
  assert.equal(ob.stats().depth, 5);

  const first = ob.take({ limit: 2 });
  assert.deepEqual(ids(first.entries), ["1", "2"]);
  assert.ok(first.entries[0]!.seq < first.entries[1]!.seq);
  assert.deepEqual(first.entries[0]!.devices, []);
  assert.equal(first.entries[0]!.payload, item(1).payload);

  const rest = ob.take({ limit: 10 });
  assert.deepEqual(ids(rest.entries), ["3", "4", "5"], "entries in flight are not handed out twice");
  assert.equal(rest.exhausted, true);
  assert.equal(ob.stats().inFlight, 5);

  ob.release(first.entries[1]!.seq);
  ob.ack(first.entries[0]!.seq);
  ob.flush();
  assert.deepEqual(ids(ob.take({ limit: 10 }).entries), ["2"], "a released entry is pending again with its message id");
  const s = ob.stats();
  assert.equal(s.depth, 4);
  assert.equal(s.acked, 1);
  assert.equal(s.appended, 5);
  store.close();

  store = openStore(dir, { logger: createLogger("silent"), sync: "full" });
  t.after(() => store.close());
  const again = store.outbox.take({ limit: 10 });
  assert.deepEqual(ids(again.entries), ["2", "3", "4", "5"], "after a reopen everything stored is pending, in order");
});

test("take honours the cursor range and the accept filter, leaving skipped entries pending", (t) => {
  const store = open(t, tempDir(t));
  const ob = store.outbox;
  ob.append([
    item(1, { devices: ["a1/A"] }),
    item(2, { devices: ["a1/B"] }),
    item(3, { devices: ["a1/A"] }),
    item(4, { devices: ["a1/B", "a1/C"] }),
    item(5, { devices: ["a1/A"] }),
  ]);
  ob.flush();
  const all = ob.take({ limit: 0 });
  assert.equal(all.entries.length, 0);

  const onlyB = ob.take({ limit: 10, accept: (d) => d.includes("a1/B") });
  assert.deepEqual(ids(onlyB.entries), ["2", "4"]);
  assert.deepEqual(onlyB.entries[1]!.devices, ["a1/B", "a1/C"]);
  const seq3 = onlyB.entries[0]!.seq + 1;

  const ranged = ob.take({ limit: 10, afterSeq: seq3 - 1, maxSeq: seq3 + 2 });
  assert.deepEqual(ids(ranged.entries), ["3", "5"], "range (afterSeq, maxSeq] and skip of in-flight entry 4");
  assert.equal(ranged.exhausted, true);

  const scanCapped = ob.take({ limit: 10, scanLimit: 1 });
  assert.deepEqual(ids(scanCapped.entries), ["1"]);
  assert.equal(scanCapped.exhausted, false);
  assert.equal(scanCapped.lastSeq, scanCapped.entries[0]!.seq);
});

test("appends within the batch window share one commit; a full batch commits at once; flush forces it", async (t) => {
  const dir = tempDir(t);
  const store = open(t, dir, { outbox: { batchDelayMs: 30, maxBatch: 50 } });
  const reader = new BetterSqlite3(store.file, { readonly: true });
  t.after(() => reader.close());
  const count = (): number => (reader.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  let commits = 0;
  store.outbox.onAppended(() => commits++);

  for (let i = 1; i <= 10; i++) store.outbox.append([item(i)]);
  assert.equal(store.outbox.stats().pendingWrites, 10);
  assert.equal(count(), 0, "nothing is written before the window ends");
  await new Promise<void>((resolve) => {
    const off = store.outbox.onAppended(() => {
      off();
      resolve();
    });
  });
  assert.equal(count(), 10);
  assert.equal(commits, 1, "ten appends, one transaction");

  store.outbox.append(Array.from({ length: 50 }, (_, i) => item(100 + i)));
  assert.equal(store.outbox.stats().pendingWrites, 0, "a full batch is committed synchronously");
  assert.equal(count(), 60);

  store.outbox.append([item(999)]);
  store.outbox.flush();
  assert.equal(count(), 61);
  assert.equal(commits, 3);
});

test("the size limit drops the oldest entries (not those in flight), counted and logged once per episode", (t) => {
  const logs = captureLogger();
  const store = open(t, tempDir(t), { logger: logs.logger, outbox: { maxBytes: 10_000 } });
  const ob = store.outbox;
  const big = (n: number): OutboxItem => item(n, { topic: "t", payload: "x".repeat(999) }); // 1,000 bytes each
  ob.append([big(1), big(2)]);
  ob.flush();
  const held = ob.take({ limit: 1 }).entries[0]!; // entry 1 is in flight: must survive eviction
  for (let batch = 0; batch < 3; batch++) {
    ob.append(Array.from({ length: 6 }, (_, i) => big(3 + batch * 6 + i)));
    ob.flush();
  }
  // 20 entries appended, room for 10: entry 1 (in flight) and the newest 9 remain.
  let s = ob.stats();
  assert.equal(s.droppedForSize, 10);
  assert.equal(s.depth, 10);
  assert.ok(s.bytes <= 10_000);
  ob.release(held.seq);
  assert.deepEqual(ids(ob.take({ limit: 100 }).entries), ["1", ...Array.from({ length: 9 }, (_, i) => String(12 + i))]);

  const sizeLines = (): Array<Record<string, unknown>> => logs.lines().filter((l) => String(l.msg).includes("size limit"));
  assert.equal(sizeLines().length, 1, "one line for the start of the episode, none per dropped entry");
  assert.equal(sizeLines()[0]!.level, "warn");

  // Acknowledge down to under 90 % of the limit: the episode ends, with its count.
  assert.equal(ob.take({ limit: 100 }).entries.length, 0, "all ten are in flight");
  ob.ack(held.seq); // 9,000 bytes left: 90 % of the limit
  ob.flush();
  assert.equal(sizeLines().length, 2);
  assert.equal(sizeLines()[1]!.level, "info");
  assert.equal(sizeLines()[1]!.dropped, 10);

  // A new overflow is a new episode.
  ob.append(Array.from({ length: 3 }, (_, i) => big(50 + i)));
  ob.flush();
  s = ob.stats();
  assert.equal(s.droppedForSize, 12);
  assert.equal(sizeLines().length, 3);
});

test("entries older than maxAgeHours (by sample time) are dropped at open and by expire(), logged once per episode", (t) => {
  const dir = tempDir(t);
  const logs = captureLogger();
  let clock = Date.parse("2024-05-01T00:00:00Z");
  const now = (): number => clock;
  let store = openStore(dir, { logger: logs.logger, sync: "normal", now, outbox: { maxAgeHours: 24 } });
  store.outbox.append([
    item(1, { sampleTime: clock - 30 * HOUR }),
    item(2, { sampleTime: clock - 25 * HOUR }),
    item(3, { sampleTime: clock - 23 * HOUR }),
    item(7, { sampleTime: clock - 22 * HOUR }),
    item(4, { sampleTime: clock - 1 * HOUR }),
  ]);
  store.outbox.flush();
  assert.equal(store.outbox.stats().oldestAgeMs, 30 * HOUR);
  assert.equal(store.outbox.expire(), 2);
  let s = store.outbox.stats();
  assert.equal(s.droppedForAge, 2);
  assert.equal(s.oldestAgeMs, 23 * HOUR);
  const ageLines = (): Array<Record<string, unknown>> => logs.lines().filter((l) => String(l.msg).includes("age limit"));
  assert.equal(ageLines().length, 1, "episode started; the oldest left (23 h) is still near the limit");
  assert.equal(ageLines()[0]!.level, "warn");

  // Steady state while offline: entries keep ageing out on each pass; still the same episode.
  clock += 1.5 * HOUR; // entry 3 is 24.5 h old, entry 7 23.5 h
  assert.equal(store.outbox.expire(), 1);
  store.outbox.append([item(5, { sampleTime: clock - 24.5 * HOUR }), item(6, { sampleTime: clock - 22 * HOUR })]);
  store.outbox.flush();
  assert.equal(store.outbox.expire(), 1);
  assert.equal(ageLines().length, 1);

  clock += 3 * HOUR; // entries 7 and 6 are past 24 h, entry 4 is 5.5 h old
  assert.equal(store.outbox.expire(), 2);
  assert.deepEqual(ids(store.outbox.take({ limit: 10 }).entries), ["4"]);
  assert.equal(ageLines().length, 2, "the oldest left is young: the episode ends");
  assert.equal(ageLines()[1]!.level, "info");
  assert.equal(ageLines()[1]!.dropped, 6);
  s = store.outbox.stats();
  assert.equal(s.droppedForAge, 6);
  store.close();

  clock += 24 * HOUR;
  store = openStore(dir, { logger: logs.logger, sync: "normal", now, outbox: { maxAgeHours: 24 } });
  t.after(() => store.close());
  assert.equal(store.outbox.stats().depth, 0, "expired while the gateway was off: dropped at open");
  assert.equal(store.outbox.stats().droppedForAge, 1);
});

test("a full disk stops appending without throwing, counts the drops, logs once and resumes when writes work", (t) => {
  const logs = captureLogger();
  let clock = 1_000_000;
  const store = open(t, tempDir(t), { logger: logs.logger, now: () => clock, outbox: { writeRetryMs: 5_000 } });
  const ob = store.outbox;
  ob.append(Array.from({ length: 20 }, (_, i) => item(i + 1)));
  ob.flush();
  const inFlight = ob.take({ limit: 2 }).entries;

  // SQLite reports SQLITE_FULL once the file may not grow: the same path a full disk takes.
  const pages = Number(store.db.pragma("page_count", { simple: true }));
  store.db.pragma(`max_page_count = ${pages}`);
  const bulky = (n: number): OutboxItem => item(n, { payload: "y".repeat(20_000) });
  ob.append([bulky(100), bulky(101)]);
  assert.doesNotThrow(() => ob.flush());
  let s = ob.stats();
  assert.equal(s.writable, false);
  assert.equal(s.droppedWriteFailed, 2);

  ob.append([bulky(102)]);
  ob.append([bulky(103), bulky(104)]);
  s = ob.stats();
  assert.equal(s.droppedWriteFailed, 5, "while writes fail, new entries are dropped and counted");
  assert.equal(s.pendingWrites, 0);
  ob.ack(inFlight[0]!.seq); // deletes still go through when they fit
  ob.flush();

  const failLines = (): Array<Record<string, unknown>> => logs.lines().filter((l) => String(l.msg).includes("cannot write"));
  assert.equal(failLines().length, 1);
  assert.equal(failLines()[0]!.level, "error");
  assert.equal((failLines()[0]!.reason as { code: string }).code, "SQLITE_FULL");

  store.db.pragma("max_page_count = 1073741823");
  clock += 5_001;
  ob.append([item(200)]);
  ob.flush();
  s = ob.stats();
  assert.equal(s.writable, true);
  assert.equal(s.droppedWriteFailed, 5);
  assert.equal(failLines().length, 1);
  const resumed = logs.lines().filter((l) => l.msg === "outbox writes work again");
  assert.equal(resumed.length, 1);
  assert.equal(resumed[0]!.dropped, 5);
  ob.release(inFlight[1]!.seq);
  const left = ids(ob.take({ limit: 100 }).entries);
  assert.deepEqual(left, [...Array.from({ length: 19 }, (_, i) => String(i + 2)), "200"], "stored entries are intact");
});

test("a read-only database is handled like a full disk", (t) => {
  const logs = captureLogger();
  let clock = 5_000_000;
  const store = open(t, tempDir(t), { logger: logs.logger, now: () => clock, outbox: { writeRetryMs: 1_000 } });
  store.db.pragma("query_only = 1");
  store.outbox.append([item(1), item(2)]);
  store.outbox.flush();
  assert.equal(store.outbox.stats().droppedWriteFailed, 2);
  const line = logs.lines().find((l) => String(l.msg).includes("cannot write"));
  assert.equal((line?.reason as { code: string } | undefined)?.code, "SQLITE_READONLY");
  store.db.pragma("query_only = 0");
  clock += 1_001;
  store.outbox.append([item(3)]);
  store.outbox.flush();
  assert.deepEqual(ids(store.outbox.take({ limit: 10 }).entries), ["3"]);
  assert.equal(store.outbox.stats().writable, true);
});

test("a malformed item is refused by append and does not affect the other entries", (t) => {
  const store = open(t, tempDir(t));
  store.outbox.append([item(1)]);
  assert.throws(() => store.outbox.append([item(2), item(3, { sampleTime: Number.NaN })]), TypeError);
  assert.throws(() => store.outbox.append([item(4, { topic: "" })]), TypeError);
  store.outbox.append([item(5)]);
  store.outbox.flush();
  assert.deepEqual(ids(store.outbox.take({ limit: 10 }).entries), ["1", "5"]);
  assert.equal(store.outbox.stats().writable, true);
});

test("append after close throws; close commits queued entries", (t) => {
  const dir = tempDir(t);
  const store = openStore(dir, { logger: createLogger("silent"), sync: "full", outbox: { batchDelayMs: 10_000 } });
  store.outbox.append([item(1), item(2)]);
  store.close();
  assert.throws(() => store.outbox.append([item(3)]), /closed/);
  const again = open(t, dir);
  assert.deepEqual(ids(again.outbox.take({ limit: 10 }).entries), ["1", "2"]);
});
