/**
 * Crash safety of the record outbox: a child process appends records, takes some, acknowledges one and refuses two
 * (one of them for the last time), lets the batch commit, reports, and is killed with SIGKILL. The same file is the
 * child's script when FB_RECORDS_CRASH_DIR is set.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "../../src/ops/logger.js";
import { openStore } from "../../src/store/store.js";
import { runAndKill } from "../helpers/crash-child.js";

interface ChildReport {
  seqs: number[];
  acked: number;
  retried: number;
  refusedForGood: number;
}

const CHILD_ENV = "FB_RECORDS_CRASH_DIR";

async function child(dir: string): Promise<void> {
  const store = openStore(dir, { logger: createLogger("silent"), sync: "normal", records: { batchDelayMs: 5, settleDelayMs: 5 } });
  const now = Date.now();
  store.records.append(Array.from({ length: 10 }, (_, i) => ({ kind: "properties" as const, device: `p/dev${i % 2}`, time: now, values: [{ identifier: "n", value: i, time: now }] })));
  store.records.flush();
  const taken = store.records.take({ afterSeq: 0, limit: 4 }).records;
  store.records.ack(taken[0]!.seq);
  store.records.retry(taken[1]!.seq, 5); // attempts 1: stays
  store.records.retry(taken[2]!.seq, 1); // its last attempt: dropped
  // taken[3] stays in flight: pending again after the crash.
  await new Promise((r) => setTimeout(r, 50)); // the batch window passes: the running daemon's commit
  // Pending now: the refused one that stays and the six never taken.
  const seqs = store.records.take({ afterSeq: 0, limit: 100 }).records.map((r) => r.seq);
  const report: ChildReport = { seqs: [taken[3]!.seq, ...seqs].sort((a, b) => a - b), acked: taken[0]!.seq, retried: taken[1]!.seq, refusedForGood: taken[2]!.seq };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  setInterval(() => undefined, 1_000); // wait for the kill
}


const childDir = process.env[CHILD_ENV];
if (childDir) {
  await child(childDir);
} else {
  test("after kill -9: acknowledged and finally refused records are gone, a refusal's attempt count is kept, the rest is pending", async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-records-crash-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const report = await runAndKill<ChildReport>(t, fileURLToPath(import.meta.url), { [CHILD_ENV]: dir });
    const store = openStore(dir, { logger: createLogger("silent"), sync: "normal" });
    t.after(() => store.close());
    const found = store.records.take({ afterSeq: 0, limit: 100 }).records;
    assert.deepEqual(found.map((r) => r.seq), report.seqs);
    assert.equal(found.length, 8);
    assert.ok(!found.some((r) => r.seq === report.acked || r.seq === report.refusedForGood), "settled records stay settled");
    const attempts = new Map(found.map((r) => [r.seq, r.attempts]));
    assert.equal(attempts.get(report.retried), 1, "the refusal was written, not kept in memory");
    assert.equal([...attempts.values()].filter((n) => n > 0).length, 1);
  });
}
