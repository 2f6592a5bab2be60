import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { createLogger } from "../../src/ops/logger.js";
import { openStore } from "../../src/store/store.js";
import { SCHEMA_VERSION } from "../../src/store/migrations.js";
import { captureLogger, type LogCapture } from "../helpers/log-capture.js";
import { storeOpener } from "../helpers/store.js";
import type { NewRecord, UplinkRecord } from "../../src/cloud/platform.js";

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-store-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const open = storeOpener("full");

const entry = (n: number, text = ""): NewRecord => ({ device: "pk/dev", kind: "properties", time: Date.now(), values: [{ identifier: "n", value: n, time: Date.now() }, ...(text ? [{ identifier: "t", value: text, time: Date.now() }] : [])] });
const valueOf = (r: UplinkRecord) => (r.kind === "properties" ? r.values[0]!.value : undefined);

test("openStore creates the data dir and a WAL database with the current schema", (t) => {
  const dir = path.join(tempDir(t), "nested", "data");
  const store = open(t, dir, { sync: "normal" });
  assert.equal(store.file, path.join(dir, "fieldbridge.db"));
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(store.file).mode & 0o777, 0o600);
  assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(store.db.pragma("synchronous", { simple: true }), 1, "NORMAL");
  assert.equal(store.db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  const full = open(t, tempDir(t), { sync: "full" });
  assert.equal(full.db.pragma("synchronous", { simple: true }), 2, "FULL");
});

test("message ids are decimal strings, strictly increasing, also across reopen and block boundaries", (t) => {
  const dir = tempDir(t);
  const seen: bigint[] = [];
  for (let run = 0; run < 3; run++) {
    const store = openStore(dir, { logger: createLogger("silent"), sync: "normal", messageIdBlock: 7 });
    for (let i = 0; i < 20; i++) {
      const id = store.messageIds.next();
      assert.match(id, /^[0-9]+$/);
      seen.push(BigInt(id));
    }
    store.close();
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `id ${seen[i]} after ${seen[i - 1]}`);
  // No per-id write: the persisted mark moves by blocks only.
  const db = new BetterSqlite3(path.join(dir, "fieldbridge.db"), { readonly: true });
  t.after(() => db.close());
  const hw = (db.prepare("SELECT high_water AS hw FROM sequences WHERE name = 'message-id'").get() as { hw: number }).hw;
  assert.ok(hw >= Number(seen.at(-1)!), "the mark is never behind an issued id");
  assert.equal(hw % 7, 0);
});

test("secrets are stored per device, listed by name only, and never logged", (t) => {
  const logs = captureLogger();
  const dir = tempDir(t);
  let store = open(t, dir, { logger: logs.logger, sync: "normal" });
  const secret = "Sup3r-Secret-Value-0123456789abcdef";
  assert.equal(store.secrets.get("a1Sub", "meter-01"), undefined);
  store.secrets.set("a1Sub", "meter-01", secret);
  store.secrets.set("a1Sub", "meter-02", "other");
  store.secrets.set("a1Sub", "meter-02", "rotated");
  assert.equal(store.secrets.get("a1Sub", "meter-01"), secret);
  assert.equal(store.secrets.get("a1Sub", "meter-02"), "rotated");
  assert.deepEqual(store.secrets.list(), [
    { productKey: "a1Sub", deviceName: "meter-01" },
    { productKey: "a1Sub", deviceName: "meter-02" },
  ]);
  assert.equal(JSON.stringify({ secrets: store.secrets }), '{"secrets":"[SecretStore]"}');
  assert.equal(store.secrets.delete("a1Sub", "meter-02"), true);
  assert.equal(store.secrets.delete("a1Sub", "meter-02"), false);
  store.close();
  store = open(t, dir, { logger: logs.logger });
  assert.equal(store.secrets.get("a1Sub", "meter-01"), secret, "survives a reopen");

  // A failing write names the device, not the secret.
  store.db.pragma("query_only = 1");
  assert.throws(
    () => store.secrets.set("a1Sub", "meter-03", secret),
    (err: Error) => err.message.includes("a1Sub/meter-03") && !err.message.includes(secret),
  );
  store.db.pragma("query_only = 0");
  assert.ok(!logs.text().includes(secret));
});

