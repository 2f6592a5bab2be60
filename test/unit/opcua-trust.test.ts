/**
 * Trust on first use of server certificates. The pin logic only looks at DER framing and SHA-1 digests, so
 * DER-framed random bytes stand in for certificates here; the integration tests use real ones.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { CertificatePins, CertificateRefusedError, certificateThumbprint, leafCertificate } from "../../src/field/opcua/trust.js";

function fakeCert(bodyLength = 600): Buffer {
  const body = randomBytes(bodyLength);
  return Buffer.concat([Buffer.from([0x30, 0x82, bodyLength >> 8, bodyLength & 0xff]), body]);
}

const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const dirs: string[] = [];
async function pkiDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), "fb-opcua-trust-"));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test("the thumbprint is the SHA-1 of the leaf certificate of a chain", () => {
  const leaf = fakeCert(500);
  const issuer = fakeCert(300);
  const chain = Buffer.concat([leaf, issuer]);
  assert.deepEqual(leafCertificate(chain), leaf);
  assert.equal(certificateThumbprint(chain), sha1(leaf));
  const short = fakeCert(100); // short-form DER length
  const shortForm = Buffer.concat([Buffer.from([0x30, 0x10]), randomBytes(16)]);
  assert.equal(leafCertificate(Buffer.concat([shortForm, short])).length, 18);
  assert.throws(() => leafCertificate(Buffer.from("hello")), /not a DER certificate/);
});

test("first use pins, the same certificate passes, a different one is refused and saved", async () => {
  const dir = await pkiDir();
  const pins = new CertificatePins({ pkiDir: dir });
  const a = fakeCert();
  const b = fakeCert();
  const first = await pins.check("S1", "opc.tcp://h:4840", a);
  assert.deepEqual(first, { outcome: "first-use", thumbprint: sha1(a) });
  const pinFile = JSON.parse(await readFile(path.join(dir, "pinned", "S1.json"), "utf8")) as { thumbprint: string; certificate: string };
  assert.equal(pinFile.thumbprint, sha1(a));
  assert.deepEqual(Buffer.from(pinFile.certificate, "base64"), a);

  assert.equal((await pins.check("S1", "opc.tcp://h:4840", a)).outcome, "pinned");
  await assert.rejects(pins.check("S1", "opc.tcp://h:4840", b), (err: unknown) => {
    assert.ok(err instanceof CertificateRefusedError);
    assert.equal(err.thumbprint, sha1(b));
    assert.equal(err.pinnedThumbprint, sha1(a));
    assert.match(err.message, /server certificate changed/);
    assert.match(err.message, /trusted[\\/]certs/);
    return true;
  });
  assert.deepEqual(await readdir(path.join(dir, "rejected")), [`${sha1(b)}.der`]);
  // the refusal does not move the pin
  assert.equal((await pins.check("S1", "opc.tcp://h:4840", a)).outcome, "pinned");
});

test("pins are per server id", async () => {
  const pins = new CertificatePins({ pkiDir: await pkiDir() });
  const a = fakeCert();
  const b = fakeCert();
  assert.equal((await pins.check("S1", "u", a)).outcome, "first-use");
  assert.equal((await pins.check("S2", "u", b)).outcome, "first-use");
  await assert.rejects(pins.check("S2", "u", a), CertificateRefusedError);
  // a server id that is not a safe file name still gets its own pin
  assert.equal((await pins.check("../weird id", "u", a)).outcome, "first-use");
  assert.equal((await pins.check("../weird id", "u", a)).outcome, "pinned");
});

test("a certificate the operator placed in trusted/certs replaces the pin (DER or PEM)", async () => {
  const dir = await pkiDir();
  const pins = new CertificatePins({ pkiDir: dir });
  const a = fakeCert();
  const b = fakeCert();
  const c = fakeCert();
  await pins.check("S1", "u", a);
  await mkdir(path.join(dir, "trusted", "certs"), { recursive: true });
  await writeFile(path.join(dir, "trusted", "certs", "new.der"), b);
  assert.deepEqual(await pins.check("S1", "u", b), { outcome: "operator-trusted", thumbprint: sha1(b), previous: sha1(a) });
  assert.equal((await pins.check("S1", "u", b)).outcome, "pinned");
  // the old certificate is now the stranger
  await assert.rejects(pins.check("S1", "u", a), CertificateRefusedError);

  const pem = `-----BEGIN CERTIFICATE-----\n${c.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
  await writeFile(path.join(dir, "trusted", "certs", "other.pem"), pem);
  await writeFile(path.join(dir, "trusted", "certs", "junk.txt"), "not a certificate");
  assert.equal((await pins.check("S1", "u", c)).outcome, "operator-trusted");
});
