/**
 * Signing test vectors of alink.md sections 1.5 and 4.3 against the client (src/cloud/aliyun/sign.ts) and the
 * emulator's own verification (src/sim/cloud/aliyun/wire.ts): both sides must agree with the spec.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  hmacHex,
  loginParams,
  mqttConnectFields,
  signContent,
  topoAddItem,
} from "../../src/cloud/aliyun/sign.js";
import { splitClientId as parseConnectClientId, signedItemValid as verifySubDeviceSign } from "../../src/sim/cloud/aliyun/wire.js";

const CONNECT_CONTENT = "clientId12345deviceNamedeviceproductKeypktimestamp789";
const TOPO_CONTENT = "clientId123deviceNametestproductKey123timestamp1524448722000";
const LOGIN_CONTENT = "clientId123deviceNametestproductKey123timestamp123";
const REGISTER_CONTENT = "deviceNamedeviceName1234productKey1234556554random123";

// alink.md section 4.3, key "secret" in every case.
const VECTORS: Array<[string, string, string, string]> = [
  [CONNECT_CONTENT, "14b198324fe55e1d3c88f2e705e201ee", "fafd82a3d602b37fb0fa8b7892f24a477f851a14", "6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57"],
  [TOPO_CONTENT, "9797f243469d652b2981c6af7c9623a4", "7b1cbbc8393867c4718c2a48265c70a1221b432b", "fa5864972916a7e18aa5c4f28d77d91680e1bb160fb0af60f692a60934e52bd3"],
  [LOGIN_CONTENT, "7f9c0941a986fe6d3ad883eda7efda9c", "17b3ca175a2c737c69be476e761ea62b2356e100", "f0a12a0784236f598657c2ec54f03a3c0497e3a3728316c008b971746a2d27f0"],
  [REGISTER_CONTENT, "aabadce3c1b83b134b2a22526cd11aca", "db5fd72274ac137ee5ae788c88fb2897249569e4", "3225d2ae160111ceee3656cb3558ef3504ae096611fd8159570db9cc1f49c148"],
];

test("section 4.3 vectors: hmacmd5, hmacsha1 and hmacsha256 over each content", () => {
  for (const [content, md5, sha1, sha256] of VECTORS) {
    assert.equal(hmacHex("hmacmd5", "secret", content), md5, `md5 ${content}`);
    assert.equal(hmacHex("hmacsha1", "secret", content), sha1, `sha1 ${content}`);
    assert.equal(hmacHex("hmacsha256", "secret", content), sha256, `sha256 ${content}`);
  }
});

test("sign method names are case-insensitive and unknown ones throw", () => {
  assert.equal(hmacHex("hmacSha256", "secret", LOGIN_CONTENT), hmacHex("hmacsha256", "secret", LOGIN_CONTENT));
  assert.equal(hmacHex("HmacMD5", "secret", LOGIN_CONTENT), VECTORS[2]![1]);
  assert.throws(() => hmacHex("Sha256", "secret", LOGIN_CONTENT), /unsupported sign method/);
});

test("section 1.5 CONNECT vector: client id, username, content and password", () => {
  const content = signContent({ clientId: "12345", deviceName: "device", productKey: "pk", timestamp: "789" });
  assert.equal(content, CONNECT_CONTENT);
  const f = mqttConnectFields({
    productKey: "pk",
    deviceName: "device",
    deviceSecret: "secret",
    clientId: "12345",
    timestamp: "789",
    signMethod: "hmacsha1",
    tls: false,
  });
  assert.equal(f.clientId, "12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
  assert.equal(f.username, "device&pk");
  assert.equal(f.password.toUpperCase(), "FAFD82A3D602B37FB0FA8B7892F24A477F851A14");
  const tls = mqttConnectFields({ productKey: "pk", deviceName: "device", deviceSecret: "secret", clientId: "12345", timestamp: "789", signMethod: "hmacsha256", tls: true });
  assert.equal(tls.clientId, "12345|securemode=2,signmethod=hmacsha256,timestamp=789|");
  assert.equal(tls.password.toUpperCase(), "6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57");
});

test("parseConnectClientId splits the extension and rejects malformed ids", () => {
  assert.deepEqual(parseConnectClientId("12345|securemode=3,signmethod=hmacsha1,timestamp=789|"), {
    clientId: "12345",
    ext: { securemode: "3", signmethod: "hmacsha1", timestamp: "789" },
  });
  assert.equal(parseConnectClientId("12345"), null);
  assert.equal(parseConnectClientId("12345|securemode|"), null);
});

test("signContent sorts by name, skips undefined values and excludes names case-insensitively", () => {
  assert.equal(signContent({ timestamp: "1", clientId: "c", extra: undefined }), "clientIdctimestamp1");
  assert.equal(signContent({ b: "2", a: "1", SignMethod: "x", sign: "y" }, ["signmethod", "SIGN"]), "a1b2");
});

test("topo/add example: hmacMd5 over the seed's item content", () => {
  const item = { productKey: "123", deviceName: "test", clientId: "123", timestamp: "1524448722000", signmethod: "hmacMd5" };
  assert.equal(signContent(item, ["sign", "signMethod"]), TOPO_CONTENT);
  const sign = hmacHex("hmacMd5", "secret", TOPO_CONTENT);
  assert.equal(sign, VECTORS[1]![1]);
  assert.equal(verifySubDeviceSign({ ...item, sign }, "secret"), true);
  assert.equal(verifySubDeviceSign({ ...item, sign: sign.toUpperCase() }, "secret"), true, "hex case does not matter");
  assert.equal(verifySubDeviceSign({ ...item, sign }, "other"), false);
  assert.equal(verifySubDeviceSign({ ...item, timestamp: "1524448722001", sign }, "secret"), false);
});

test("topoAddItem signs clientId/deviceName/productKey/timestamp with the sub-device secret", () => {
  const item = topoAddItem({ productKey: "123", deviceName: "test", deviceSecret: "secret" }, "1524448722000", "hmacSha1");
  assert.equal(item.clientId, "123&test");
  assert.equal(item.signmethod, "hmacSha1");
  assert.equal(item.sign, hmacHex("hmacsha1", "secret", "clientId123&testdeviceNametestproductKey123timestamp1524448722000"));
  assert.equal(verifySubDeviceSign(item, "secret"), true);
});

test("login: cleanSession is excluded from the sign content (section 4.3 check)", () => {
  const input = { productKey: "123", deviceName: "test", clientId: "123", timestamp: "123", signMethod: "hmacmd5", cleanSession: "true" };
  assert.equal(signContent(input, ["sign", "signMethod", "cleanSession"]), LOGIN_CONTENT);
  const sign = hmacHex("hmacmd5", "secret", LOGIN_CONTENT);
  assert.equal(sign, VECTORS[2]![1]);
  assert.equal(verifySubDeviceSign({ ...input, sign }, "secret"), true);
  assert.equal(verifySubDeviceSign({ ...input, cleanSession: "false", sign }, "secret"), true, "cleanSession is not signed");
  assert.equal(verifySubDeviceSign({ ...input, deviceName: "test2", sign }, "secret"), false);

  const params = loginParams({ productKey: "123", deviceName: "test", deviceSecret: "secret" }, "123", "hmacmd5", "true");
  assert.equal(params.cleanSession, "true");
  assert.equal(params.signMethod, "hmacmd5");
  assert.equal(params.sign, hmacHex("hmacmd5", "secret", "clientId123&testdeviceNametestproductKey123timestamp123"));
  assert.equal(verifySubDeviceSign(params, "secret"), true);
  assert.equal(verifySubDeviceSign({ ...params, cleanSession: "false" }, "secret"), true);
  assert.equal(verifySubDeviceSign({ ...params, sign: "00" + params.sign.slice(2) }, "secret"), false);
});

test("verifySubDeviceSign refuses a missing sign or an unknown method", () => {
  const base = { productKey: "123", deviceName: "test", clientId: "123", timestamp: "123" };
  assert.equal(verifySubDeviceSign({ ...base, signMethod: "hmacmd5" }, "secret"), false);
  assert.equal(verifySubDeviceSign({ ...base, signMethod: "Sha256", sign: hmacHex("hmacsha256", "secret", LOGIN_CONTENT) }, "secret"), false);
});
