/**
 * Thing models fetched from the cloud (thing.dsltemplate.get), kept in the kv table under `cloudTsl/<productKey>` so
 * that a restart, even with the cloud unreachable, polls the product's devices at once.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TslDocument } from "../things/tsl-types.js";
import type { KvStore } from "./kv.js";
import { DB_FILE_NAME } from "./store.js";

const PREFIX = "cloudTsl/";

interface Entry {
  tsl: TslDocument;
  /** When it was fetched, epoch ms. */
  at: number;
}

export class TslCache {
  constructor(private readonly kv: KvStore) {}

  all(): Record<string, TslDocument> {
    const out: Record<string, TslDocument> = {};
    for (const key of this.kv.keys(PREFIX)) {
      const e = this.kv.get<Entry>(key);
      if (e?.tsl) out[key.slice(PREFIX.length)] = e.tsl;
    }
    return out;
  }

  fetchedAt(productKey: string): number | undefined {
    return this.kv.get<Entry>(PREFIX + productKey)?.at;
  }

  put(productKey: string, tsl: TslDocument, at = Date.now()): void {
    this.kv.set(PREFIX + productKey, { tsl, at } satisfies Entry);
  }
}

/**
 * The cached models of a data dir, read without opening the store for writing (`fieldbridge check`, possibly while
 * the daemon runs). Empty when there is no database or it cannot be read: the cache is a convenience there.
 */
export async function readTslCacheFile(dataDir: string): Promise<Record<string, TslDocument>> {
  const file = join(dataDir, DB_FILE_NAME);
  if (!existsSync(file)) return {};
  try {
    const { default: BetterSqlite3 } = await import("better-sqlite3");
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare("SELECT key, value FROM kv WHERE key >= ? AND key < ? || char(1114111)").all(PREFIX, PREFIX) as Array<{ key: string; value: string }>;
      const out: Record<string, TslDocument> = {};
      for (const r of rows) {
        const e = JSON.parse(r.value) as Partial<Entry>;
        if (e.tsl) out[r.key.slice(PREFIX.length)] = e.tsl;
      }
      return out;
    } finally {
      db.close();
    }
  } catch {
    return {};
  }
}
