/** The contract world of tencent drives the real adapter: its bootstrap passes the schema, values and sets flow. */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { TencentAdapter } from "../../../src/cloud/tencent/adapter.js";
import { bootstrap } from "../../../src/cloud/tencent/bootstrap.js";
import type { Core } from "../../../src/cloud/platform.js";
import type { BootstrapConfig, ConfigProblem } from "../../../src/config/bootstrap/load.js";
import { createLogger } from "../../../src/ops/logger.js";
import { Metrics } from "../../../src/ops/metrics.js";
import { openStore } from "../../../src/store/store.js";
import { createWorld } from "../../../src/sim/cloud/tencent/world.js";
import { device, TSL } from "./harness.js";
import { TEST_PKI_DIR } from "../../../src/sim/cloud/tls-material.js";

/** The world's bootstrap with the test CA as \`mqtt.caFile\` (the daemon's rig writes the world's CA to a file). */
function withCa(raw: Record<string, unknown>): Record<string, unknown> {
  const mqtt = raw["mqtt"] as Record<string, unknown>;
  return { ...raw, mqtt: { ...mqtt, ...(mqtt["tls"] !== false ? { caFile: join(TEST_PKI_DIR, "ca.pem") } : {}) } };
}

function validated(raw: Record<string, unknown>): BootstrapConfig {
  const schema = {
    type: "object",
    properties: {
      gateway: { type: "object", additionalProperties: false, required: bootstrap.gateway.required, properties: { platform: { const: "tencent" }, ...bootstrap.gateway.properties } },
      mqtt: { type: "object", additionalProperties: false, default: {}, properties: bootstrap.mqtt.properties },
      ...bootstrap.sections,
      subDevices: { type: "array", items: bootstrap.subDevice, default: [] },
    },
  };
  const validate = new Ajv({ useDefaults: true, strict: false }).compile(schema);
  const cfg = structuredClone(raw);
  assert.ok(validate(cfg), JSON.stringify(validate.errors));
  const problems: ConfigProblem[] = [];
  bootstrap.finish(cfg as unknown as BootstrapConfig, problems);
  assert.deepEqual(problems, []);
  return cfg as unknown as BootstrapConfig;
}

describe("tencent contract world", () => {
  it("provisions, connects the adapter, accepts values, sets a property, delivers a document", async () => {
    const world = await createWorld({ tls: true });
    const dir = mkdtempSync(join(tmpdir(), "fb-tencent-world-"));
    const store = openStore(dir, { logger: createLogger("silent"), sync: "normal" });
    let adapter: TencentAdapter | undefined;
    try {
      const naming = world.naming(2);
      await world.provision(naming, { ...TSL, profile: { productKey: naming.product } });
      const core: Core = {
        logger: createLogger("silent"), metrics: new Metrics(), secrets: store.secrets, kv: store.kv, dataDir: dir, version: "1.4.0",
        nextId: () => String(Date.now()), rejectConfig: () => undefined,
        request: async () => ({ ok: true }),
        offerConfig: async () => ({ ok: true }),
        offerFirmware: async () => ({ ok: false, step: "install", message: "disabled" }),
        lifecycle: async () => undefined, presence: () => undefined, deviceRejoined: () => undefined, hold: () => undefined,
      };
      adapter = new TencentAdapter(validated({ ...withCa(world.bootstrap()), download: { allowHttp: false } }), core);
      adapter.setDevices(naming.devices.map((d) => device(d)));
      adapter.start();
      const keys = naming.devices.map((d) => `${naming.product}/${d}`);
      const deadline = Date.now() + 5000;
      while (!(world.allOnline() && keys.every((k) => world.online(k) && adapter!.ready("gateway", k)))) {
        assert.ok(Date.now() < deadline, "devices not online");
        await new Promise((r) => setTimeout(r, 20));
      }
      const t = Math.floor(Date.now() / 1000) * 1000;
      const res = await adapter.send("gateway", [{ kind: "properties", seq: 1, device: keys[0]!, time: t, attempts: 0, values: [{ identifier: "temp", value: 2.5, time: t }] }]).done;
      assert.equal(res[0]!.result, "ok");
      assert.deepEqual(world.accepted(), [{ device: keys[0], identifier: "temp", value: 2.5, time: t }]);
      assert.deepEqual(await world.setProperty(keys[1]!, { sp: 3 }, 3000), { ok: true, code: 0 });
      const doc = await world.deliverDocument(Buffer.from('{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}'), 5000);
      assert.equal(doc.ok, true);
      await adapter.stop(3000);
      assert.ok(keys.every((k) => world.wentOffline().includes(k)));
      assert.deepEqual(world.refusedConnects(), []);
    } finally {
      await adapter?.stop(1000);
      await world.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
