/** Opening a real on-disk store from a test, closed again when the test ends. */
import type { TestContext } from "node:test";
import { createLogger } from "../../src/ops/logger.js";
import type { SyncMode } from "../../src/store/database.js";
import { openStore, type OpenStoreOptions, type Store } from "../../src/store/store.js";

export type OpenTestStore = (t: TestContext, dir: string, extra?: Partial<OpenStoreOptions>) => Store;

/** An `open(t, dir, extra)` whose store logs nowhere and uses `sync` unless `extra` says otherwise. */
export function storeOpener(sync: SyncMode): OpenTestStore {
  return (t, dir, extra = {}) => {
    const store = openStore(dir, { logger: extra.logger ?? createLogger("silent"), sync, ...extra });
    t.after(() => store.close());
    return store;
  };
}
