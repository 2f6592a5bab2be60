/**
 * Schema migrations, keyed by `PRAGMA user_version`. Each step runs once, in its own transaction, and steps are
 * only ever appended: a database written by a newer build stays readable by an older one as long as the tables
 * it uses keep their columns.
 */
import type { Database } from "better-sqlite3";

export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: "outbox, sub-device secrets, key/value state, id sequences",
    up(db) {
      db.exec(`
        CREATE TABLE outbox (
          seq         INTEGER PRIMARY KEY AUTOINCREMENT,
          msg_id      TEXT    NOT NULL,
          topic       TEXT    NOT NULL,
          payload     TEXT    NOT NULL,
          devices     TEXT    NOT NULL,
          created_at  INTEGER NOT NULL,
          bytes       INTEGER NOT NULL,
          sample_time INTEGER NOT NULL
        );
        CREATE INDEX outbox_sample_time ON outbox (sample_time);

        CREATE TABLE secrets (
          product_key TEXT    NOT NULL,
          device_name TEXT    NOT NULL,
          secret      TEXT    NOT NULL,
          updated_at  INTEGER NOT NULL,
          PRIMARY KEY (product_key, device_name)
        ) WITHOUT ROWID;

        CREATE TABLE kv (
          key        TEXT    NOT NULL PRIMARY KEY,
          value      TEXT    NOT NULL,
          updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE sequences (
          name       TEXT    NOT NULL PRIMARY KEY,
          high_water INTEGER NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
];

export const SCHEMA_VERSION = migrations[migrations.length - 1]!.version;

export interface MigrationResult {
  from: number;
  to: number;
  /** The file was written by a newer build; it is used as is. */
  newer: boolean;
}

export function migrate(db: Database): MigrationResult {
  const from = Number(db.pragma("user_version", { simple: true }));
  if (from > SCHEMA_VERSION) return { from, to: from, newer: true };
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return { from, to: SCHEMA_VERSION, newer: false };
}
