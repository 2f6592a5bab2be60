/**
 * Opens the SQLite file with the pragmas the store relies on. A damaged file never stops the daemon: it is moved
 * aside (with its -wal/-shm) under a timestamped name, one error is logged, and an empty database takes its place.
 */
import fs from "node:fs";
import BetterSqlite3, { type Database } from "better-sqlite3";
import type { Logger } from "../ops/logger.js";
import { migrate, SCHEMA_VERSION } from "./migrations.js";
import { describeError, isCorruption, UnusableDatabaseError } from "./sqlite-errors.js";

export type SyncMode = "full" | "normal";

export interface OpenDatabaseOptions<T> {
  file: string;
  sync: SyncMode;
  logger: Logger;
  now: () => number;
  /** Builds the parts on top of the open database (prepares statements); a failure here also counts as unusable. */
  build: (db: Database) => T;
}

const SIDE_FILES = ["-wal", "-shm", "-journal"] as const;
/** Keeps the WAL from staying large on flash after a burst (bytes kept after a checkpoint). */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;

export function openDatabase<T>(o: OpenDatabaseOptions<T>): { db: Database; parts: T } {
  try {
    return openChecked(o);
  } catch (err) {
    if (!isCorruption(err) && !unreadable(o.file)) throw openError(o.file, err);
    const movedTo = moveAside(o.file, o.now());
    o.logger.error(
      { file: o.file, movedTo, reason: describeError(err) },
      "database file is unreadable: moved it aside and started with an empty database",
    );
    return openChecked(o);
  }
}

function openChecked<T>(o: OpenDatabaseOptions<T>): { db: Database; parts: T } {
  const existed = fs.existsSync(o.file);
  // Checked before SQLite sees the file: on a failed open SQLite may discard a -wal it cannot make sense of.
  if (existed) checkHeader(o.file);
  const db = new BetterSqlite3(o.file);
  try {
    if (!existed) fs.chmodSync(o.file, 0o600);
    const mode = String(db.pragma("journal_mode = WAL", { simple: true }));
    if (mode !== "wal") throw new Error(`journal_mode WAL not available (got ${mode})`);
    db.pragma(`synchronous = ${o.sync === "full" ? "FULL" : "NORMAL"}`);
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    db.pragma("busy_timeout = 5000");
    const check = String(db.pragma("quick_check", { simple: true }));
    if (check !== "ok") throw new UnusableDatabaseError(`quick_check failed: ${check.split("\n").slice(0, 3).join("; ")}`);
    const m = migrate(db);
    let parts: T;
    try {
      parts = o.build(db);
    } catch (err) {
      // A newer build may have changed a table this build reads: then the file is unusable for us.
      if (m.newer) throw new UnusableDatabaseError(`schema version ${m.from} is newer than this build's ${SCHEMA_VERSION}: ${describeError(err).message}`);
      throw err;
    }
    if (m.newer) {
      o.logger.warn({ file: o.file, schemaVersion: m.from, supported: SCHEMA_VERSION }, "database was written by a newer fieldbridge; using it as is");
    }
    return { db, parts };
  } catch (err) {
    db.close();
    throw err;
  }
}

const HEADER = Buffer.from("SQLite format 3\0", "latin1");

function checkHeader(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return; // unreadable: reported by the open itself
  }
  try {
    const head = Buffer.alloc(HEADER.length);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n > 0 && (n < head.length || !head.equals(HEADER))) throw new UnusableDatabaseError("file is not an SQLite database (bad header)");
  } finally {
    fs.closeSync(fd);
  }
}

/** Exists but cannot be read or written by this process (permissions): as useless as a corrupt file. */
function unreadable(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  try {
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
    return false;
  } catch {
    return true;
  }
}

function moveAside(file: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
  let target = `${file}.corrupt-${stamp}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${stamp}-${i}`;
  try {
    fs.renameSync(file, target);
    for (const suffix of SIDE_FILES) {
      // Side files keep their suffix so the moved set can still be opened together for forensics.
      if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix);
    }
  } catch (err) {
    throw new Error(`cannot move the unreadable database ${file} aside: ${describeError(err).message}`);
  }
  return target;
}

function openError(file: string, err: unknown): Error {
  const d = describeError(err);
  const e = new Error(`cannot open database ${file}: ${d.code ? `${d.code} ` : ""}${d.message}`);
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}
