/**
 * The Huawei contract world against the Huawei adapter: its bootstrap config passes this platform's schema and
 * connects every provisioned device, its document delivery reaches the core, its records and helpers see what the
 * adapter does (values, sets, outage, refusals, offline announcements).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Ajv } from "ajv";
import { HuaweiAdapter } from "../../../src/cloud/huawei/adapter.js";
import { bootstrap } from "../../../src/cloud/huawei/bootstrap.js";
import type { PlatformDevice } from "../../../src/cloud/platform.js";
import type { BootstrapConfig, ConfigProblem } from "../../../src/config/bootstrap/load.js";
import { createLogger } from "../../../src/ops/logger.js";
import { openStore } from "../../../src/store/store.js";
import type { TslDocument } from "../../../src/things/tsl-types.js";
import { createWorld } from "../../../src/sim/cloud/huawei/world.js";
import { FakeCore, removeDir, until } from "./rig.js";
import { TEST_PKI_DIR } from "../../../src/sim/cloud/tls-material.js";

/** The world's bootstrap with the test CA as \`mqtt.caFile\` (the daemon's rig writes the world's CA to a file). */
function withCa(raw: Record<string, unknown>): Record<string, unknown> {
  const mqtt = raw["mqtt"] as Record<string, unknown>;
  return { ...raw, mqtt: { ...mqtt, ...(mqtt["tls"] !== false ? { caFile: join(TEST_PKI_DIR, "ca.pem") } : {}) } };
}

const validate = new Ajv({ useDefaults: true, allErrors: true, strict: true, strictTypes: false }).compile({
  type: "object",
  properties: {
    gateway: { type: "object", additionalProperties: false, required: ["platform", ...bootstrap.gateway.required], properties: { platform: { const: "huawei" }, ...bootstrap.gateway.properties } },
    mqtt: { type: "object", additionalProperties: false, required: bootstrap.mqtt.required, properties: bootstrap.mqtt.properties },
    ...bootstrap.sections,
    subDevices: { type: "array", default: [], items: bootstrap.subDevice },
  },
});

function adapterFor(raw: Record<string, unknown>, dir: string) {
  const { download: _d, ...mine } = raw;
  assert.ok(validate(mine), JSON.stringify(validate.errors));
  const problems: ConfigProblem[] = [];
  const cfg = { ...mine, dataDir: dir, download: { allowHttp: false, maxBytes: 1_000_000, timeoutSeconds: 10 } } as unknown as BootstrapConfig;
  bootstrap.finish(cfg, problems);
  assert.deepEqual(problems, []);
  const logger = createLogger("silent");
  const store = openStore(dir, { logger, sync: "normal" });
  const core = new FakeCore(store, logger, dir);
  return { adapter: new HuaweiAdapter(cfg, core), core, store };
}

const TSL = (pk: string): TslDocument => ({
  profile: { productKey: pk },
  properties: [{ identifier: "Setpoint", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "100" } } }],
});

test("the contract world drives the Huawei adapter", async () => {
  const world = await createWorld({ tls: true });
  const dir = mkdtempSync(join(tmpdir(), "fb-huawei-world-"));
  try {
    const naming = world.naming(3);
    await world.provision(naming, TSL(naming.product));
    const { adapter, core, store } = adapterFor(withCa(world.bootstrap()), dir);
    const devices: PlatformDevice[] = naming.devices.map((n) => {
      const k = `${naming.product}/${n}`;
      return { key: k, productKey: naming.product, deviceName: n, tsl: TSL(naming.product), spec: { key: k, productKey: naming.product, deviceName: n, serverId: "mb1", modbus: { slaveId: 1, points: [] } } };
    });
    core.offerResult = () => {
      adapter.setDevices(devices);
      return { ok: true };
    };
    try {
      adapter.start();
      await until(() => adapter.status().connected, 5000, "gateway online");
      const doc = await world.deliverDocument(Buffer.from('{"serverList":[],"deviceList":[],"modelList":[],"tslList":[]}'), 5000);
      assert.deepEqual([doc.ok, doc.code], [true, 200]);
      await until(() => world.allOnline(), 5000, "all online");
      const k0 = devices[0]!.key;
      const t = Date.parse("2026-11-23T19:47:30.600Z");
      await until(() => adapter.ready(k0, k0), 2000, "ready");
      const r = await adapter.send(k0, [{ kind: "properties", seq: 1, device: k0, time: t, attempts: 0, values: [{ identifier: "Setpoint", value: 42, time: t }] }]).done;
      assert.deepEqual(r.map((x) => x.result), ["ok"]);
      assert.deepEqual(world.accepted(), [{ device: k0, identifier: "Setpoint", value: 42, time: Date.parse("2026-11-23T19:47:30Z") }]);
      const set = await world.setProperty(devices[1]!.key, { Setpoint: 7 }, 3000);
      assert.deepEqual(set, { ok: true, code: 200 });
      await world.outage();
      await until(() => !world.online(k0), 3000, "offline in the outage");
      await world.restore();
      await until(() => world.allOnline() && adapter.status().connected && devices.every((d) => adapter.ready(d.key, d.key)), 8000, "back online");
      const before = world.wentOffline().length;
      await adapter.stop(3000);
      await until(() => world.wentOffline().length === before + 4, 2000, "DISCONNECTs");
      const last = world.wentOffline().slice(before);
      assert.deepEqual(last.slice(0, 3).sort(), devices.map((d) => d.key).sort());
      assert.equal(last[3], "5f1e2d3c4b5a69788796a000/fb-gateway-01", "the gateway last");
    } finally {
      await adapter.stop(1000);
      store.close();
    }
    const wrong = adapterFor(withCa(world.bootstrap({ wrongSecret: true })), mkdtempSync(join(tmpdir(), "fb-huawei-world-")));
    try {
      wrong.adapter.start();
      await until(() => world.refusedConnects().length >= 1, 3000, "a refusal");
    } finally {
      await wrong.adapter.stop(1000);
      wrong.store.close();
      removeDir(wrong.core.dataDir);
    }
  } finally {
    await world.close();
    removeDir(dir);
  }
});
