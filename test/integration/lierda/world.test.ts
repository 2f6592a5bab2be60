/** The contract world of the Lierda platform drives the adapter end to end (config it writes, document, values, set). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { LierdaAdapter } from "../../../src/cloud/lierda/adapter.js";
import { bootstrap, type LierdaConfig } from "../../../src/cloud/lierda/bootstrap.js";
import type { CloudRequest, Core } from "../../../src/cloud/platform.js";
import type { BootstrapConfig, ConfigProblem } from "../../../src/config/bootstrap/load.js";
import { Metrics } from "../../../src/ops/metrics.js";
import { openStore } from "../../../src/store/store.js";
import { createWorld } from "../../../src/sim/cloud/lierda/world.js";
import { captureLogger } from "../../helpers/log-capture.js";
import { devices, meterTsl } from "./fixture.js";
import { TEST_PKI_DIR } from "../../../src/sim/cloud/tls-material.js";

/** The world's bootstrap with the test CA as \`mqtt.caFile\` (the daemon's rig writes the world's CA to a file). */
function withCa(raw: Record<string, unknown>): Record<string, unknown> {
  const mqtt = raw["mqtt"] as Record<string, unknown>;
  return { ...raw, mqtt: { ...mqtt, ...(mqtt["tls"] !== false ? { caFile: join(TEST_PKI_DIR, "ca.pem") } : {}) } };
}

test("world: its bootstrap passes the platform's schema and checks; documents, values and sets flow", async (t) => {
  const world = await createWorld({ tls: true });
  t.after(() => world.close());
  const naming = world.naming(2);
  await world.provision(naming, meterTsl(naming.product));
  const raw = { ...withCa(world.bootstrap()), download: { allowHttp: false, maxBytes: 1 << 20, timeoutSeconds: 10 } } as Record<string, unknown>;
  const schema = {
    type: "object",
    properties: {
      gateway: { type: "object", additionalProperties: false, required: bootstrap.gateway.required, properties: { platform: { const: "lierda" }, ...bootstrap.gateway.properties } },
      mqtt: { type: "object", additionalProperties: false, required: bootstrap.mqtt.required, properties: bootstrap.mqtt.properties },
      ...bootstrap.sections,
      subDevices: { type: "array", default: [], items: bootstrap.subDevice },
    },
  };
  const validate = new Ajv({ useDefaults: true, strict: false }).compile(schema);
  assert.ok(validate(raw), JSON.stringify(validate.errors));
  const problems: ConfigProblem[] = [];
  bootstrap.finish(raw as unknown as BootstrapConfig, problems);
  assert.deepEqual(problems, []);
  const dir = mkdtempSync(join(tmpdir(), "fb-lierda-world-"));
  const store = openStore(dir, { logger: captureLogger("silent").logger, sync: "normal" });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const requests: CloudRequest[] = [];
  let nextId = 0;
  const core: Core = {
    logger: captureLogger("silent").logger,
    nextId: () => String(++nextId),
    rejectConfig: () => undefined,
    metrics: new Metrics(),
    secrets: store.secrets,
    kv: store.kv,
    dataDir: dir,
    version: "1.0.0",
    async request(r) {
      requests.push(r);
      return { ok: true };
    },
    async offerConfig() {
      return { ok: true };
    },
    async offerFirmware() {
      return { ok: true };
    },
    async lifecycle() {},
    presence() {},
    deviceRejoined() {},
    hold() {},
  };
  const adapter = new LierdaAdapter(raw as unknown as LierdaConfig, core);
  t.after(() => adapter.stop(3000));
  adapter.setDevices(devices(...naming.devices.map((d) => [naming.product, d] as [string, string])));
  adapter.start();
  const deadline = Date.now() + 10_000;
  while (!world.allOnline() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(world.allOnline());
  const doc = await world.deliverDocument(Buffer.from("{}"), 5000);
  assert.equal(doc.ok, true);
  const key = `${naming.product}/${naming.devices[0]}`;
  const done = await adapter.send(key, [{ kind: "properties", seq: 1, device: key, time: Date.now(), attempts: 0, values: [{ identifier: "temp", value: 20.5, time: Date.now() }] }]).done;
  assert.equal(done[0]!.result, "ok");
  assert.deepEqual(world.accepted().map((v) => [v.device, v.identifier, v.value]), [[key, "temp", 20.5]]);
  assert.deepEqual(await world.setProperty(key, { sp: 5 }, 5000), { ok: true, code: "200" });
  assert.deepEqual(requests, [{ kind: "propertySet", device: key, values: { sp: 5 } }]);
  await adapter.stop(3000);
  assert.ok(world.wentOffline().length >= 3);
});
