import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, ROOT } from "../helpers/cli.js";

function tempConfig(obj: unknown): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "fb-cli-"));
  const file = join(dir, "config.json");
  writeFileSync(file, typeof obj === "string" ? obj : JSON.stringify(obj));
  return { file, dir };
}

const example = join(ROOT, "config", "config.example.json");

test("--version and --help exit 0", async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const v = await runCli(["--version"]);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), `fieldbridge ${pkg.version}`);
  const h = await runCli(["--help"]);
  assert.equal(h.code, 0);
  for (const cmd of ["run", "check", "demo", "--gateway-config"]) assert.ok(h.stdout.includes(cmd), cmd);
});

test("check passes the example config", async () => {
  const r = await runCli(["check", "--config", example]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /valid bootstrap config/);
});

test("check reports a misspelt key, a missing deviceSecret and keepaliveSeconds 10, one path: message per line", async () => {
  const cfg = JSON.parse(readFileSync(example, "utf8"));
  delete cfg.gateway.deviceSecret;
  cfg.mqtt.keepaliveSeconds = 10;
  cfg.mqtt.signMetod = "hmacsha1";
  const { file, dir } = tempConfig(cfg);
  try {
    const r = await runCli(["check", "--config", file]);
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines.includes("gateway.deviceSecret: is required"), r.stdout);
    assert.ok(lines.includes("mqtt.keepaliveSeconds: must be >= 30"), r.stdout);
    assert.ok(lines.includes("mqtt.signMetod: unknown key"), r.stdout);
    assert.equal(lines.length, 3, r.stdout);
    assert.ok(!r.stdout.includes(JSON.parse(readFileSync(example, "utf8")).gateway.deviceSecret));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("check names the platform and refuses another platform's keys", async () => {
  const ok = await runCli(["check", "--config", example]);
  assert.match(ok.stdout, /valid bootstrap config for platform aliyun/);
  const cfg = JSON.parse(readFileSync(example, "utf8"));
  cfg.tencent = {};
  cfg.gateway.regionID = "cn-shanghai";
  const { file, dir } = tempConfig(cfg);
  try {
    const r = await runCli(["check", "--config", file]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), ["gateway.regionID: unknown key", "tencent: not used on platform aliyun"]);
    cfg.gateway.platform = "azure";
    writeFileSync(file, JSON.stringify(cfg));
    const bad = await runCli(["check", "--config", file]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout.trim(), 'gateway.platform: must be one of "aliyun", "tencent", "huawei", "lierda"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("FIELDBRIDGE_CONFIG names the config when --config is absent", async () => {
  const r = await runCli(["check"], { env: { FIELDBRIDGE_CONFIG: example } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test("run: a missing file, a bad config and an unwritable data dir are one-line fatal errors with exit 1", async () => {
  const missing = await runCli(["run", "--config", "/nonexistent/fieldbridge.json"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  assert.match(missing.stderr, /config file \/nonexistent\/fieldbridge.json not found/);

  const bad = tempConfig({ gateway: { productKey: "a1", deviceName: "gw-001", deviceSecret: "s" }, mqtt: { keepaliveSeconds: 5 } });
  const blocked = tempConfig("x");
  try {
    const r = await runCli(["run", "--config", bad.file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /mqtt.keepaliveSeconds: must be >= 30/);
    // The data dir lies below a regular file: it cannot be created.
    const cfg = { gateway: { productKey: "a1", deviceName: "gw-001", deviceSecret: "s" }, dataDir: join(blocked.file, "data") };
    writeFileSync(join(bad.dir, "c2.json"), JSON.stringify(cfg));
    const r2 = await runCli(["run", "--config", join(bad.dir, "c2.json")]);
    assert.equal(r2.code, 1);
    assert.equal(r2.stderr.trim().split("\n").length, 1);
    assert.match(r2.stderr, /data dir .* is not writable/);
    assert.ok(!existsSync(join(blocked.file, "data")));
  } finally {
    rmSync(bad.dir, { recursive: true, force: true });
    rmSync(blocked.dir, { recursive: true, force: true });
  }
});

test("unknown commands and options are usage errors (exit 2)", async () => {
  assert.equal((await runCli(["frobnicate"])).code, 2);
  assert.equal((await runCli(["check", "--confg", example])).code, 2);
});
