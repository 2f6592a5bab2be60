/**
 * Schema migrations, keyed by `PRAGMA user_version`. Each step runs once, in its own transaction, and steps are
 * only ever appended: a database written by a newer build stays readable by an older one as long as the tables
 * it uses keep their columns.
 */
import type { Database } from "better-sqlite3";
import { wireBody } from "./record-codec.js";

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
  {
    version: 2,
    description: "neutral uplink records; waiting wire messages of schema 1 move into them",
    up(db) {
      db.exec(`
        CREATE TABLE records (
          seq         INTEGER PRIMARY KEY AUTOINCREMENT,
          device      TEXT    NOT NULL,
          kind        TEXT    NOT NULL,
          sample_time INTEGER NOT NULL,
          body        TEXT    NOT NULL,
          attempts    INTEGER NOT NULL DEFAULT 0,
          created_at  INTEGER NOT NULL,
          bytes       INTEGER NOT NULL
        );
        CREATE INDEX records_sample_time ON records (sample_time);
        CREATE INDEX records_device ON records (device, seq);
      `);
      moveWireMessages(db);
    },
  },
];

/**
 * Schema 1 stored Alibaba (Alink) messages ready to publish. They keep their seq (so their order and their place
 * before anything new) and become wire records that the Alibaba adapter sends as they are.
 */
function moveWireMessages(db: Database): void {
  const read = db.prepare<[number], { seq: number; topic: string; payload: string; devices: string; createdAt: number; sampleTime: number }>(
    "SELECT seq, topic, payload, devices, created_at AS createdAt, sample_time AS sampleTime FROM outbox WHERE seq > ? ORDER BY seq LIMIT 500",
  );
  const insert = db.prepare<[number, string, number, string, number, number]>(
    "INSERT INTO records (seq, device, kind, sample_time, body, created_at, bytes) VALUES (?, ?, 'wire', ?, ?, ?, ?)",
  );
  // Chunked: better-sqlite3 cannot write while a statement iterates, and a full outbox may hold 256 MiB.
  for (let after = 0; ; ) {
    const rows = read.all(after);
    if (rows.length === 0) break;
    for (const r of rows) {
      after = r.seq;
      let devices: string[] = [];
      try {
        const parsed = JSON.parse(r.devices) as unknown;
        if (Array.isArray(parsed)) devices = parsed.filter((d): d is string => typeof d === "string");
      } catch {
        // A damaged device list: the topic still names the device.
      }
      const device = devices[0] ?? topicDevice(r.topic);
      const body = wireBody("aliyun", r.topic, r.payload, devices);
      insert.run(r.seq, device, r.sampleTime, body, r.createdAt, Buffer.byteLength(device) + Buffer.byteLength(body));
    }
  }
  db.exec("DELETE FROM outbox");
}

/** `/sys/{productKey}/{deviceName}/…` → `productKey/deviceName` (the device an Alink message concerns). */
function topicDevice(topic: string): string {
  const parts = topic.split("/");
  return parts[1] === "sys" && parts[2] && parts[3] ? `${parts[2]}/${parts[3]}` : topic;
}

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
