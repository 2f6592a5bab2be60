/**
 * Crash safety: a child process appends and takes records, reports what it flushed, and is killed with SIGKILL.
 * The same file is the child's script when FB_STORE_CRASH_DIR is set. A record is named by its value `n`.
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
import type { NewRecord, UplinkRecord } from "../../src/cloud/platform.js";

interface ChildReport {
  flushed: string[];
  acked: string[];
  inFlight: string[];
  lastMessageId: string;
}

const CHILD_ENV = "FB_STORE_CRASH_DIR";

const nameOf = (r: UplinkRecord): string => (r.kind === "properties" ? String(r.values[0]!.value) : "?");

async function child(dir: string, sync: "full" | "normal"): Promise<void> {
  const store = openStore(dir, { logger: createLogger("silent"), sync });
  const flushed: string[] = [];
  let lastMessageId = "";
  for (let batch = 0; batch < 20; batch++) {
    const items: NewRecord[] = Array.from({ length: 50 }, (_, i) => {
      lastMessageId = store.messageIds.next();
      const n = batch * 50 + i;
      return { device: `a1/dev${i % 3}`, kind: "properties", time: Date.now(), values: [{ identifier: "n", value: n, time: Date.now() }] };
    });
    store.records.append(items);
    flushed.push(...items.map((it) => (it.kind === "properties" ? String(it.values[0]!.value) : "?")));
    // Let the batch timer run now and then, as appends arrive in a running daemon.
    if (batch % 5 === 4) await new Promise((r) => setTimeout(r, 10));
  }
  store.records.flush();
  const taken = store.records.take({ afterSeq: 0, limit: 10 }).records;
  for (const e of taken.slice(0, 4)) store.records.ack(e.seq);
  store.records.flush();
  // Records queued but never flushed: the parent must not rely on them either way.
  store.records.append([{ device: "a1/dev0", kind: "properties", time: Date.now(), values: [{ identifier: "n", value: -1, time: Date.now() }] }]);
  const report: ChildReport = {
    flushed,
    acked: taken.slice(0, 4).map(nameOf),
    inFlight: taken.slice(4).map(nameOf),
    lastMessageId: store.messageIds.next(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  setInterval(() => undefined, 1_000); // wait for the kill
}


function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-crash-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const childDir = process.env[CHILD_ENV];
if (childDir) {
  await child(childDir, process.env.FB_STORE_CRASH_SYNC === "normal" ? "normal" : "full");
} else {
  for (const sync of ["full", "normal"] as const) {
    test(`after kill -9 (sync ${sync}) every flushed record is there in order, in-flight ones pending with their values`, async (t) => {
      const dir = tempDir(t);
      const report = await runAndKill<ChildReport>(t, fileURLToPath(import.meta.url), { [CHILD_ENV]: dir, FB_STORE_CRASH_SYNC: sync });
      assert.equal(report.flushed.length, 1_000);
      assert.equal(report.inFlight.length, 6);

      const store = openStore(dir, { logger: createLogger("silent"), sync });
      t.after(() => store.close());
      const acked = new Set(report.acked);
      const expected = report.flushed.filter((id) => !acked.has(id));
      const found = store.records.take({ afterSeq: 0, limit: 5_000, scanLimit: 5_000 }).records;
      const foundIds = found.map(nameOf);
      // The one unflushed entry may or may not have made it; everything flushed must have, in order.
      assert.deepEqual(foundIds.slice(0, expected.length), expected);
      assert.ok(foundIds.length <= expected.length + 1);
      for (const id of report.inFlight) assert.ok(foundIds.includes(id), `in-flight entry ${id} is pending again`);
      for (let i = 1; i < found.length; i++) assert.ok(found[i]!.seq > found[i - 1]!.seq);
      const sample = found.find((e) => nameOf(e) === report.inFlight[0]);
      assert.ok(sample && sample.kind === "properties" && sample.device.startsWith("a1/dev"), "record kept with its device and values");

      const next = BigInt(store.messageIds.next());
      assert.ok(next > BigInt(report.lastMessageId), `id ${next} after the child's last ${report.lastMessageId}`);
    });
  }
}
