/**
 * A document that leaves a product out of tslList (config/gateway/cloud-tsl.ts): an error where the platform cannot
 * fetch thing models; where it can, the product is pending (devices kept without mapping) or takes its cached model,
 * which goes through the checks of a pushed TSL; `fieldbridge check` says so, with the data dir's cache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { parseGatewayConfig, type ParseContext } from "../../src/config/gateway/index.js";
import { cloudTslProblems } from "../../src/config/gateway/cloud-tsl.js";
import { checkGatewayConfigFile } from "../../src/config/gateway/check.js";
import { openStore } from "../../src/store/store.js";
import { TslCache } from "../../src/store/tsl-cache.js";
import { meterTsl, modbusDoc, METER } from "../helpers/gwdoc.js";
import { captureLogger } from "../helpers/log-capture.js";

const doc = (): Record<string, unknown> => ({ ...modbusDoc({ devices: 2, points: 1 }), tslList: [] });
const ctx = (extra: Partial<ParseContext> = {}): ParseContext => ({ serialPorts: {}, gatewayDeviceSecret: "", ...extra });
const errors = (r: ReturnType<typeof parseGatewayConfig>) => r.problems.filter((p) => p.severity === "error");

test("without fetching, a product missing from tslList is an error and its devices do not run", () => {
  const r = parseGatewayConfig(doc(), ctx());
  assert.ok(errors(r).some((p) => p.message === `no tslList entry for product "${METER}"`));
  assert.equal(r.config.devices.length, 0);
  assert.equal(r.config.cloudTsl, undefined);
});

test("on a platform that fetches, the product is pending: devices kept without mapping, a warning each", () => {
  const r = parseGatewayConfig(doc(), ctx({ fetchTsl: true }));
  assert.deepEqual(errors(r), []);
  assert.deepEqual(r.config.cloudTsl, { pending: [METER], fetched: [] });
  assert.equal(r.config.devices.length, 2);
  assert.ok(r.config.devices.every((d) => d.modbus?.points.length === 0));
  assert.equal(r.problems.filter((p) => p.message.includes("its TSL is fetched from the cloud")).length, 2);
  assert.equal(r.config.products[METER], undefined);
});

test("a cached model is used as a tslList entry: the mapping is checked against it; problems name the cloud model", () => {
  const good = parseGatewayConfig(doc(), ctx({ fetchTsl: true, cloudTsls: { [METER]: meterTsl(1) } }));
  assert.deepEqual(errors(good), []);
  assert.deepEqual(good.config.cloudTsl, { pending: [], fetched: [METER] });
  assert.ok(good.config.devices.every((d) => (d.modbus?.points.length ?? 0) > 0));
  assert.ok(good.config.products[METER]);

  const bad = meterTsl(1);
  bad.properties![0]!.dataType = { type: "text", specs: { length: "8" } };
  const r = parseGatewayConfig(doc(), ctx({ fetchTsl: true, cloudTsls: { [METER]: bad } }));
  const lines = errors(r).map((p) => `${p.path}: ${p.message}`);
  assert.ok(lines.some((l) => /cannot feed the text property "P0"/.test(l)), lines.join("\n"));

  const dup = meterTsl(1);
  dup.properties!.push({ identifier: "P0", accessMode: "r", dataType: { type: "int", specs: {} } });
  const d = errors(parseGatewayConfig(doc(), ctx({ fetchTsl: true, cloudTsls: { [METER]: dup } }))).map((p) => `${p.path}: ${p.message}`);
  assert.ok(d.some((l) => l.startsWith(`cloudTsl["${METER}"].properties[4].identifier: `) && l.includes("defined twice")), d.join("\n"));
  assert.ok([...lines, ...d].every((l) => !/tslList\[\d+\]/.test(l)), "no made-up tslList index");
});

test("cloudTslProblems: a template for another product, one that breaks the mapping, and a good one", () => {
  const parse = (models: Record<string, unknown>) => parseGatewayConfig(doc(), ctx({ fetchTsl: true, cloudTsls: models as never })).problems;
  assert.match(cloudTslProblems(METER, { profile: { productKey: "other" } }, {}, parse)[0]!, /for product "other"/);
  assert.match(cloudTslProblems(METER, "nope", {}, parse)[0]!, /not a JSON object/);
  const broken = meterTsl(1);
  broken.properties = broken.properties!.filter((p) => p.identifier !== "Setpoint");
  assert.ok(cloudTslProblems(METER, broken, {}, parse).some((l) => l.includes('no property "Setpoint"')));
  assert.deepEqual(cloudTslProblems(METER, { ...meterTsl(1), profile: { productKey: METER, deviceName: "meter-000" } }, {}, parse), []);
});

test("fieldbridge check names the products to fetch, and uses the models cached in the data dir", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fb-cloudtsl-"));
  try {
    const file = join(dir, "doc.json");
    writeFileSync(file, JSON.stringify(doc()));
    const bootstrap = { serialPorts: {}, dataDir: join(dir, "data"), gateway: { platform: "aliyun", deviceSecret: "0123456789abcdef0123456789abcdef" }, mqtt: {}, sessions: {} };
    const run = async () => {
      const out = new PassThrough();
      let text = "";
      out.on("data", (c: Buffer) => (text += c.toString("utf8")));
      const ok = await checkGatewayConfigFile(file, bootstrap as never, out);
      return { ok, text };
    };
    const first = await run();
    assert.equal(first.ok, true, first.text);
    assert.match(first.text, new RegExp(`product ${METER}: no tslList entry; its TSL will be fetched from the cloud`));
    assert.match(first.text, /device a1TestMeter\/meter-000 \(slave 1\): mapped once its TSL is fetched from the cloud/);

    const store = openStore(bootstrap.dataDir, { logger: captureLogger().logger, sync: "normal", records: { maxBytes: 1e7, maxAgeHours: 24 } } as never);
    new TslCache(store.kv).put(METER, meterTsl(1));
    store.close();
    const second = await run();
    assert.equal(second.ok, true, second.text);
    assert.match(second.text, new RegExp(`product ${METER}: TSL from the cloud \\(cached\\)`));
    assert.match(second.text, /device a1TestMeter\/meter-000 \(slave 1\): 4 points/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
