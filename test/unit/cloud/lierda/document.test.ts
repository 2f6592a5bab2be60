/**
 * The platform's document rules (lierda.md §6.1) where the core checks documents: `checkDocument` of the
 * bootstrap part, run by the parser in the daemon and by `fieldbridge check --gateway-config`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { checkDocumentDevices } from "../../../../src/cloud/lierda/document.js";
import { documentCheck } from "../../../../src/cloud/bootstraps.js";
import { validateBootstrap, type BootstrapConfig } from "../../../../src/config/bootstrap/load.js";
import { formatPath } from "../../../../src/config/gateway/problems.js";
import { loadGatewayDocument } from "../../../../src/config/gateway/index.js";
import { checkDocumentFile, namedDevicesDoc } from "../../../helpers/gwdoc.js";

const example = (name: string) => JSON.parse(readFileSync(new URL(`../../../../config/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;
const lierdaBootstrap = (): BootstrapConfig => validateBootstrap({ ...example("config.lierda.example.json"), dataDir: tmpdir() }, tmpdir());
const aliyunBootstrap = (): BootstrapConfig => validateBootstrap({ ...example("config.example.json"), dataDir: tmpdir() }, tmpdir());

const doc = (names: string[], productKey = "B1C2D3E4") => namedDevicesDoc(names, productKey);
const check = checkDocumentFile;

test("document devices: 8-hex ProductID, NodeEui form, unique pairs, not the gateway (§6.1)", () => {
  const gw = { productId: "AA30C505", nodeEui: "FBGW0001" };
  assert.deepEqual(checkDocumentDevices([{ productKey: "B1C2D3E4", deviceName: "METER01" }, { productKey: "b1c2d3e4", deviceName: "METER02" }], gw), []);
  const problems = checkDocumentDevices(
    [
      { productKey: "a1Sub", deviceName: "METER01" },
      { productKey: "B1C2D3E4", deviceName: "me-ter" },
      { productKey: "aa30c505", deviceName: "FBGW0001" },
      { productKey: "B1C2D3E4", deviceName: "METER01" },
      { productKey: "b1c2d3e4", deviceName: "METER01" },
      "not an object",
    ],
    gw,
  );
  assert.deepEqual(problems.map((p) => formatPath(p.path)), ["deviceList[0].productKey", "deviceList[1].deviceName", "deviceList[2]", "deviceList[4]"]);
  assert.match(problems[3]!.message, /deviceList\[3\]/);
});

test("check --gateway-config with a lierda bootstrap applies the platform's rules, as path: message", async () => {
  const bad = await check(doc(["meter-000", "METER001"], "a1TestMeter"), lierdaBootstrap());
  assert.equal(bad.ok, false);
  assert.ok(bad.lines.includes("deviceList[0].productKey: must be an 8-hex ProductID on platform lierda"), bad.lines.join("\n"));
  assert.ok(bad.lines.includes("deviceList[0].deviceName: must be a NodeEui of 4-32 letters/digits on platform lierda"), bad.lines.join("\n"));
  assert.ok(bad.lines.includes("deviceList[1].productKey: must be an 8-hex ProductID on platform lierda"), bad.lines.join("\n"));
  assert.match(bad.lines.at(-1)!, /invalid gateway config \(3 errors/);

  const own = await check(doc(["METER000", "FBGW0001"], "AA30C505"), lierdaBootstrap());
  assert.equal(own.ok, false);
  assert.ok(own.lines.includes("deviceList[1]: is the gateway's own device"), own.lines.join("\n"));

  const good = await check(doc(["METER000", "METER001"]), lierdaBootstrap());
  assert.equal(good.ok, true, good.lines.join("\n"));
});

test("the rules are the platform's: another platform, or no bootstrap file, does not apply them", async () => {
  const names = doc(["meter-000", "meter-001"], "a1TestMeter");
  assert.equal((await check(names, aliyunBootstrap())).ok, true);
  assert.equal((await check(names, undefined)).ok, true);
  assert.equal(documentCheck(aliyunBootstrap()), undefined);
});

test("in the parser a device the platform refuses is an error and is left out of the config", () => {
  const cfg = lierdaBootstrap();
  const checkDocument = documentCheck(cfg)!;
  const r = loadGatewayDocument(Buffer.from(JSON.stringify(doc(["METER000", "me-ter"]))), { serialPorts: {}, gatewayDeviceSecret: "", checkDocument });
  assert.deepEqual(r.problems.filter((p) => p.severity === "error").map((p) => `${p.path}: ${p.message}`), [
    "deviceList[1].deviceName: must be a NodeEui of 4-32 letters/digits on platform lierda",
  ]);
  assert.deepEqual(r.config.devices.map((d) => d.key), ["B1C2D3E4/METER000"]);
});
