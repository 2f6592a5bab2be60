/** Writes that must survive a power cut even when the store runs with `synchronous = NORMAL`. */
import type { Database } from "better-sqlite3";
import type { SyncMode } from "./database.js";

/**
 * Runs `fn` in a transaction committed with `synchronous = FULL`. With NORMAL, a WAL commit can be lost on power
 * loss; secrets issued once by the cloud and message-id reservations must not be.
 */
export function durableWrite<T>(db: Database, sync: SyncMode, fn: () => T): T {
  if (sync === "full") return db.transaction(fn)();
  db.pragma("synchronous = FULL");
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma("synchronous = NORMAL");
  }
}