test("the key/value store round-trips JSON values and lists keys by prefix", (t) => {
  const dir = tempDir(t);
  let store = open(t, dir);
  store.kv.set("subdev/a1/m1", { state: "online", since: 5 });
  store.kv.set("subdev/a1/m2", ["x", 1, null]);
  store.kv.set("subdev_x", 1);
  store.kv.set("config.version", "v3");
  assert.deepEqual(store.kv.get("subdev/a1/m1"), { state: "online", since: 5 });
  assert.deepEqual(store.kv.keys("subdev/"), ["subdev/a1/m1", "subdev/a1/m2"]);
  store.kv.set("subdev/a1/m2", undefined);
  assert.equal(store.kv.get("subdev/a1/m2"), undefined);
  assert.equal(store.kv.delete("config.version"), true);
  store.close();
  store = open(t, dir);
  assert.deepEqual(store.kv.keys(), ["subdev/a1/m1", "subdev_x"]);
});

function assertMovedAside(dir: string, logs: LogCapture, original?: Buffer): string {
  const aside = fs.readdirSync(dir).filter((f) => /^fieldbridge\.db\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/.test(f));
  assert.equal(aside.length, 1, `one moved-aside file in ${fs.readdirSync(dir).join(", ")}`);
  if (original) assert.deepEqual(fs.readFileSync(path.join(dir, aside[0]!)), original, "the damaged file is kept as it was");
  const errors = logs.lines().filter((l) => l.level === "error");
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]!.msg), /moved it aside/);
  assert.equal(errors[0]!.movedTo, path.join(dir, aside[0]!));
  return path.join(dir, aside[0]!);
}

test("a file of garbage is moved aside (with its -wal/-shm), logged once, and a fresh store works", (t) => {
  const dir = tempDir(t);
  let store = openStore(dir, { logger: createLogger("silent"), sync: "full" });
  store.records.append([entry(1)]);
  store.close();
  const file = path.join(dir, "fieldbridge.db");
  const garbage = Buffer.alloc(64 * 1024, 0x5a);
  fs.writeFileSync(file, garbage);
  fs.writeFileSync(`${file}-wal`, "not a wal");

  const logs = captureLogger();
  store = open(t, dir, { logger: logs.logger });
  assertMovedAside(dir, logs, garbage);
  const side = fs.readdirSync(dir).filter((f) => f.endsWith("-wal") && f.includes("corrupt"));
  assert.equal(side.length, 1, "its -wal moved along");
  assert.equal(fs.readFileSync(path.join(dir, side[0]!), "utf8"), "not a wal");
  assert.equal(store.records.stats().depth, 0);
  store.records.append([entry(2)]);
  store.records.flush();
  assert.deepEqual(store.records.take({ afterSeq: 0, limit: 5 }).records.map(valueOf), [2]);
  assert.match(store.messageIds.next(), /^[0-9]+$/);
});

test("a malformed image that fails quick_check is moved aside too", (t) => {
  const dir = tempDir(t);
  let store = openStore(dir, { logger: createLogger("silent"), sync: "full" });
  store.records.append(Array.from({ length: 3_000 }, (_, i) => entry(i, "p".repeat(300))));
  store.close(); // the WAL is checkpointed into the file on close
  const file = path.join(dir, "fieldbridge.db");
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, Buffer.alloc(64 * 1024, 0x33), 0, 64 * 1024, 8 * 4096); // valid header, wrecked b-tree pages
  fs.closeSync(fd);
  const damaged = fs.readFileSync(file);

  const logs = captureLogger();
  store = open(t, dir, { logger: logs.logger });
  assertMovedAside(dir, logs, damaged);
  const reason = logs.lines().find((l) => l.level === "error")!.reason as { message: string };
  assert.match(reason.message, /quick_check|malformed/);
  store.records.append([entry(1)]);
  store.records.flush();
  assert.equal(store.records.stats().depth, 1);
});

test("a database from a newer build is used as is when compatible", (t) => {
  const dir = tempDir(t);
  let store = openStore(dir, { logger: createLogger("silent"), sync: "full" });
  store.secrets.set("a1", "d1", "s1");
  store.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  store.close();
  const logs = captureLogger();
  store = open(t, dir, { logger: logs.logger });
  assert.equal(store.secrets.get("a1", "d1"), "s1", "kept, not moved aside");
  assert.equal(logs.lines().filter((l) => l.level === "warn" && String(l.msg).includes("newer")).length, 1);
});

test("a newer database whose tables this build cannot use is moved aside", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "fieldbridge.db");
  const db = new BetterSqlite3(file);
  db.exec("CREATE TABLE records (other TEXT)");
  db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  db.close();
  const logs = captureLogger();
  const store = open(t, dir, { logger: logs.logger });
  const moved = new BetterSqlite3(assertMovedAside(dir, logs), { readonly: true });
  t.after(() => moved.close());
  assert.equal(moved.pragma("user_version", { simple: true }), SCHEMA_VERSION + 5, "the newer file is kept for a later upgrade");
  store.records.append([entry(1)]);
  store.records.flush();
  assert.equal(store.records.stats().depth, 1);
});
