/**
 * The gateway's SQLite database (`<dataDir>/fieldbridge.db`) and the parts built on it: the outbox of neutral uplink
 * records, device secrets, small key/value state and message ids. One connection, owned here; `close()` commits
 * queued writes.
 */
import fs from "node:fs";
import path from "node:path";
import type { Database } from "better-sqlite3";
import type { Logger } from "../ops/logger.js";
import { openDatabase, type SyncMode } from "./database.js";
import { KvStore } from "./kv.js";
import { MessageIds } from "./message-ids.js";
import { RecordOutbox, type RecordOutboxOptions } from "./records.js";
import { SecretStore } from "./secrets.js";

export const DB_FILE_NAME = "fieldbridge.db";
/** Repeats the message id high-water mark outside the database (see MessageIds). */
export const MESSAGE_ID_MARK_FILE = "message-id.mark";

export interface OpenStoreOptions {
  logger: Logger;
  /** "full": every commit is fsynced. "normal": the last commits may be lost on power loss (fewer flash writes). */
  sync: SyncMode;
  records?: RecordOutboxOptions;
  /** Message ids reserved per database write (default 10,000). */
  messageIdBlock?: number;
  /** Clock (epoch ms); tests move it. */
  now?: () => number;
}

export interface Store {
  /** Absolute path of the database file. */
  readonly file: string;
  /** The connection, for diagnostics; the parts below are the interface. */
  readonly db: Database;
  readonly records: RecordOutbox;
  readonly secrets: SecretStore;
  readonly kv: KvStore;
  readonly messageIds: MessageIds;
  /** Commits queued outbox writes and closes the database. Idempotent. */
  close(): void;
}

export function openStore(dataDir: string, options: OpenStoreOptions): Store {
  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, DB_FILE_NAME);
  const logger = options.logger.child({ component: "store" });
  const now = options.now ?? Date.now;

  const { db, parts } = openDatabase({
    file,
    sync: options.sync,
    logger,
    now,
    build: (db) => ({
      secrets: new SecretStore(db, options.sync, now),
      kv: new KvStore(db, now),
      messageIds: new MessageIds({ db, sync: options.sync, logger, blockSize: options.messageIdBlock, markFile: path.join(dir, MESSAGE_ID_MARK_FILE) }),
      records: new RecordOutbox({ db, logger: options.logger.child({ component: "outbox" }), now }, options.records),
    }),
  });

  let closed = false;
  return {
    file,
    db,
    ...parts,
    close() {
      if (closed) return;
      closed = true;
      try {
        parts.records.close();
      } finally {
        db.close();
      }
    },
  };
}

export type { SyncMode } from "./database.js";
