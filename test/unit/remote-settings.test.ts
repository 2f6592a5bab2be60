/**
 * Remote settings in the core: which keys a settings file may set and how it is checked (the bootstrap schema),
 * and the persisted file at start: applied over the bootstrap file, or ignored with a warning when it is not valid.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validateBootstrap } from "../../src/config/bootstrap/load.js";
import { settableKeys, validateRemoteSettings } from "../../src/config/bootstrap/remote-keys.js";
import { RemoteSettings, REMOTE_SETTINGS_FILE } from "../../src/core/remote-settings.js";
import { captureLogger } from "../helpers/log-capture.js";

const problemsOf = (raw: unknown) => {
  const r = validateRemoteSettings(raw, "aliyun");
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

test("only store, field, uplink, telemetry and log.level can be set; others are forbidden or unknown, values checked", () => {
  const keys = settableKeys();
  assert.ok(keys.includes("log.level") && keys.includes("uplink.batchWindowMs") && keys.includes("store.inFlight") && keys.includes("field.modbusTimeoutMs"));
  assert.ok(!keys.some((k) => /^(mqtt|gateway|download|http|ota|dataDir|serialPorts|subDevices|gatewayConfig|sessions|aliyun)\b/.test(k)));

  const ok = validateRemoteSettings({ log: { level: "debug" }, uplink: { batchWindowMs: 500 }, telemetry: { intervalSeconds: 0 } }, "aliyun");
  assert.deepEqual(ok, { ok: true, settings: { "log.level": "debug", "uplink.batchWindowMs": 500, "telemetry.intervalSeconds": 0 } });
  assert.deepEqual(validateRemoteSettings({}, "aliyun"), { ok: true, settings: {} });

  for (const k of ["mqtt", "gateway", "dataDir", "http", "download", "ota", "sessions", "subDevices"]) {
    assert.deepEqual(problemsOf({ [k]: {} }), [`${k}: cannot be set remotely (credentials, hosts, paths and access stay in the bootstrap file)`]);
  }
  assert.deepEqual(problemsOf({ colour: "blue" }), ["colour: unknown key"]);
  assert.deepEqual(problemsOf({ store: { compress: true } }), ["store.compress: unknown key"]);
  assert.deepEqual(problemsOf({ log: { level: "debug", file: "/tmp/x" } }), ["log.file: unknown key"]);
  assert.deepEqual(problemsOf({ uplink: { batchWindowMs: -1 } }), ["uplink.batchWindowMs: must be >= 0"]);
  assert.deepEqual(problemsOf({ log: { level: "loud" } }), ['log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"']);
  assert.deepEqual(problemsOf([1]), ["$: must be a JSON object"]);
  assert.equal(problemsOf({ mqtt: { host: "x" }, colour: 1, uplink: { batchWindowMs: "x" } }).length, 3, "every problem is listed");
});

test("at start a persisted file applies over the bootstrap file; an invalid one is ignored with a warning", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "fb-remote-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const bootstrap = validateBootstrap({ gateway: { productKey: "a1Gw", deviceName: "gw-0001", deviceSecret: "s" }, dataDir, uplink: { batchWindowMs: 150 } }, dir);
  const make = () => {
    const cap = captureLogger("info");
    return { cap, rs: new RemoteSettings({ bootstrap, logger: cap.logger, download: { allowHttp: false, timeoutMs: 1000 } }) };
  };
  const file = join(dataDir, REMOTE_SETTINGS_FILE);

  let { cap, rs } = make();
  assert.equal(rs.effective, bootstrap, "no file: the bootstrap file as it is");
  assert.equal(rs.status().id, null);

  writeFileSync(file, JSON.stringify({ id: "cfg-1", digest: "ab", receivedAt: 1, settings: { uplink: { batchWindowMs: 900 }, store: { inFlight: 4 } } }));
  ({ cap, rs } = make());
  assert.equal(rs.effective.uplink.batchWindowMs, 900);
  assert.equal(rs.effective.store.inFlight, 4);
  assert.equal(bootstrap.uplink.batchWindowMs, 150, "the bootstrap config is not modified: it stays the fallback");
  assert.equal(rs.status().id, "cfg-1");
  assert.equal(rs.status().source, "persisted");
  assert.deepEqual(rs.status().pendingRestart, []);

  for (const bad of ["{not json", JSON.stringify({ id: "cfg-2", digest: "ab", receivedAt: 1, settings: { mqtt: { host: "x" } } }), JSON.stringify({ settings: {} })]) {
    writeFileSync(file, bad);
    ({ cap, rs } = make());
    assert.equal(rs.effective, bootstrap);
    assert.equal(rs.status().id, null);
    assert.ok(cap.find("persisted remote settings are not valid; ignored (bootstrap file applies)"), bad);
  }
});
