import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
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
    assert.match(r2.stderr, /dataDir: .* lies below .*, which is not a directory/);
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

test("check finds what run would refuse or degrade on: listen port, CA file, data dir, duplicate keys; run refuses the same", async () => {
  const base = JSON.parse(readFileSync(example, "utf8"));
  const { dir } = tempConfig({});
  try {
    writeFileSync(join(dir, "not-pem.crt"), "this is not a certificate\n");
    writeFileSync(join(dir, "a-file"), "");
    const cfg = {
      ...base,
      dataDir: join(dir, "a-file", "data"),
      http: { listen: "127.0.0.1:70000" },
      mqtt: { ...base.mqtt, caFile: join(dir, "not-pem.crt") },
    };
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify(cfg));
    const r = await runCli(["check", "--config", file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.deepEqual(lines, [
      `mqtt.caFile: ${join(dir, "not-pem.crt")} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)`,
      'http.listen: expected host:port with a port from 1 to 65535, got "127.0.0.1:70000"',
      `dataDir: ${join(dir, "a-file", "data")} lies below ${join(dir, "a-file")}, which is not a directory`,
    ]);
    // run stops at the same problems instead of starting without its status endpoint
    const run = await runCli(["run", "--config", file]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /http\.listen: expected host:port with a port from 1 to 65535/);

    const text = JSON.stringify({ ...base, dataDir: join(dir, "data") });
    writeFileSync(file, text.replace(/^\{/, `{"mqtt": ${JSON.stringify(base.mqtt)}, `));
    const dup = await runCli(["check", "--config", file]);
    assert.equal(dup.code, 1);
    assert.equal(dup.stdout.trim(), "mqtt: duplicate key");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("run on a read-only data dir says so (not ENOENT); check says it first", async (t) => {
  const { dir } = tempConfig({});
  const mnt = join(dir, "ro");
  mkdirSync(mnt);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", mnt], { stdio: "ignore" });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    t.skip("mounting a tmpfs needs root (the errno mapping is covered in bootstrap-checks.test.ts)");
    return;
  }
  try {
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(example, "utf8")), dataDir: join(mnt, "fieldbridge") }));
    const check = await runCli(["check", "--config", file]);
    assert.equal(check.code, 1);
    assert.equal(check.stdout.trim(), `dataDir: ${join(mnt, "fieldbridge")} is on a read-only file system`);
    const run = await runCli(["run", "--config", file]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /dataDir: .* is on a read-only file system/);
    assert.ok(!run.stderr.includes("ENOENT"), run.stderr);
  } finally {
    execFileSync("umount", [mnt]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("check --gateway-config on a document nested 100000 levels deep: one problem, no crash", async () => {
  const { dir } = tempConfig({});
  try {
    const doc = join(dir, "deep.json");
    writeFileSync(doc, `{"deviceList": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    const r = await runCli(["check", "--gateway-config", doc], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^\$: nested deeper than 64 levels$/m);
    assert.match(r.stdout, /invalid gateway config \(1 error, 0 warnings\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
