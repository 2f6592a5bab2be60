/**
 * Everything `run` would refuse or silently degrade on is found by loading the bootstrap file, which
 * `check` and `run` share: http.listen, CA files that are not PEM, unusable data dirs, duplicate keys.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, copyFileSync, existsSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBootstrap, prepareDataDir, ConfigError, dataDirErrorText } from "../../src/config/bootstrap/load.js";
import { parseHostPort } from "../../src/config/host-port.js";

const FIXTURE_CA = new URL("../fixtures/tls/ca.pem", import.meta.url);
const gateway = { productKey: "a1GwProduct", deviceName: "gw-001", deviceSecret: "0123456789abcdef0123456789abcdef" };

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "fb-checks-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `text` (or the JSON of an object) as config.json in `dir` and loads it; the problems, or [] when valid. */
function problemsOf(dir: string, config: unknown): string[] {
  const file = join(dir, "config.json");
  writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config));
  try {
    loadBootstrap(file);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

test("http.listen must be host:port with a port 1..65535 and an IP address or host name", () => {
  withDir((dir) => {
    const data = join(dir, "data");
    const listen = (l: string) => problemsOf(dir, { gateway, dataDir: data, http: { listen: l } });
    for (const ok of ["127.0.0.1:9180", "0.0.0.0:1", "localhost:65535", "[::1]:9180", "[::]:80", "gw-01.plant.example:8080"]) {
      assert.deepEqual(listen(ok), [], ok);
    }
    const bad: Array<[string, RegExp]> = [
      ["127.0.0.1:70000", /port from 1 to 65535/],
      ["127.0.0.1:0", /port from 1 to 65535/],
      ["127.0.0.1:", /host:port/],
      ["9180", /host:port/],
      [":9180", /host:port/],
      ["bad host:80", /IP address or host name/],
      ["300.1.1.1:80", /IP address or host name/],
      ["[zz::1]:80", /IP address or host name/],
      ["::1:80", /IPv6 .* in brackets/],
      ["-gw.example:80", /IP address or host name/],
    ];
    for (const [value, pattern] of bad) {
      const got = listen(value);
      assert.equal(got.length, 1, `${value}: ${got.join("\n")}`);
      assert.ok(got[0]!.startsWith("http.listen: "), got[0]);
      assert.match(got[0]!, pattern, value);
    }
  });
});

test("parseHostPort allows port 0 only when asked (an ephemeral port for tests)", () => {
  assert.deepEqual(parseHostPort("localhost:0", { minPort: 0 }), { host: "localhost", port: 0 });
  assert.ok("error" in parseHostPort("localhost:0"));
  assert.deepEqual(parseHostPort("[::1]:9180"), { host: "::1", port: 9180 });
});

test("a CA file must hold at least one PEM certificate that parses", () => {
  withDir((dir) => {
    const data = join(dir, "data");
    copyFileSync(FIXTURE_CA, join(dir, "ca.pem"));
    assert.deepEqual(problemsOf(dir, { gateway, dataDir: data, mqtt: { caFile: "ca.pem" }, download: { caFile: "ca.pem" } }), []);
    writeFileSync(join(dir, "der.crt"), Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x02, 0x82]));
    writeFileSync(join(dir, "garbled.pem"), "-----BEGIN CERTIFICATE-----\nTUlJQm5vdCBhIGNlcnQ=\n-----END CERTIFICATE-----\n");
    writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    const got = problemsOf(dir, { gateway, dataDir: data, mqtt: { caFile: "der.crt" }, download: { caFile: "garbled.pem" } });
    assert.equal(got.length, 2, got.join("\n"));
    assert.equal(got[0], `mqtt.caFile: ${join(dir, "der.crt")} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)`);
    assert.ok(got[1]!.startsWith(`download.caFile: certificate 1 in ${join(dir, "garbled.pem")} cannot be parsed (`), got[1]);
    assert.deepEqual(problemsOf(dir, { gateway, dataDir: data, download: { caFile: "key.pem" } }), [
      `download.caFile: ${join(dir, "key.pem")} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)`,
    ]);
    assert.deepEqual(problemsOf(dir, { gateway, dataDir: data, mqtt: { caFile: "missing.pem" } }), [`mqtt.caFile: cannot read ${join(dir, "missing.pem")}`]);
  });
});

test("a data dir that is a file or lies below one is a config problem, and nothing is created", () => {
  withDir((dir) => {
    writeFileSync(join(dir, "file"), "");
    assert.deepEqual(problemsOf(dir, { gateway, dataDir: "file" }), [`dataDir: ${join(dir, "file")} is a file, not a directory`]);
    assert.deepEqual(problemsOf(dir, { gateway, dataDir: "file/a/b" }), [`dataDir: ${join(dir, "file/a/b")} lies below ${join(dir, "file")}, which is not a directory`]);
    assert.deepEqual(problemsOf(dir, { gateway, dataDir: "new/data" }), []);
    assert.equal(existsSync(join(dir, "new")), false, "loading the config creates nothing");
    // reported together with the other problems
    const all = problemsOf(dir, { gateway, dataDir: "file", mqtt: { keepaliveSeconds: 5 } });
    assert.deepEqual(all, ["mqtt.keepaliveSeconds: must be >= 30", `dataDir: ${join(dir, "file")} is a file, not a directory`]);
  });
});

