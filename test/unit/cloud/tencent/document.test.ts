/**
 * The platform's document rules (tencent.md 5.1, decision 30) where the core checks documents: `checkDocument` of
 * the bootstrap part, run by the parser in the daemon and by `fieldbridge check --gateway-config`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { checkDocumentDevices } from "../../../../src/cloud/tencent/document.js";
import { documentCheck } from "../../../../src/cloud/bootstraps.js";
import { validateBootstrap, type BootstrapConfig } from "../../../../src/config/bootstrap/load.js";
import { formatPath } from "../../../../src/config/gateway/problems.js";
import { loadGatewayDocument } from "../../../../src/config/gateway/index.js";
import { checkDocumentFile, namedDevicesDoc } from "../../../helpers/gwdoc.js";

const example = JSON.parse(readFileSync(new URL("../../../../config/config.tencent.example.json", import.meta.url), "utf8")) as Record<string, unknown>;
const tencentBootstrap = (): BootstrapConfig => validateBootstrap({ ...example, dataDir: tmpdir() }, tmpdir());

const doc = (names: string[], productKey = "FBMBPRD001") => namedDevicesDoc(names, productKey);
const check = checkDocumentFile;

test("document devices: ProductIds of 10 × [A-Z0-9], never the gateway's own pair", () => {
  const gw = { productId: "FBGWPRD001", deviceName: "fb-gw-01" };
  assert.deepEqual(checkDocumentDevices([{ productKey: "FBMBPRD001", deviceName: "mb-dev-01" }, { productKey: "FBGWPRD001", deviceName: "fb-gw-02" }], gw), []);
  const problems = checkDocumentDevices(
    [
      { productKey: "fbmbprd001", deviceName: "a" },
      { productKey: "FBMBPRD0011", deviceName: "b" },
      { productKey: "FBMB-RD001", deviceName: "c" },
      { productKey: "FBGWPRD001", deviceName: "fb-gw-01" },
      "not an object",
    ],
    gw,
  );
  assert.deepEqual(problems.map((p) => formatPath(p.path)), ["deviceList[0].productKey", "deviceList[1].productKey", "deviceList[2].productKey", "deviceList[3]"]);
});

test("check --gateway-config with a tencent bootstrap reports both rules as path: message", async () => {
  const bad = await check(doc(["mb-dev-01", "mb-dev-02"], "a1TestMeter"), tencentBootstrap());
  assert.equal(bad.ok, false);
  assert.ok(bad.lines.includes("deviceList[0].productKey: must be a ProductId of 10 characters A-Z 0-9 on platform tencent"), bad.lines.join("\n"));
  assert.ok(bad.lines.includes("deviceList[1].productKey: must be a ProductId of 10 characters A-Z 0-9 on platform tencent"), bad.lines.join("\n"));

  // The example's gateway is FBGWPRD001/fb-gw-01.
  const own = await check(doc(["mb-dev-01", "fb-gw-01"], "FBGWPRD001"), tencentBootstrap());
  assert.equal(own.ok, false);
  assert.ok(own.lines.includes("deviceList[1]: is the gateway itself (its own product belongs in tslList only)"), own.lines.join("\n"));

  const good = await check(doc(["mb-dev-01", "mb-dev-02"]), tencentBootstrap());
  assert.equal(good.ok, true, good.lines.join("\n"));
});

test("in the daemon's parser a device the platform refuses is an error and is left out", () => {
  const checkDocument = documentCheck(tencentBootstrap())!;
  const d = doc(["mb-dev-01", "fb-gw-01"], "FBGWPRD001");
  const r = loadGatewayDocument(Buffer.from(JSON.stringify(d)), { serialPorts: {}, gatewayDeviceSecret: "", checkDocument });
  assert.deepEqual(r.problems.filter((p) => p.severity === "error").map((p) => `${p.path}: ${p.message}`), ["deviceList[1]: is the gateway itself (its own product belongs in tslList only)"]);
  assert.deepEqual(r.config.devices.map((x) => x.key), ["FBGWPRD001/mb-dev-01"]);
});
