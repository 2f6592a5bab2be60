import { test } from "node:test";
import assert from "node:assert/strict";
import {
  aesEcbHexUpper,
  authCredentials,
  connectTimestamp,
  deviceCredentials,
  passwordContent,
} from "../../../../src/cloud/lierda/credentials.js";

const V1 = { openId: "7ED01E2A", productId: "AA30C505", nodeEui: "20MQTTJ000121" };
const TS = 1675404867;
const SECRET = "326086233FAB8A96566796551EB1DFF8";
const PK = "DB6FACEF35BEBA0517712F0E4BE32936";

test("V1: type 0 device credentials (seed example 1)", () => {
  const c = deviceCredentials(V1, PK, SECRET, 0, TS);
  assert.equal(c.clientId, "V2_AA30C505.20MQTTJ000121_0_1675404867");
  assert.equal(c.username, "7ED01E2A-AA30C505-20MQTTJ000121");
  assert.equal(passwordContent(V1, PK, 0, TS), "AA30C505.20MQTTJ000121_DB6FACEF35BEBA0517712F0E4BE32936");
  assert.equal(
    c.password,
    "5EB6BBC8DE5233E632389FA3E8E133F14DC0378BDDE5EDD73E64F682A79D14515CF9C8D4C5A0F469AD773DF9F4BFC8F05876680DBB4A7CB546B1EE27FF10134B",
  );
  assert.equal(c.password.length, 128);
});

test("V2: type 1 device credentials (seed example 2)", () => {
  const c = deviceCredentials(V1, PK, SECRET, 1, TS);
  assert.equal(c.clientId, "V2_AA30C505.20MQTTJ000121_1_1675404867");
  assert.equal(c.username, "7ED01E2A-AA30C505-20MQTTJ000121");
  assert.equal(passwordContent(V1, PK, 1, TS), "AA30C505.20MQTTJ000121_DB6FACEF35BEBA0517712F0E4BE32936_1675404867");
  assert.equal(
    c.password,
    "5EB6BBC8DE5233E632389FA3E8E133F14DC0378BDDE5EDD73E64F682A79D14515CF9C8D4C5A0F469AD773DF9F4BFC8F0725CDE013D77D74F22A59C33F8FE51622BE8CFAD9396E7811545F61CEDA9E4F9",
  );
  assert.equal(c.password.length, 160);
});

test("V3: auth connection credentials (auth types 0 and 1)", () => {
  const c = authCredentials({ openId: "E0C040B1", productId: "A4BC6002", nodeEui: "A4BC6002" }, PK);
  assert.deepEqual(c, { clientId: "A4BC6002-A4BC6002", username: "AUTH-E0C040B1-A4BC6002", password: "DB6FACEF35BEBA0517712F0E4BE32936" });
});

test("V4: the AES primitive and its hex form", () => {
  const out = aesEcbHexUpper("A9AB8E82D2D4A60E67C99D3A446D6088", '{"deviceId":"10000001","power":99}');
  assert.equal(out, "CB96395F5065FD121D88B1593EFE44EA9C6A716A807B4AEA693CC0D0C2984B8B8F8D4F2DC41F8B3D973BDC4EC63EF974");
  assert.ok(out.startsWith("CB96395F5065FD121D88B1593EFE"));
});

test("§10 candidate session-key reading (self-computed)", () => {
  assert.equal(aesEcbHexUpper(PK, "3788433" + (4).toString(16)), "E9FD1F6A5003A3807A081BC1416F6413");
});

test("auth type 2 uses the burned-in secret, lowercase hex too; the key case does not change the password", () => {
  const upper = deviceCredentials(V1, PK, SECRET, 0, TS).password;
  assert.equal(deviceCredentials(V1, PK, SECRET.toLowerCase(), 0, TS).password, upper);
});

test("a key that is not 32 hex is refused without echoing it", () => {
  for (const bad of ["FE448731", `${SECRET}00`, "Z".repeat(32), ""]) {
    assert.throws(() => aesEcbHexUpper(bad, "x"), (e: Error) => !e.message.includes(bad) || bad === "");
  }
});

test("type-1 timestamps never reuse the second of the last disconnect; large clock offsets correct them", () => {
  assert.equal(connectTimestamp(1_700_000_000_500, undefined), 1_700_000_000);
  assert.equal(connectTimestamp(1_700_000_000_500, 1_700_000_000), 1_700_000_001);
  assert.equal(connectTimestamp(1_700_000_005_000, 1_700_000_000), 1_700_000_005);
  assert.equal(connectTimestamp(1_700_000_000_000, undefined, 1500), 1_700_000_000);
  assert.equal(connectTimestamp(1_700_000_000_000, undefined, 10_000), 1_700_000_010);
});