/** A tmpfs of our own, remounted read-only; undefined when this machine does not let us mount. */
function readOnlyMount(dir: string): string | undefined {
  const mnt = join(dir, "ro");
  mkdirSync(mnt);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  mkdirSync(join(mnt, "existing"));
  execFileSync("mount", ["-o", "remount,ro", mnt], { stdio: "ignore" });
  return mnt;
}

test("a data dir on a read-only mount is named as such, by check and by run's preparation", (t) => {
  withDir((dir) => {
    const mnt = readOnlyMount(dir);
    if (!mnt) {
      t.skip("mounting a tmpfs needs root; dataDirErrorText is covered with the errno codes below");
      return;
    }
    try {
      for (const sub of ["existing", "new/data"]) {
        const data = join(mnt, sub);
        assert.deepEqual(problemsOf(dir, { gateway, dataDir: data }), [`dataDir: ${data} is on a read-only file system`]);
        assert.throws(() => prepareDataDir(data), (e: Error) => e.message === `data dir ${data} is on a read-only file system (EROFS)`);
      }
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});

test("run's data dir errors name the cause for each errno", () => {
  withDir((dir) => {
    writeFileSync(join(dir, "file"), "");
    const err = (code: string) => Object.assign(new Error(code), { code });
    const d = join(dir, "data");
    assert.equal(dataDirErrorText(d, err("EROFS")), `data dir ${d} is on a read-only file system (EROFS)`);
    assert.equal(dataDirErrorText(d, err("EACCES")), `data dir ${d} is not writable: permission denied (EACCES)`);
    assert.equal(dataDirErrorText(d, err("ENOSPC")), `data dir ${d}: no space left on the device (ENOSPC)`);
    // ENOTDIR and EEXIST: the file in the way is named
    const below = join(dir, "file", "data");
    assert.equal(dataDirErrorText(below, err("ENOTDIR")), `data dir ${below} lies below ${join(dir, "file")}, which is not a directory (ENOTDIR)`);
    assert.equal(dataDirErrorText(join(dir, "file"), err("EEXIST")), `data dir ${join(dir, "file")} is a file, not a directory (EEXIST)`);
    // mkdir -p reports ENOENT for a read-only parent: the inspection finds the real cause when it can
    assert.equal(dataDirErrorText(d, err("ENOENT")), `data dir ${d} is not writable (ENOENT)`);
  });
});

test("a data dir this user may not write is left to run (check may run as another user), which names it", () => {
  withDir((dir) => {
    const locked = join(dir, "locked");
    mkdirSync(locked);
    // Root writes anywhere: the check then runs as nobody, for whom the folder is closed.
    const asRoot = process.getuid?.() === 0;
    chmodSync(dir, 0o755);
    chmodSync(locked, asRoot ? 0o700 : 0o500);
    const module = new URL("../../src/config/bootstrap/load.ts", import.meta.url).pathname;
    const script = `
      import { dataDirProblem, prepareDataDir } from ${JSON.stringify(module)};
      let run = "";
      try { prepareDataDir(${JSON.stringify(join(locked, "data"))}); } catch (err) { run = err.message; }
      console.log(JSON.stringify({ check: dataDirProblem(${JSON.stringify(join(locked, "data"))}) ?? null, run }));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      cwd: new URL("../..", import.meta.url).pathname,
      timeout: 20_000,
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    chmodSync(locked, 0o700);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      check: null,
      run: `data dir ${join(locked, "data")} cannot be created: ${locked} is not writable: permission denied (EACCES)`,
    });
  });
});

test("duplicate keys in the bootstrap file are errors with their path", () => {
  withDir((dir) => {
    const data = JSON.stringify(join(dir, "data"));
    const g = JSON.stringify(gateway);
    assert.deepEqual(problemsOf(dir, `{"gateway": ${g}, "dataDir": ${data}, "mqtt": {"port": 1883, "tls": false, "port": 8883}}`), ["mqtt.port: duplicate key"]);
    assert.deepEqual(problemsOf(dir, `{"gateway": ${g}, "dataDir": ${data}, "gateway": ${g}}`), ["gateway: duplicate key"]);
    assert.deepEqual(problemsOf(dir, `{"gateway": ${g}, "dataDir": ${data}, "subDevices": [{"deviceName": "a"}, {"deviceName": "b", "deviceName": "c"}]}`), ["subDevices[1].deviceName: duplicate key"]);
    assert.deepEqual(problemsOf(dir, `${"[".repeat(100_000)}${"]".repeat(100_000)}`), ["$: nested deeper than 64 levels"]);
  });
});
