import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { CredentialError, decryptOpcuaPassword, encryptOpcuaPassword } from "../../src/config/gateway/crypto.js";

const VENDOR_SECRET = "testTNmjyWHQzniA8wEkTNmjyWHQtest";

test("vendor vector: test123 with a 32-byte secret is AES-256-CBC", () => {
  const b64 = encryptOpcuaPassword("test123", VENDOR_SECRET);
  assert.equal(b64, "7lBTkjb1RBAltOSgBBsCdA==");
  assert.equal(Buffer.from(b64, "base64").toString("hex"), "ee50539236f5441025b4e4a0041b0274");
  assert.equal(decryptOpcuaPassword("7lBTkjb1RBAltOSgBBsCdA==", VENDOR_SECRET), "test123");
});

test("the key is never truncated to 16 bytes", () => {
  // what a truncating implementation would produce for the vendor vector
  const truncated = "jrAi3zxdRpX7/yWSucSBQA==";
  assert.notEqual(encryptOpcuaPassword("test123", VENDOR_SECRET), truncated);
  let result: string | undefined;
  try {
    result = decryptOpcuaPassword(truncated, VENDOR_SECRET);
  } catch {
    result = undefined;
  }
  assert.notEqual(result, "test123");
});

for (const [bits, secret] of [
  [128, "0123456789abcdef"],
  [192, "0123456789abcdef01234567"],
  [256, "0123456789abcdef0123456789abcdef"],
] as const) {
  test(`${secret.length}-byte secret selects AES-${bits}-CBC and round-trips`, () => {
    const plain = "pässwörd with spaces & symbols";
    const b64 = encryptOpcuaPassword(plain, secret);
    assert.equal(decryptOpcuaPassword(b64, secret), plain);
    // cross-check with an independent AES of the expected width, IV = first 16 characters
    const d = createDecipheriv(`aes-${bits}-cbc`, Buffer.from(secret), Buffer.from(secret.slice(0, 16)));
    const viaNode = Buffer.concat([d.update(Buffer.from(b64, "base64")), d.final()]).toString("utf8");
    assert.equal(viaNode, plain);
  });
}

test("a secret that is not 16, 24 or 32 bytes is refused without echoing it", () => {
  const secret = "twenty-byte-secret!!";
  for (const fn of [() => encryptOpcuaPassword("x", secret), () => decryptOpcuaPassword("7lBTkjb1RBAltOSgBBsCdA==", secret)]) {
    assert.throws(fn, (err: Error) => {
      assert.ok(err instanceof CredentialError);
      assert.match(err.message, /16, 24 or 32 bytes/);
      assert.match(err.message, /got 20/);
      assert.ok(!err.message.includes(secret));
      return true;
    });
  }
});

test("bad padding is refused with a message that carries neither secret nor ciphertext", () => {
  const secret = "0123456789abcdef0123456789abcdef";
  // one block whose plaintext ends in 0x00: never valid PKCS#7 padding
  const c = createCipheriv("aes-256-cbc", Buffer.from(secret), Buffer.from(secret.slice(0, 16)));
  c.setAutoPadding(false);
  const bad = Buffer.concat([c.update(Buffer.alloc(16, 0)), c.final()]).toString("base64");
  assert.throws(() => decryptOpcuaPassword(bad, secret), (err: Error) => {
    assert.ok(err instanceof CredentialError);
    assert.match(err.message, /padding/);
    assert.ok(!err.message.includes(secret));
    assert.ok(!err.message.includes(bad));
    return true;
  });
});

test("malformed Base64 and partial blocks are refused", () => {
  const secret = "0123456789abcdef";
  assert.throws(() => decryptOpcuaPassword("not base64 at all!", secret), /not valid Base64/);
  assert.throws(() => decryptOpcuaPassword("", secret), /not valid Base64/);
  assert.throws(() => decryptOpcuaPassword(Buffer.alloc(10).toString("base64"), secret), /16-byte AES blocks/);
});

test("line-wrapped Base64 as written by Java's BASE64Encoder decrypts", () => {
  const secret = "0123456789abcdef0123456789abcdef";
  const plain = "a fairly long password that needs more than seventy-six characters of Base64";
  const b64 = encryptOpcuaPassword(plain, secret);
  assert.ok(b64.length > 76);
  const wrapped = b64.slice(0, 76) + "\r\n" + b64.slice(76);
  assert.equal(decryptOpcuaPassword(wrapped, secret), plain);
});
