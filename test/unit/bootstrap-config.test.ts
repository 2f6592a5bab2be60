import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, statSync, readFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { validateBootstrap, validateBootstrapWithWarnings, loadBootstrap, prepareDataDir, ConfigError, jsonPointerToPath } from "../../src/config/bootstrap/load.js";
import { commonSchema, composeSchema, declaredKeys, foreignKeys, platformSchema } from "../../src/config/bootstrap/compose.js";
import { aliyunConfig, bootstrap as aliyunPart } from "../../src/cloud/aliyun/bootstrap.js";
import { bootstraps, type BootstrapRegistry } from "../../src/cloud/bootstraps.js";
import { PLATFORM_NAMES, type PlatformBootstrap, type PlatformName } from "../../src/cloud/platform.js";
import { withBuildParts, huawei as reducedHuawei } from "../helpers/bootstrap-parts.js";

const minimal = () => ({ gateway: { productKey: "a1GwProduct", deviceName: "gw-001", deviceSecret: "0123456789abcdef0123456789abcdef" } });

function problems(raw: unknown, registry?: BootstrapRegistry): string[] {
  try {
    validateBootstrap(raw, "/etc/fieldbridge", registry);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

test("defaults follow the operator contract", () => {
  const cfg = validateBootstrap(minimal(), "/etc/fieldbridge");
  assert.equal(cfg.gateway.platform, "aliyun");
  assert.equal(aliyunConfig(cfg).regionId, "cn-shanghai");
  assert.equal(cfg.mqtt.host, "a1GwProduct.iot-as-mqtt.cn-shanghai.aliyuncs.com");
  assert.equal(cfg.mqtt.port, 1883);
  assert.equal(cfg.mqtt.tls, true);
  assert.equal(cfg.mqtt.keepaliveSeconds, 300);
  assert.equal(aliyunConfig(cfg).signMethod, "hmacsha256");
  assert.equal(aliyunConfig(cfg).clientId, "gw-001");
  assert.equal(cfg.dataDir, "/var/lib/fieldbridge");
  assert.deepEqual(cfg.serialPorts, {});
  assert.deepEqual(cfg.subDevices, []);
  assert.equal(cfg.download.allowHttp, false);
  assert.equal(cfg.http.listen, undefined);
  assert.equal(cfg.log.level, "info");
  assert.equal(cfg.store.sync, "full");
  assert.equal(cfg.store.maxBytes, 256 * 1024 * 1024);
  assert.equal(cfg.store.maxAgeHours, 24);
  assert.equal(aliyunConfig(cfg).sessions.maxOnline, 1500);
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

// ---- per platform ----

/** Every platform: the build's real part, else the specs' keys in reduced form. */
const all = withBuildParts();
const partOf = (p: PlatformName): PlatformBootstrap => all[p]!;

/** A config for `platform` holding one key given as an operator path (`gateway.x`, `mqtt.x`, `section`, `subDevices[].x`). */
function withKey(platform: PlatformName, key: string): { raw: Record<string, any>; path: string } {
  const raw: Record<string, any> = { gateway: { platform } };
  const [head, rest] = key.split(/\.(.*)/s) as [string, string | undefined];
  if (head === "gateway") raw.gateway[rest!] = "x";
  else if (head === "mqtt") raw.mqtt = { [rest!]: "x" };
  else if (head === "subDevices[]") {
    raw.subDevices = [{ productKey: "p", deviceName: "dev-0001", deviceSecret: "s", [rest!]: "x" }];
    return { raw, path: `subDevices[0].${rest}` };
  } else raw[head] = {};
  return { raw, path: key };
}

test("a key of another platform is refused as not used on this platform, for every pair of platforms", () => {
  let checked = 0;
  for (const p of PLATFORM_NAMES) {
    const own = declaredKeys(partOf(p));
    for (const q of PLATFORM_NAMES) {
      if (q === p) continue;
      for (const key of [...declaredKeys(partOf(q)), q]) {
        if (own.has(key)) continue;
        const { raw, path } = withKey(p, key);
        const got = problems(raw, all);
        assert.ok(got.includes(`${path}: not used on platform ${p}`), `${key} of ${q} on ${p}:\n${got.join("\n")}`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 30, `only ${checked} cases`);
});

test("the examples of the specs: foreign keys are named, other unknown keys stay unknown", () => {
  assert.ok(problems({ gateway: { platform: "huawei", deviceId: "d-1", deviceSecret: "s", regionId: "cn-shanghai" }, mqtt: { host: "h" } }, all)
    .includes("gateway.regionId: not used on platform huawei"));
  assert.ok(problems({ gateway: { platform: "huawei", deviceId: "d-1", deviceSecret: "s" }, mqtt: { host: "h", clientId: "c" }, sessions: {} }, all)
    .includes("sessions: not used on platform huawei"));
  assert.deepEqual(problems({ ...minimal(), tencent: {}, huaweii: {} }, all), ["tencent: not used on platform aliyun", "huaweii: unknown key"]);
  // Another platform's own section is known by its name even when the build lacks that platform.
  assert.deepEqual(problems({ ...minimal(), lierda: {} }), ["lierda: not used on platform aliyun"]);
  assert.deepEqual(problems({ ...minimal(), mqtt: { signMethod: "hmacsha256", clientld: "x" } }, all), ["mqtt.clientld: unknown key"]);
});

test("no platform's schema admits a key that only another platform declares", () => {
  for (const p of PLATFORM_NAMES) {
    const schema = composeSchema(partOf(p)) as any;
    const props = (o: any): string[] => Object.keys(o?.properties ?? {});
    const admitted = new Set([
      ...props(schema.properties.gateway).map((k) => `gateway.${k}`),
      ...props(schema.properties.mqtt).map((k) => `mqtt.${k}`),
      ...props(schema),
      ...props(schema.properties.subDevices.items).map((k) => `subDevices[].${k}`),
    ]);
    const own = declaredKeys(partOf(p));
    for (const q of PLATFORM_NAMES.filter((x) => x !== p)) {
      for (const key of [...declaredKeys(partOf(q)), q]) {
        if (!own.has(key)) assert.ok(!admitted.has(key), `${p} admits ${key} of ${q}`);
      }
    }
    // Closed objects: a key not listed is refused, whatever platform it comes from.
    assert.equal(schema.additionalProperties, false, p);
    for (const k of ["gateway", "mqtt"]) assert.equal(schema.properties[k].additionalProperties, false, `${p}: ${k}`);
    assert.equal(schema.properties.subDevices.items.additionalProperties, false, `${p}: subDevices[]`);
    for (const name of Object.keys(partOf(p).sections)) assert.equal(schema.properties[name].additionalProperties, false, `${p}: ${name}`);
    assert.ok(foreignKeys(p, all).size > 0, p);
  }
});

test("gateway.platform is read first and must name a platform", () => {
  const msg = 'gateway.platform: must be one of "aliyun", "tencent", "huawei", "lierda"';
  assert.deepEqual(problems({ gateway: { ...minimal().gateway, platform: "azure" }, datadir: "x" }), [msg]);
  assert.deepEqual(problems({ gateway: { platform: 5 } }), [msg]);
  assert.deepEqual(commonSchema().properties!["gateway"]!["properties"], {
    ...(commonSchema().properties!["gateway"]!["properties"] as object),
    platform: { enum: [...PLATFORM_NAMES], default: "aliyun", description: "cloud adapter" },
  });
  // A platform that this build does not have.
  assert.deepEqual(problems({ gateway: { platform: "huawei" } }, { aliyun: aliyunPart }), ["gateway.platform: platform huawei is not part of this build"]);
  // The platform's own required keys, not Alibaba's.
  assert.deepEqual(problems({ gateway: { platform: "huawei", deviceId: "d-1" } }, all).sort(), ["gateway.deviceSecret: is required", "mqtt.host: is required"]);
});

test("each platform's schema is compiled once", () => {
  assert.equal(platformSchema("aliyun"), platformSchema("aliyun"));
  assert.equal(platformSchema("huawei", all), platformSchema("huawei", all));
  assert.notEqual(platformSchema("aliyun", all), platformSchema("huawei", all));
});

test("a part may not redefine a common key", () => {
  const bad = (over: Partial<PlatformBootstrap>) => () => composeSchema({ ...aliyunPart, ...over });
  assert.throws(bad({ gateway: { properties: { firmwareVersion: { type: "string" } }, required: [] } }), /gateway.firmwareVersion is a common key/);
  assert.throws(bad({ sections: { dataDir: {} } }), /section dataDir is not its own/);
  assert.throws(bad({ sections: { tencent: {} } }), /section tencent is not its own/);
});

test("gatewayConfig.file must be a readable file; relative to the config's folder", () => {
  assert.deepEqual(problems({ ...minimal(), gatewayConfig: { file: "/nonexistent/doc.json" } }), ["gatewayConfig.file: cannot read /nonexistent/doc.json"]);
  const dir = mkdtempSync(join(tmpdir(), "fb-boot-"));
  try {
    assert.deepEqual(problems({ ...minimal(), gatewayConfig: { file: dir } }), [`gatewayConfig.file: ${dir} is not a file`]);
    writeFileSync(join(dir, "doc.json"), "{}");
    const cfg = validateBootstrap({ ...minimal(), gatewayConfig: { file: "doc.json" } }, dir);
    assert.equal(cfg.gatewayConfig.file, join(dir, "doc.json"));
    assert.deepEqual(problems({ ...minimal(), gatewayConfig: { path: "doc.json" } }), ["gatewayConfig.path: unknown key"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(validateBootstrap(minimal(), "/etc/fieldbridge").gatewayConfig.file, undefined);
});

test("Alibaba's keys and defaults are unchanged, behind the typed view", () => {
  const cfg = validateBootstrap(minimal(), "/etc/fieldbridge");
  assert.deepEqual(aliyunConfig(cfg), {
    productKey: "a1GwProduct", deviceName: "gw-001", deviceSecret: "0123456789abcdef0123456789abcdef", regionId: "cn-shanghai",
    signMethod: "hmacsha256", clientId: "gw-001", sessions: { maxOnline: 1500, loginsPerSecond: 50, batchSize: 10, pruneTopology: true }, tags: {},
  });
  assert.deepEqual({ ...cfg.mqtt }, {
    host: "a1GwProduct.iot-as-mqtt.cn-shanghai.aliyuncs.com", port: 1883, tls: true, keepaliveSeconds: 300, signMethod: "hmacsha256",
    clientId: "gw-001", reconnectMinSeconds: 1, reconnectMaxSeconds: 60, requestTimeoutSeconds: 10,
  });
  const own = validateBootstrap({ ...minimal(), mqtt: { host: "127.0.0.1", clientId: "c-1" } }, "/etc/fieldbridge");
  assert.equal(own.mqtt.host, "127.0.0.1");
  assert.equal(aliyunConfig(own).clientId, "c-1");
  assert.deepEqual(problems({ ...minimal(), mqtt: { reconnectMinSeconds: 5, reconnectMaxSeconds: 2 } }), ["mqtt.reconnectMaxSeconds: must be >= mqtt.reconnectMinSeconds"]);
  const hw = validateBootstrap({ gateway: { platform: "huawei", deviceId: "d-1", deviceSecret: "s" }, mqtt: { host: "h" } }, "/etc/fieldbridge", all);
  assert.throws(() => aliyunConfig(hw), /platform huawei, not aliyun/);
  assert.equal(hw.sessions, undefined);
});

test("finish and warnings of the platform's part run after the schema; warnings come back separately", () => {
  const registry: BootstrapRegistry = { ...bootstraps, huawei: reducedHuawei };
  const gateway = { platform: "huawei", deviceId: "d-1", deviceSecret: "s" };
  const r = validateBootstrapWithWarnings({ gateway, mqtt: { host: "h", tls: false } }, "/etc/fieldbridge", registry);
  assert.equal(r.config.mqtt.port, 1883);
  assert.deepEqual(r.warnings, [{ path: "mqtt.tls", message: "the platform accepts only MQTTS" }]);
  assert.deepEqual(validateBootstrapWithWarnings({ ...minimal() }, "/etc/fieldbridge").warnings, []);
});

test("the example config is valid", () => {
  const file = fileURLToPath(new URL("../../config/config.example.json", import.meta.url));
  const cfg = validateBootstrap(JSON.parse(readFileSync(file, "utf8")), "/etc/fieldbridge");
  assert.equal(cfg.gateway.platform, "aliyun");
});
