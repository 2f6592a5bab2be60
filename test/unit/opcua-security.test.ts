import assert from "node:assert/strict";
import { test } from "node:test";
import { messageSecurityModeValue, resolveSecurity, rsa15Hint, securityPolicyUri, SECURITY_POLICIES } from "../../src/field/opcua/security.js";

test("every supported policy maps to its OPC UA URI", () => {
  assert.deepEqual([...SECURITY_POLICIES], ["None", "Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]);
  assert.equal(securityPolicyUri("Basic256Sha256"), "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256");
  assert.deepEqual(["None", "Sign", "SignAndEncrypt"].map((m) => messageSecurityModeValue(m as "None")), [1, 2, 3]);
});

test("a secured mode needs a policy and None needs None", () => {
  for (const policy of SECURITY_POLICIES.filter((p) => p !== "None")) {
    for (const mode of ["Sign", "SignAndEncrypt"] as const) {
      assert.equal(resolveSecurity({ securityPolicy: policy, securityMode: mode }).policy, policy);
    }
    assert.throws(() => resolveSecurity({ securityPolicy: policy, securityMode: "None" }), /requires policy None/);
  }
  assert.throws(() => resolveSecurity({ securityPolicy: "None", securityMode: "Sign" }), /requires a security policy/);
  assert.throws(() => resolveSecurity({ securityPolicy: "Basic512", securityMode: "Sign" }), /unknown security policy "Basic512"/);
});

test("a missing policy means None", () => {
  assert.equal(resolveSecurity({ securityPolicy: "", securityMode: "None" }).policy, "None");
});

test("the server certificate matters when the channel is secured or a password is sent", () => {
  assert.equal(resolveSecurity({ securityPolicy: "None", securityMode: "None" }).usesServerCertificate, false);
  assert.equal(resolveSecurity({ securityPolicy: "None", securityMode: "None", userName: "gw" }).usesServerCertificate, true);
  assert.equal(resolveSecurity({ securityPolicy: "Basic256", securityMode: "Sign" }).usesServerCertificate, true);
  // an empty user name is anonymous
  const anon = resolveSecurity({ securityPolicy: "None", securityMode: "None", userName: "  " });
  assert.equal(anon.userName, undefined);
  assert.equal(anon.usesServerCertificate, false);
});

test("Basic128Rsa15 failures carry a hint about the Node option it needs, unless it is set", (t) => {
  const saved = process.env.NODE_OPTIONS;
  t.after(() => {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  });
  assert.equal(rsa15Hint("Basic256Sha256"), undefined);
  process.env.NODE_OPTIONS = "--security-revert=CVE-2023-46809";
  assert.equal(rsa15Hint("Basic128Rsa15"), undefined);
  process.env.NODE_OPTIONS = "";
  if (!process.execArgv.join(" ").includes("CVE-2023-46809")) {
    assert.match(rsa15Hint("Basic128Rsa15") ?? "", /--security-revert=CVE-2023-46809/);
  }
});
