import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { bootstrap, lierdaView } from "../../../../src/cloud/lierda/bootstrap.js";
import type { BootstrapConfig, ConfigProblem } from "../../../../src/config/bootstrap/load.js";

/** The platform's part assembled the way the loader does it (other common sections left open). */
const schema = {
  type: "object",
  required: ["gateway", "mqtt"],
  properties: {
    gateway: {
      type: "object",
      additionalProperties: false,
      required: ["platform", ...bootstrap.gateway.required],
      properties: { platform: { const: "lierda" }, firmwareVersion: { type: "string", minLength: 1 }, ...bootstrap.gateway.properties },
    },
    mqtt: { type: "object", additionalProperties: false, required: bootstrap.mqtt.required, properties: bootstrap.mqtt.properties },
    ...bootstrap.sections,
    subDevices: { type: "array", default: [], items: bootstrap.subDevice },
  },
};
const validate = new Ajv({ useDefaults: true, allErrors: true, strict: false }).compile(schema);
const example = () => JSON.parse(readFileSync(new URL("../../../../config/config.lierda.example.json", import.meta.url), "utf8"));

function check(doc: Record<string, unknown>): { ok: boolean; problems: ConfigProblem[]; errors: string[]; cfg: BootstrapConfig } {
  const ok = validate(doc);
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath}: ${e.message}`);
  const problems: ConfigProblem[] = [];
  if (ok) bootstrap.finish(doc as unknown as BootstrapConfig, problems);
  return { ok: ok && problems.length === 0, problems, errors, cfg: doc as unknown as BootstrapConfig };
}

test("the spec's complete example is valid; defaults apply", () => {
  const r = check(example());
  assert.deepEqual([r.errors, r.problems], [[], []]);
  const c = lierdaView(r.cfg);
  assert.equal(c.mqtt.keepaliveSeconds, 60);
  assert.equal(c.mqtt.requestTimeoutSeconds, 10);
  assert.equal(c.lierda.products["B1C2D3E4"]!.authType, 0);
  assert.equal(c.lierda.products["C5D6E7F8"]!.encrypted, false);
  assert.deepEqual(bootstrap.warnings!(r.cfg).map((w) => w.path), ["lierda.connectType"]);
});

test("minimal config: port defaults by TLS, section defaults", () => {
  const doc = { gateway: { platform: "lierda", openId: "7ED01E2A", productId: "AA30C505", nodeEui: "FBGW0001", productKey: "DB6FACEF35BEBA0517712F0E4BE32936", deviceSecret: "326086233FAB8A96566796551EB1DFF8" }, mqtt: { host: "h", tls: false } };
  const r = check(doc);
  assert.deepEqual(r.problems, []);
  const c = lierdaView(r.cfg);
  assert.equal(c.mqtt.port, 1883);
  assert.equal(c.gateway.authType, 2);
  assert.deepEqual(c.lierda, { connectType: 0, connectsPerSecond: 20, products: {}, liveMaxAgeSeconds: 5, historyBatchSize: 50, hardwareVersion: "fieldbridge" });
  const t = check({ ...doc, mqtt: { host: "h", tls: true } });
  assert.equal(lierdaView(t.cfg).mqtt.port, 8883);
});

test("schema refusals", () => {
  const cases: [(d: any) => void, RegExp][] = [
    [(d) => delete d.mqtt.host, /host/],
    [(d) => delete d.mqtt.tls, /tls/],
    [(d) => (d.gateway.openId = "7ED01E2"), /openId/],
    [(d) => (d.gateway.nodeEui = "FB-GW"), /nodeEui/],
    [(d) => (d.gateway.productKey = "DB6FACEF"), /productKey/],
    [(d) => (d.gateway.deviceName = "x"), /additional/],
    [(d) => (d.mqtt.signMethod = "hmacsha256"), /additional/],
    [(d) => (d.mqtt.reconnectMinSeconds = 0.5), /reconnectMinSeconds/],
    [(d) => (d.lierda.connectType = 2), /connectType/],
    [(d) => (d.lierda.connectsPerSecond = 501), /connectsPerSecond/],
    [(d) => (d.lierda.historyBatchSize = 101), /historyBatchSize/],
    [(d) => (d.lierda.liveMaxAgeSeconds = 61), /liveMaxAgeSeconds/],
    [(d) => (d.lierda.products = { XYZ: { productKey: "00112233445566778899AABBCCDDEEFF" } }), /property name/],
    [(d) => (d.lierda.products.B1C2D3E4.authType = 3), /authType/],
    [(d) => (d.subDevices[0].deviceSecret = "0F1E"), /deviceSecret/],
  ];
  for (const [mutate, re] of cases) {
    const d = example();
    mutate(d);
    const r = check(d);
    assert.equal(r.ok, false, String(mutate));
    assert.match(r.errors.join("\n"), re, String(mutate));
  }
});

test("cross-field checks name the path and never the secret", () => {
  const cases: [(d: any) => void, string][] = [
    [(d) => delete d.gateway.deviceSecret, "gateway.deviceSecret"],
    [(d) => (d.gateway.authType = 0), "gateway.deviceSecret"],
    [(d) => (d.lierda.products.AA30C505 = { productKey: "00112233445566778899AABBCCDDEEFF" }), "lierda.products.AA30C505"],
    [(d) => (d.lierda.products.B1C2D3E4.encrypted = true), "lierda.products.B1C2D3E4.encrypted"],
    [(d) => (d.subDevices[0].productKey = "B1C2D3E4"), "subDevices[0].productKey"],
    [(d) => (d.subDevices[0].productKey = "DDDDDDDD"), "subDevices[0].productKey"],
    [(d) => d.subDevices.push({ ...d.subDevices[0] }), "subDevices[1]"],
    [(d) => (d.mqtt.reconnectMaxSeconds = 0.5 + (d.mqtt.reconnectMinSeconds = 5) - 4.5), "mqtt.reconnectMaxSeconds"],
  ];
  for (const [mutate, path] of cases) {
    const d = example();
    mutate(d);
    const r = check(d);
    assert.deepEqual(r.errors, [], String(mutate));
    assert.ok(r.problems.some((p) => p.path === path), `${path}: ${JSON.stringify(r.problems)}`);
    for (const p of r.problems) assert.doesNotMatch(p.message, /[0-9A-F]{32}/i);
  }
  const d = example();
  d.gateway.authType = 1;
  delete d.gateway.deviceSecret;
  assert.deepEqual(check(d).problems, []);
});
