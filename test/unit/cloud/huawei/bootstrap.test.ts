/** The huawei bootstrap section (huawei.md section 11) checked with ajv on a schema assembled like the loader's. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Ajv } from "ajv";
import { bootstrap, huaweiView } from "../../../../src/cloud/huawei/bootstrap.js";
import type { BootstrapConfig, ConfigProblem } from "../../../../src/config/bootstrap/load.js";

const schema = {
  type: "object",
  required: ["gateway", "mqtt"],
  properties: {
    gateway: {
      type: "object",
      additionalProperties: false,
      required: ["platform", ...bootstrap.gateway.required],
      properties: { platform: { const: "huawei" }, firmwareVersion: { type: "string", minLength: 1 }, ...bootstrap.gateway.properties },
    },
    mqtt: { type: "object", additionalProperties: false, required: bootstrap.mqtt.required, properties: bootstrap.mqtt.properties },
    ...bootstrap.sections,
    subDevices: { type: "array", default: [], items: bootstrap.subDevice },
  },
};
const validate = new Ajv({ useDefaults: true, allErrors: true, strict: true, strictTypes: false }).compile(schema);
const example = () => JSON.parse(readFileSync(new URL("../../../../config/config.huawei.example.json", import.meta.url), "utf8")) as Record<string, any>;

function check(doc: Record<string, unknown>): { errors: string[]; problems: ConfigProblem[]; cfg: BootstrapConfig } {
  const ok = validate(doc);
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath}: ${e.message}`);
  const problems: ConfigProblem[] = [];
  if (ok) bootstrap.finish(doc as unknown as BootstrapConfig, problems);
  return { errors, problems, cfg: doc as unknown as BootstrapConfig };
}

const minimal = () => ({ gateway: { platform: "huawei", deviceId: "gw-1", deviceSecret: "0123456789abcdef0123" }, mqtt: { host: "h" } });

test("the spec's complete example is valid", () => {
  const ex = example();
  const { dataDir: _d, serialPorts: _s, download: _dl, http: _h, log: _l, ...mine } = ex;
  const r = check(mine);
  assert.deepEqual([r.errors, r.problems], [[], []]);
  assert.deepEqual(bootstrap.warnings!(r.cfg), []);
  assert.equal(huaweiView(r.cfg).subDevices.length, 2);
});

test("defaults: TLS on 8883, keepalive 120, the huawei section", () => {
  const r = check(minimal());
  assert.deepEqual([r.errors, r.problems], [[], []]);
  const c = huaweiView(r.cfg);
  assert.deepEqual([c.mqtt.tls, c.mqtt.port, c.mqtt.keepaliveSeconds, c.mqtt.reconnectMinSeconds, c.mqtt.reconnectMaxSeconds], [true, 8883, 120, 1, 60]);
  assert.deepEqual(c.huawei, { passwordEncoding: "hex", signType: 1, serviceId: "Thing", connectsPerSecond: 10, maxConnections: 1500 });
  const plain = check({ ...minimal(), mqtt: { host: "h", tls: false } });
  assert.equal(huaweiView(plain.cfg).mqtt.port, 1883);
  assert.deepEqual(bootstrap.warnings!(plain.cfg).map((w) => w.path), ["mqtt.tls"]);
});

test("schema refusals", () => {
  const cases: [(d: any) => void, RegExp][] = [
    [(d) => delete d.mqtt.host, /host/],
    [(d) => delete d.gateway.deviceId, /deviceId/],
    [(d) => delete d.gateway.deviceSecret, /deviceSecret/],
    [(d) => (d.gateway.deviceId = "a/b"), /pattern/],
    [(d) => (d.gateway.deviceId = "x".repeat(65)), /pattern/],
    [(d) => (d.gateway.deviceSecret = "x".repeat(257)), /256/],
    [(d) => (d.gateway.regionId = "cn"), /additional/],
    [(d) => (d.gateway.deviceName = "x"), /additional/],
    [(d) => (d.mqtt.signMethod = "hmacsha256"), /additional/],
    [(d) => (d.mqtt.clientId = "x"), /additional/],
    [(d) => (d.mqtt.requestTimeoutSeconds = 5), /additional/],
    [(d) => (d.mqtt.keepaliveSeconds = 20), /30/],
    [(d) => (d.mqtt.keepaliveSeconds = 1201), /1200/],
    [(d) => (d.mqtt.port = 0), /1/],
    [(d) => (d.huawei = { signType: 2 }), /allowed/],
    [(d) => (d.huawei = { passwordEncoding: "b64" }), /allowed/],
    [(d) => (d.huawei = { serviceId: "Gateway" }), /NOT be valid/],
    [(d) => (d.huawei = { serviceId: "a b" }), /pattern/],
    [(d) => (d.huawei = { connectsPerSecond: 0 }), /1/],
    [(d) => (d.huawei = { connectsPerSecond: 201 }), /200/],
    [(d) => (d.huawei = { maxConnections: 10001 }), /10000/],
    [(d) => (d.huawei = { other: 1 }), /additional/],
    [(d) => (d.subDevices = [{ productKey: "p", deviceName: "dev1" }]), /deviceSecret/],
    [(d) => (d.subDevices = [{ productKey: "p", deviceName: "d", deviceSecret: "s" }]), /pattern/],
    [(d) => (d.subDevices = [{ productKey: "p", deviceName: "dev1", deviceSecret: "s", deviceId: "a b" }]), /pattern/],
  ];
  for (const [mutate, re] of cases) {
    const d = minimal();
    mutate(d);
    const r = check(d);
    assert.ok(r.errors.length > 0, `accepted: ${mutate.toString()}`);
    assert.match(r.errors.join("\n"), re, mutate.toString());
  }
});

test("cross checks: duplicates, the gateway's own deviceId, backoff order; no secret in problems", () => {
  const d = minimal() as Record<string, any>;
  d.mqtt.reconnectMinSeconds = 10;
  d.mqtt.reconnectMaxSeconds = 5;
  d.subDevices = [
    { productKey: "p", deviceName: "dev1", deviceSecret: "s3cr3t-one", deviceId: "id-1" },
    { productKey: "p", deviceName: "dev1", deviceSecret: "s3cr3t-two" },
    { productKey: "p", deviceName: "dev2", deviceSecret: "s3cr3t-three", deviceId: "id-1" },
    { productKey: "p", deviceName: "dev3", deviceSecret: "s3cr3t-four", deviceId: "gw-1" },
  ];
  const r = check(d);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.problems.map((p) => `${p.path}: ${p.message}`), [
    "mqtt.reconnectMaxSeconds: must be at least mqtt.reconnectMinSeconds",
    "subDevices[1]: duplicate of subDevices[0] (same productKey and deviceName)",
    "subDevices[2].deviceId: duplicate of subDevices[0]",
    "subDevices[3].deviceId: is the gateway's own deviceId",
  ]);
  assert.doesNotMatch(JSON.stringify(r.problems), /s3cr3t|0123456789abcdef0123/);
});
