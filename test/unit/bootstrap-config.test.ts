import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, statSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateBootstrap, loadBootstrap, prepareDataDir, ConfigError, jsonPointerToPath } from "../../src/config/bootstrap/load.js";

const minimal = () => ({ gateway: { productKey: "a1GwProduct", deviceName: "gw-001", deviceSecret: "0123456789abcdef0123456789abcdef" } });

function problems(raw: unknown): string[] {
  try {
    validateBootstrap(raw, "/etc/fieldbridge");
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

test("defaults follow the operator contract", () => {
  const cfg = validateBootstrap(minimal(), "/etc/fieldbridge");
  assert.equal(cfg.gateway.platform, "aliyun");
  assert.equal(cfg.gateway.regionId, "cn-shanghai");
  assert.equal(cfg.mqtt.host, "a1GwProduct.iot-as-mqtt.cn-shanghai.aliyuncs.com");
  assert.equal(cfg.mqtt.port, 1883);
  assert.equal(cfg.mqtt.tls, true);
  assert.equal(cfg.mqtt.keepaliveSeconds, 300);
  assert.equal(cfg.mqtt.signMethod, "hmacsha256");
  assert.equal(cfg.mqtt.clientId, "gw-001");
  assert.equal(cfg.dataDir, "/var/lib/fieldbridge");
  assert.deepEqual(cfg.serialPorts, {});
  assert.deepEqual(cfg.subDevices, []);
  assert.equal(cfg.download.allowHttp, false);
  assert.equal(cfg.http.listen, undefined);
  assert.equal(cfg.log.level, "info");
  assert.equal(cfg.store.sync, "full");
  assert.equal(cfg.store.maxBytes, 256 * 1024 * 1024);
  assert.equal(cfg.store.maxAgeHours, 24);
  assert.equal(cfg.sessions.maxOnline, 1500);
});

test("the region changes the default host; relative paths resolve against the config's folder", () => {
  const dir = mkdtempSync(join(tmpdir(), "fb-boot-"));
  try {
    copyFileSync(new URL("../fixtures/tls/ca.pem", import.meta.url), join(dir, "root.crt"));
    const cfg = validateBootstrap({ ...minimal(), gateway: { ...minimal().gateway, regionId: "ap-southeast-1" }, mqtt: { caFile: "root.crt" }, dataDir: "data" }, dir);
    assert.equal(cfg.mqtt.host, "a1GwProduct.iot-as-mqtt.ap-southeast-1.aliyuncs.com");
    assert.equal(cfg.mqtt.caFile, join(dir, "root.crt"));
    assert.equal(cfg.dataDir, join(dir, "data"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every problem is reported as path: message, unknown keys included", () => {
  const raw = minimal() as Record<string, any>;
  delete raw.gateway.deviceSecret;
  raw.mqtt = { keepaliveSeconds: 10, keepAlive: 60, signMethod: "sha256" };
  raw.datadir = "/tmp/x";
  raw.subDevices = [{ productKey: "p", deviceName: "x" }];
  const got = problems(raw);
  assert.ok(got.includes("gateway.deviceSecret: is required"), got.join("\n"));
  assert.ok(got.includes("mqtt.keepaliveSeconds: must be >= 30"), got.join("\n"));
  assert.ok(got.includes("mqtt.keepAlive: unknown key"), got.join("\n"));
  assert.ok(got.includes("datadir: unknown key"), got.join("\n"));
  assert.ok(got.some((l) => l.startsWith("mqtt.signMethod: must be one of")), got.join("\n"));
  assert.ok(got.includes("subDevices[0].deviceSecret: is required"), got.join("\n"));
  assert.ok(got.some((l) => l.startsWith("subDevices[0].deviceName:")), got.join("\n"));
});

test("keepalive above 1200 and a missing CA file are refused", () => {
  const got = problems({ ...minimal(), mqtt: { keepaliveSeconds: 1201 } });
  assert.deepEqual(got, ["mqtt.keepaliveSeconds: must be <= 1200"]);
  const ca = problems({ ...minimal(), mqtt: { caFile: "/nonexistent/root.crt" } });
  assert.deepEqual(ca, ["mqtt.caFile: cannot read /nonexistent/root.crt"]);
});

test("duplicate pre-provisioned sub-devices are refused", () => {
  const d = { productKey: "a1Sub", deviceName: "meter-01", deviceSecret: "s" };
  assert.deepEqual(problems({ ...minimal(), subDevices: [d, d] }), ["subDevices[1]: duplicate sub-device a1Sub/meter-01"]);
});

test("a missing or malformed file is a clear error", () => {
  assert.throws(() => loadBootstrap("/nonexistent/fieldbridge.json"), /config file \/nonexistent\/fieldbridge.json not found/);
  const dir = mkdtempSync(join(tmpdir(), "fb-boot-"));
  try {
    writeFileSync(join(dir, "c.json"), "{ not json");
    assert.throws(() => loadBootstrap(join(dir, "c.json")), (e: unknown) => e instanceof ConfigError && /^\$: invalid JSON/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the data dir is created with mode 0700 and must be writable", () => {
  const dir = mkdtempSync(join(tmpdir(), "fb-data-"));
  try {
    const data = join(dir, "a", "b");
    prepareDataDir(data);
    assert.equal(statSync(data).mode & 0o777, 0o700);
    const blocked = join(dir, "file");
    writeFileSync(blocked, "");
    assert.throws(() => prepareDataDir(join(blocked, "sub")), /data dir .* lies below .*file, which is not a directory \(ENOTDIR\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("JSON pointers become operator paths", () => {
  assert.equal(jsonPointerToPath("/mqtt/keepaliveSeconds"), "mqtt.keepaliveSeconds");
  assert.equal(jsonPointerToPath("/subDevices/3/deviceName"), "subDevices[3].deviceName");
  assert.equal(jsonPointerToPath(""), "$");
});
