/**
 * Gateway-wide Alink message ids: decimal strings, strictly increasing, never reused across restarts or crashes.
 * A high-water mark is persisted one block ahead of use, so issuing an id costs no write; a restart skips the
 * unused rest of the block.
 */
import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from "node:fs";
import type { Database, Statement } from "better-sqlite3";
import type { Logger } from "../ops/logger.js";
import type { SyncMode } from "./database.js";
import { durableWrite } from "./durable.js";
import { describeError } from "./sqlite-errors.js";

export interface MessageIdsOptions {
  db: Database;
  sync: SyncMode;
  logger: Logger;
  /** Ids reserved per write (default 10,000). */
  blockSize?: number;
  /** Row name in the sequences table (default "message-id"). */
  name?: string;
  /**
   * A small file beside the database that repeats the high-water mark, so that ids stay unique even after a
   * damaged database was moved aside and a fresh one started from nothing.
   */
  markFile?: string;
}

export class MessageIds {
  private readonly saveStmt: Statement<[string, number]>;
  private readonly db: Database;
  private readonly sync: SyncMode;
  private readonly logger: Logger;
  private readonly blockSize: number;
  private readonly name: string;
  private last: number;
  private reserved: number;
  private unpersisted = false;
  private readonly markFile: string | undefined;

  constructor(o: MessageIdsOptions) {
    this.db = o.db;
    this.sync = o.sync;
    this.logger = o.logger;
    this.blockSize = o.blockSize ?? 10_000;
    this.name = o.name ?? "message-id";
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 1) throw new Error(`invalid id block size ${this.blockSize}`);
    this.saveStmt = o.db.prepare(
      "INSERT INTO sequences (name, high_water) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET high_water = excluded.high_water",
    );
    const row = o.db.prepare("SELECT high_water AS hw FROM sequences WHERE name = ?").get(this.name) as { hw: number } | undefined;
    this.markFile = o.markFile;
    // Every id up to the stored mark may have been handed out before a crash: start above it.
    this.last = Math.max(row?.hw ?? 0, this.readMark());
    this.reserved = this.last;
    this.reserve();
  }

  next(): string {
    if (this.last >= this.reserved) this.reserve();
    this.last += 1;
    return String(this.last);
  }

  /** The last id handed out (0 before the first). */
  get current(): number {
    return this.last;
  }

  private reserve(): void {
    const target = this.reserved + this.blockSize;
    try {
      durableWrite(this.db, this.sync, () => this.saveStmt.run(this.name, target));
      this.writeMark(target);
      if (this.unpersisted) this.logger.info({ highWater: target }, "message id reservation persisted again");
      this.unpersisted = false;
    } catch (err) {
      // Keep issuing ids (replies and logins must go out on a full disk); the risk is a reuse after a restart.
      if (!this.unpersisted) {
        this.logger.error({ reason: describeError(err), highWater: target }, "cannot persist the message id reservation; ids may repeat after a restart");
      }
      this.unpersisted = true;
    }
    this.reserved = target;
  }

  private readMark(): number {
    if (!this.markFile) return 0;
    try {
      const n = Number(readFileSync(this.markFile, "utf8").trim());
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  /** Temp file, fsync, rename: the mark is either the old or the new value, never torn. */
  private writeMark(value: number): void {
    if (!this.markFile) return;
    const tmp = `${this.markFile}.tmp`;
    writeFileSync(tmp, `${value}\n`, { mode: 0o600 });
    if (this.sync === "full") {
      const fd = openSync(tmp, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(tmp, this.markFile);
  }
}
