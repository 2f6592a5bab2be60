/**
 * The core's side of thing models from the cloud, with a fake platform: devices of a pending product are held before
 * the apply and released after the apply that brings the model; a device that cannot give the model (6321) makes the
 * next attempt go through another one; a failure is retried; a refused template is reported once and caches nothing.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudTslManager } from "../../src/core/cloud-tsl.js";
import type { TslFetch } from "../../src/cloud/platform.js";
import type { GatewayConfig } from "../../src/config/gateway/index.js";
import { storeOpener } from "../helpers/store.js";
import { TslCache } from "../../src/store/tsl-cache.js";
import { captureLogger } from "../helpers/log-capture.js";
import { meterTsl } from "../helpers/gwdoc.js";
import { until } from "../helpers/harness.js";

const PK = "a1Pending";
const devices = [`${PK}/m-01`, `${PK}/m-02`];
const open = storeOpener("normal");

function tempStore(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "fb-cloudtsl-mgr-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return open(t, dir);
}

const config = (pending: boolean): GatewayConfig => ({
  channels: [],
  devices: devices.map((key) => ({ key, productKey: PK, deviceName: key.split("/")[1]!, serverId: "S1", modbus: { slaveId: 1, points: [] } })),
  products: {},
  cloudTsl: pending ? { pending: [PK], fetched: [] } : { pending: [], fetched: [PK] },
});

test("held until the model is known; 6321 moves to another device; a failure is retried; then cached and released", async (t) => {
  const cap = captureLogger();
  const store = tempStore(t);
  const cache = new TslCache(store.kv);
  const holds: string[] = [];
  const asked: string[] = [];
  const answers: TslFetch[] = [
    { ok: false, reason: "refused 6321: tsl: device not exist in product", otherDevice: true },
    { ok: false, reason: "no reply within 3000 ms" },
    { ok: true, tsl: { ...meterTsl(1, PK), profile: { productKey: PK, deviceName: "m-02" } } },
  ];
  let reapplied = 0;
  let mgr!: CloudTslManager;
  mgr = new CloudTslManager({
    cache, logger: cap.logger,
    fetch: async (_pk, via) => (asked.push(via), answers.shift()!),
    onlineDevices: () => devices,
    hold: async (d, held) => void holds.push(`${held ? "+" : "-"}${d}`),
    check: () => [],
    reapply: async () => {
      reapplied++;
      await mgr.beforeApply(config(false));
      await mgr.afterApply(config(false));
    },
    retryMinMs: 50, retryMaxMs: 100,
  });
  await mgr.beforeApply(config(true));
  assert.deepEqual(holds, devices.map((d) => `+${d}`), "held before the field side starts them");
  await mgr.afterApply(config(true));
  assert.equal(holds.length, 2, "still held after an apply without the model");
  await until(() => reapplied === 1, 5000, "the accepted template");
  assert.deepEqual(asked, [devices[0], devices[1], devices[0]], "6321: the next device is asked at once; a timeout is retried later");
  assert.deepEqual(holds.slice(2), devices.map((d) => `-${d}`), "released after the apply with the model");
  assert.ok(cache.all()[PK], "cached");
  assert.deepEqual(mgr.status().map((s) => [s.productKey, s.state]), [[PK, "cached"]]);
  mgr.stop();
});

test("a refused template: logged once with its problems, nothing cached, devices stay held", async (t) => {
  const cap = captureLogger();
  const store = tempStore(t);
  const cache = new TslCache(store.kv);
  const holds: string[] = [];
  let fetches = 0;
  const mgr = new CloudTslManager({
    cache, logger: cap.logger,
    fetch: async () => (fetches++, { ok: true, tsl: { profile: { productKey: PK } } }),
    onlineDevices: () => devices,
    hold: async (d, held) => void holds.push(`${held ? "+" : "-"}${d}`),
    check: () => ['modelList[0].properties[0].identifier: no property "P0" in the TSL'],
    reapply: async () => assert.fail("a refused template must not be applied"),
    refusedRetryMs: 10,
  });
  await mgr.beforeApply(config(true));
  await until(() => fetches >= 3, 5000, "refetches");
  mgr.stop();
  const refusals = cap.lines().filter((l) => l["msg"] === "TSL template from the cloud refused: its devices stay unpolled");
  assert.equal(refusals.length, 1, "the same problems are logged once");
  assert.deepEqual(refusals[0]!["problems"], ['modelList[0].properties[0].identifier: no property "P0" in the TSL']);
  assert.deepEqual(cache.all(), {});
  assert.deepEqual(holds, devices.map((d) => `+${d}`));
  const st = mgr.status()[0]!;
  assert.equal(st.state, "refused");
  assert.equal(st.problems?.length, 1);
});
