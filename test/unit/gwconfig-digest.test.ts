import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { digestAlgorithm, verifyDigest } from "../../src/config/gateway/digest.js";

const body = Buffer.from('{"serverList":[],"deviceList":[]}\n', "utf8");
const sha256 = createHash("sha256").update(body).digest();

test("sha256 as lower-case hex, upper-case hex and Base64", () => {
  for (const digest of [sha256.toString("hex"), sha256.toString("hex").toUpperCase(), sha256.toString("base64")]) {
    assert.deepEqual(verifyDigest(body, digest, "sha256"), { ok: true, algorithm: "sha256" });
  }
});

test("the method is case-insensitive and empty means sha256", () => {
  const hex = sha256.toString("hex");
  for (const method of ["", undefined, null, "SHA256", "Sha256", "SHA-256"]) {
    assert.equal(verifyDigest(body, hex, method).ok, true, `method ${String(method)}`);
  }
  assert.equal(digestAlgorithm(" SHA-1 "), "sha1");
});

test("md5 and sha1 are supported", () => {
  assert.equal(verifyDigest(body, createHash("md5").update(body).digest("hex"), "MD5").ok, true);
  assert.equal(verifyDigest(body, createHash("sha1").update(body).digest("base64"), "sha1").ok, true);
});

test("one changed byte is a mismatch", () => {
  const tampered = Buffer.from(body);
  tampered[2] = tampered[2]! ^ 1;
  const r = verifyDigest(tampered, sha256.toString("hex"), "sha256");
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : "", /mismatch/);
});

test("empty digest, unknown method and a digest of the wrong size fail", () => {
  const empty = verifyDigest(body, "", "sha256");
  assert.equal(empty.ok, false);
  assert.match(!empty.ok ? empty.reason : "", /empty/);
  assert.equal(verifyDigest(body, undefined, "sha256").ok, false);
  const unknown = verifyDigest(body, sha256.toString("hex"), "crc32");
  assert.equal(unknown.ok, false);
  assert.match(!unknown.ok ? unknown.reason : "", /unknown digestMethod "crc32"/);
  // a valid sha1 digest offered for sha256
  const wrongSize = verifyDigest(body, createHash("sha1").update(body).digest("hex"), "sha256");
  assert.equal(wrongSize.ok, false);
  assert.match(!wrongSize.ok ? wrongSize.reason : "", /neither hex nor Base64/);
});
