import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { bootstrap, tencentView } from "../../../../src/cloud/tencent/bootstrap.js";
import type { BootstrapConfig, ConfigProblem } from "../../../../src/config/bootstrap/load.js";

/** The platform's parts assembled into one schema, as the loader does with the common keys. */
function schema(): object {
  return {
    type: "object",
    properties: {
      gateway: { type: "object", additionalProperties: false, required: bootstrap.gateway.required,
        properties: { platform: { const: "tencent" }, firmwareVersion: { type: "string", minLength: 1, maxLength: 32 }, ...bootstrap.gateway.properties } },
      mqtt: { type: "object", additionalProperties: false, default: {}, properties: bootstrap.mqtt.properties },
      ...bootstrap.sections,
      subDevices: { type: "array", items: bootstrap.subDevice, default: [] },
    },
  };
}

function check(raw: Record<string, unknown>): { ok: boolean; problems: ConfigProblem[]; cfg: Record<string, unknown> } {
  const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false });
  const validate = ajv.compile(schema());
  const cfg = structuredClone(raw);
  const ok = validate(cfg);
  const problems: ConfigProblem[] = (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? "" }));
  if (ok) bootstrap.finish(cfg as unknown as BootstrapConfig, problems);
  return { ok: ok && problems.length === 0, problems, cfg };
}

const base = { gateway: { platform: "tencent", productId: "FBGWPRD001", deviceName: "fb-gw-01", deviceSecret: "lDZ6Uqt+I9E0wW7rvDUs7Q==" } };

describe("tencent bootstrap", () => {
  it("the example config is valid", () => {
    const ex = JSON.parse(readFileSync(new URL("../../../../config/config.tencent.example.json", import.meta.url), "utf8"));
    delete ex.dataDir; delete ex.serialPorts; delete ex.download; delete ex.http; delete ex.log;
    assert.deepEqual(check(ex).problems, []);
  });
  it("defaults", () => {
    const r = check(base);
    assert.equal(r.ok, true);
    const c = tencentView(r.cfg as unknown as BootstrapConfig);
    assert.equal(c.mqtt.host, "FBGWPRD001.iotcloud.tencentdevices.com");
    assert.equal(c.mqtt.port, 8883);
    assert.equal(c.mqtt.keepaliveSeconds, 120);
    assert.equal(c.tencent.sdkAppId, "12010126");
    assert.equal(c.tencent.timestampUnit, "s");
    assert.equal(c.tencent.replayMaxAgeHours, 23);
    assert.equal(c.sessions.batchSize, 10);
    const plain = tencentView(check({ ...base, mqtt: { tls: false } }).cfg as unknown as BootstrapConfig);
    assert.equal(plain.mqtt.port, 1883);
    assert.equal(bootstrap.warnings?.(plain as unknown as BootstrapConfig).length, 1);
  });
  it("refusals", () => {
    const bad = (patch: Record<string, unknown>) => check({ ...base, ...patch }).ok;
    assert.equal(bad({ tencent: { timestampUnit: "us" } }), false);
    assert.equal(bad({ tencent: { replayMaxAgeHours: 24 } }), false);
    assert.equal(bad({ mqtt: { keepaliveSeconds: 0 } }), false);
    assert.equal(bad({ mqtt: { clientId: "x" } }), false);
    assert.equal(bad({ sessions: { batchSize: 51 } }), false);
    assert.equal(bad({ gateway: { ...base.gateway, productId: "abc" } }), false);
    assert.equal(bad({ gateway: { ...base.gateway, deviceSecret: "not base64!" } }), false);
    assert.equal(bad({ subDevices: [{ productKey: "FBMBPRD001", deviceName: "d", deviceSecret: "k3Jm9Qx2ZbVt7Wc4Lp8YdA==" }, { productKey: "FBMBPRD001", deviceName: "d", deviceSecret: "k3Jm9Qx2ZbVt7Wc4Lp8YdA==" }] }), false);
    const r = check({ ...base, gateway: { ...base.gateway, deviceSecret: "@@@@" } });
    assert.ok(r.problems.some((p) => p.path === "gateway.deviceSecret" && !p.message.includes("@@@@")));
  });
});
