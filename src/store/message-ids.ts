/**
 * Gateway-wide Alink message ids: decimal strings, strictly increasing, never reused across restarts or crashes.
 * A high-water mark is persisted one block ahead of use, so issuing an id costs no write; a restart skips the
 * unused rest of the block.
 */
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
    // Every id up to the stored mark may have been handed out before a crash: start above it.
    this.last = row?.hw ?? 0;
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
}
