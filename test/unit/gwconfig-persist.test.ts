import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GATEWAY_CONFIG_FILE, readPersisted, writeGatewayConfigAtomic } from "../../src/config/gateway/persist.js";

const dirs: string[] = [];
const freshDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "fb-gwpersist-"));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("nothing persisted yet reads as null", async () => {
  assert.equal(await readPersisted(freshDir()), null);
});

test("writes the exact bytes, replaces the previous document and leaves no temp file", async () => {
  const dir = freshDir();
  const first = Buffer.from('{"serverList":[{"password":"XIJTginONohPEUAyZxLB7Q=="}]}\n');
  const second = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"deviceList":[]} ünï\n')]);
  await writeGatewayConfigAtomic(dir, first);
  assert.deepEqual(await readPersisted(dir), first);
  await writeGatewayConfigAtomic(dir, second);
  assert.deepEqual(await readPersisted(dir), second);
  assert.deepEqual(readdirSync(dir), [GATEWAY_CONFIG_FILE]);
  // it holds encrypted credentials: owner-only
  assert.equal(statSync(join(dir, GATEWAY_CONFIG_FILE)).mode & 0o777, 0o600);
});

test("concurrent writes each land whole; the last rename wins", async () => {
  const dir = freshDir();
  const docs = Array.from({ length: 8 }, (_, i) => Buffer.from(JSON.stringify({ n: i, pad: "x".repeat(10_000 * (i + 1)) })));
  await Promise.all(docs.map((d) => writeGatewayConfigAtomic(dir, d)));
  const got = (await readPersisted(dir))!;
  assert.ok(docs.some((d) => d.equals(got)), "the file must be one of the written documents, not a mix");
  assert.deepEqual(readdirSync(dir), [GATEWAY_CONFIG_FILE]);
});

test("a failed rename removes the temp file and reports the error", async () => {
  const dir = freshDir();
  // a directory where the file should be makes the final rename fail
  mkdirSync(join(dir, GATEWAY_CONFIG_FILE));
  writeFileSync(join(dir, GATEWAY_CONFIG_FILE, "keep"), "x");
  await assert.rejects(writeGatewayConfigAtomic(dir, Buffer.from("{}")), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.deepEqual(readdirSync(dir), [GATEWAY_CONFIG_FILE]);
});
