import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/ops/logger.js";
import { openStore, DB_FILE_NAME } from "../../src/store/store.js";

test("message ids stay unique after a damaged database is moved aside and a fresh one starts", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "fb-ids-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logger = createLogger("silent");
  const first = openStore(dir, { logger, sync: "full", messageIdBlock: 100 });
  let last = 0;
  for (let i = 0; i < 250; i++) last = Number(first.messageIds.next());
  first.close();
  // The database is destroyed: everything in it, the id counter included, is gone.
  writeFileSync(join(dir, DB_FILE_NAME), Buffer.alloc(8192, 0x41));
  const second = openStore(dir, { logger, sync: "full", messageIdBlock: 100 });
  t.after(() => second.close());
  assert.ok(readdirSync(dir).some((f) => f.startsWith(`${DB_FILE_NAME}.corrupt-`)), "moved aside");
  const next = Number(second.messageIds.next());
  assert.ok(next > last, `next id ${next} after ${last}`);
});
