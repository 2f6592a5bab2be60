/** Small key/value state (JSON values): last seen versions, sub-device states, and the like. Not for bulk data. */
import type { Database, Statement } from "better-sqlite3";

export class KvStore {
  private readonly getStmt: Statement<[string], { value: string }>;
  private readonly setStmt: Statement<[string, string, number]>;
  private readonly delStmt: Statement<[string]>;
  private readonly keysStmt: Statement<[{ prefix: string }], { key: string }>;

  constructor(db: Database, private readonly now: () => number = Date.now) {
    this.getStmt = db.prepare("SELECT value FROM kv WHERE key = ?");
    this.setStmt = db.prepare(
      "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    );
    this.delStmt = db.prepare("DELETE FROM kv WHERE key = ?");
    // Prefix match by range so that '%' and '_' in keys have no special meaning.
    this.keysStmt = db.prepare("SELECT key FROM kv WHERE key >= @prefix AND key < @prefix || char(1114111) ORDER BY key");
  }

  get<T = unknown>(key: string): T | undefined {
    const row = this.getStmt.get(key);
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  /** Stores `value` as JSON; `undefined` deletes the key. */
  set(key: string, value: unknown): void {
    if (value === undefined) {
      this.delete(key);
      return;
    }
    this.setStmt.run(key, JSON.stringify(value), this.now());
  }

  delete(key: string): boolean {
    return this.delStmt.run(key).changes > 0;
  }

  keys(prefix = ""): string[] {
    return this.keysStmt.all({ prefix }).map((r) => r.key);
  }
}
