/**
 * The OTA upgrade handoff under systemd: `systemd/stage-upgrade.sh` (ota.installCommand, sandboxed) stages the
 * release tarball, `fieldbridge-upgrade.path` starts `fieldbridge-upgrade.service`, which runs `systemd/upgrade.sh`
 * as root to swap /opt/fieldbridge. The scripts run for real below temp dirs; systemctl is only printed (--dry-run).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, readFileSync, writeFileSync, statSync, existsSync, readdirSync, linkSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/cli.js";
import { fakeTree } from "../helpers/release-tree.js";

const SYSTEMD = join(ROOT, "systemd");
const STAGE = join(SYSTEMD, "stage-upgrade.sh");
const UPGRADE = join(SYSTEMD, "upgrade.sh");
const INSTALL = join(SYSTEMD, "install.sh");
const PATH_UNIT = join(SYSTEMD, "fieldbridge-upgrade.path");
const SERVICE_UNIT = join(SYSTEMD, "fieldbridge-upgrade.service");
const STAGED = "/var/lib/fieldbridge/upgrade/fieldbridge-upgrade.tar.gz";

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync("bash", [script, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const read = (p: string) => readFileSync(p, "utf8");

/**
 * A release tarball built with the tar CLI. `layout: "npm"` puts the tree below package/ as `npm pack` does.
 * `runMarker`: dist/cli.js and an extra script write this file when executed, to prove nothing from the tarball runs.
 */
function releaseTarball(dir: string, o: { version: string; layout: "npm" | "plain"; withCli?: boolean; runMarker?: string }): string {
  const src = mkdtempSync(join(dir, "src-"));
  const top = o.layout === "npm" ? join(src, "package") : src;
  mkdirSync(join(top, "dist"), { recursive: true });
  mkdirSync(join(top, "node_modules", "dep"), { recursive: true });
  const payload = o.runMarker ? `#!/bin/sh\necho ran > ${o.runMarker}\n` : "#!/usr/bin/env node\n";
  if (o.withCli !== false) writeFileSync(join(top, "dist", "cli.js"), `${payload}// ${o.version}\n`, { mode: 0o700 });
  writeFileSync(join(top, "dist", "other.js"), "export {};\n", { mode: 0o600 });
  writeFileSync(join(top, "install.sh"), payload, { mode: 0o755 });
  writeFileSync(join(top, "node_modules", "dep", "index.js"), "export {};\n", { mode: 0o600 });
  writeFileSync(join(top, "package.json"), JSON.stringify({ name: "fieldbridge", version: o.version }, null, 2));
  const file = join(dir, `fieldbridge-${o.version}-${o.layout}.tar.gz`);
  const entries = o.layout === "npm" ? ["package"] : readdirSync(src);
  const r = spawnSync("tar", ["-czf", file, "-C", src, ...entries], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  rmSync(src, { recursive: true, force: true });
  return file;
}

/** An installed tree below `prefix`, as install.sh leaves it, plus an older `.previous`. */
function installedTree(prefix: string, version: string): void {
  const opt = join(prefix, "opt", "fieldbridge");
  mkdirSync(join(opt, "dist"), { recursive: true });
  writeFileSync(join(opt, "dist", "cli.js"), `// ${version}\n`);
  writeFileSync(join(opt, "package.json"), JSON.stringify({ name: "fieldbridge", version }));
  writeFileSync(join(opt, "only-in-old"), "stale");
  mkdirSync(join(prefix, "opt", "fieldbridge.previous"), { recursive: true });
  writeFileSync(join(prefix, "opt", "fieldbridge.previous", "marker"), "older than the current");
}

/** Stages `tarball` as the .path unit would find it, below `dir`. */
function stage(dir: string, tarball: string): string {
  const up = join(dir, "upgrade");
  mkdirSync(up, { recursive: true, mode: 0o700 });
  const staged = join(up, "fieldbridge-upgrade.tar.gz");
  copyFileSync(tarball, staged);
  return staged;
}

// ---------------------------------------------------------------------------------------------------------
// stage-upgrade.sh

test("stage-upgrade.sh replaces the staged file by rename (not in place) in a 0700 dir, leaves no temp file, runs nothing", (t) => {
  const dir = tempDir(t, "fb-stage-");
  const marker = join(dir, "ran");
  const tarball = releaseTarball(dir, { version: "2.0.0", layout: "npm", runMarker: marker });
  const up = join(dir, "data", "upgrade");
  const env = { FIELDBRIDGE_UPGRADE_DIR: up };

  const first = run(STAGE, [tarball], env);
  assert.equal(first.code, 0, first.err + first.out);
  const staged = join(up, "fieldbridge-upgrade.tar.gz");
  assert.deepEqual(readFileSync(staged), readFileSync(tarball));
  assert.equal(mode(up), "700");
  assert.deepEqual(readdirSync(up), ["fieldbridge-upgrade.tar.gz"], "the temp file is gone");

  // A second file replaces the first by rename: another link to the old inode keeps the old bytes, which a copy
  // onto the staged name (a partial file the .path unit could see) would have overwritten.
  const keep = join(dir, "old-link");
  linkSync(staged, keep);
  const second = releaseTarball(dir, { version: "2.0.1", layout: "plain" });
  const r = run(STAGE, [second], env);
  assert.equal(r.code, 0, r.err + r.out);
  assert.deepEqual(readFileSync(staged), readFileSync(second));
  assert.deepEqual(readFileSync(keep), readFileSync(tarball), "the old staged inode was not written to");
  assert.notEqual(statSync(staged).ino, statSync(keep).ino);
  assert.deepEqual(readdirSync(up), ["fieldbridge-upgrade.tar.gz"]);
  assert.ok(!existsSync(marker), "nothing from the tarball was executed");
});

test("stage-upgrade.sh refuses a missing file, a non-tarball and a tarball without dist/cli.js, staging nothing", (t) => {
  const dir = tempDir(t, "fb-stage-bad-");
  const up = join(dir, "upgrade");
  const env = { FIELDBRIDGE_UPGRADE_DIR: up };
  const junk = join(dir, "junk.bin");
  writeFileSync(junk, "not a tarball");
  const noCli = releaseTarball(dir, { version: "3.0.0", layout: "plain", withCli: false });
  for (const [file, why] of [[join(dir, "missing.tar.gz"), /not a readable file/], [junk, /not a gzip-compressed tar/], [noCli, /no dist\/cli\.js/]] as const) {
    const r = run(STAGE, [file], env);
    assert.notEqual(r.code, 0, `${file}: ${r.out}`);
    assert.match(r.err, why);
    assert.ok(!existsSync(join(up, "fieldbridge-upgrade.tar.gz")), file);
  }
  assert.notEqual(run(STAGE, [], env).code, 0, "a file argument is required");
});

// ---------------------------------------------------------------------------------------------------------
// upgrade.sh

test("upgrade.sh --dry-run --prefix swaps the tree in, keeps the old one as .previous, removes the staged file and prints the restart", (t) => {
  const dir = tempDir(t, "fb-upgrade-");
  const prefix = join(dir, "root");
  installedTree(prefix, "1.0.0");
  const marker = join(dir, "ran");

  // npm pack layout (package/ prefix).
  const staged = stage(dir, releaseTarball(dir, { version: "2.0.0", layout: "npm", runMarker: marker }));
  const r = run(UPGRADE, [staged, "--dry-run", "--prefix", prefix]);
  assert.equal(r.code, 0, r.err + r.out);
  const opt = join(prefix, "opt", "fieldbridge");
  assert.match(read(join(opt, "dist", "cli.js")), /2\.0\.0/);
  assert.equal(JSON.parse(read(join(opt, "package.json"))).version, "2.0.0");
  assert.ok(existsSync(join(opt, "node_modules", "dep", "index.js")));
  assert.ok(!existsSync(join(opt, "only-in-old")), "replaced, not merged");
  assert.ok(!existsSync(join(opt, "package")), "the package/ prefix is stripped");
  // Readable by the service user, writable by root only, whatever modes the build had.
  assert.equal(mode(join(opt, "dist", "other.js")), "644");
  assert.equal(mode(join(opt, "dist", "cli.js")), "755");
  assert.equal(mode(opt), "755");
  const prev = join(prefix, "opt", "fieldbridge.previous");
  assert.match(read(join(prev, "dist", "cli.js")), /1\.0\.0/);
  assert.ok(!existsSync(join(prev, "marker")), "an older .previous is replaced");
  assert.deepEqual(readdirSync(join(prefix, "opt")).sort(), ["fieldbridge", "fieldbridge.previous"], "no temp dir left");
  assert.ok(!existsSync(staged), "the staged file is removed");
  assert.match(r.out, /^upgrading fieldbridge 1\.0\.0 -> 2\.0\.0/m);
  assert.match(r.out, /^dry-run: systemctl restart fieldbridge\.service$/m);
  assert.match(r.out, new RegExp(`^dry-run: chown -R root:root ${prefix}/opt/\\.fieldbridge-upgrade\\.`, "m"));
  assert.ok(!existsSync(marker), "nothing from the tarball was executed");

  // Plain layout (no prefix directory) on top: 2.0.0 becomes .previous.
  const again = stage(dir, releaseTarball(dir, { version: "2.1.0", layout: "plain" }));
  const r2 = run(UPGRADE, [again, "--dry-run", "--prefix", prefix]);
  assert.equal(r2.code, 0, r2.err + r2.out);
  assert.match(read(join(opt, "dist", "cli.js")), /2\.1\.0/);
  assert.match(read(join(prev, "dist", "cli.js")), /2\.0\.0/);
  assert.ok(!existsSync(again));
  assert.match(r2.out, /^dry-run: systemctl restart fieldbridge\.service$/m);
});

test("upgrade.sh refuses a tarball without dist/cli.js or one that is not a tarball: old tree untouched, staged file removed, no restart", (t) => {
  const dir = tempDir(t, "fb-upgrade-bad-");
  const prefix = join(dir, "root");
  installedTree(prefix, "1.0.0");
  const opt = join(prefix, "opt", "fieldbridge");
  const before = () => ({
    cli: read(join(opt, "dist", "cli.js")),
    stale: read(join(opt, "only-in-old")),
    prev: read(join(prefix, "opt", "fieldbridge.previous", "marker")),
    opt: readdirSync(join(prefix, "opt")).sort(),
  });
  const snapshot = before();

  const junk = join(dir, "junk.tar.gz");
  writeFileSync(junk, "definitely not gzip");
  for (const [tarball, why] of [
    [releaseTarball(dir, { version: "2.0.0", layout: "npm", withCli: false }), /dist\/cli\.js is missing/],
    [junk, /cannot unpack/],
  ] as const) {
    const staged = stage(dir, tarball);
    const r = run(UPGRADE, [staged, "--dry-run", "--prefix", prefix]);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.err, why);
    assert.deepEqual(before(), snapshot, "the running version and .previous are untouched, no temp dir left");
    assert.ok(!existsSync(staged), "the refused file is removed, so the .path unit does not start again on it");
    assert.doesNotMatch(r.out, /systemctl restart/);
  }

  assert.notEqual(run(UPGRADE, []).code, 0, "a tarball is required");
  const noPrefix = run(UPGRADE, [junk, "--dry-run"]);
  assert.notEqual(noPrefix.code, 0);
  assert.match(noPrefix.err, /--dry-run needs --prefix/);
});

// ---------------------------------------------------------------------------------------------------------
// The units

function settings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) section = sec[1]!;
    else {
      const key = `${section}.${line.slice(0, line.indexOf("="))}`;
      assert.ok(!out.has(key), `${key} set once`);
      out.set(key, line.slice(line.indexOf("=") + 1));
    }
  }
  return out;
}

test("the .path unit watches the file stage-upgrade.sh writes and starts the root oneshot that runs upgrade.sh on it", () => {
  const path = settings(read(PATH_UNIT));
  const svc = settings(read(SERVICE_UNIT));
  assert.equal(path.get("Path.PathExists"), STAGED);
  assert.equal(path.get("Path.Unit"), "fieldbridge-upgrade.service");
  assert.ok(path.get("Install.WantedBy"), "enableable");
  assert.equal(svc.get("Service.Type"), "oneshot");
  assert.ok([undefined, "root"].includes(svc.get("Service.User")), "runs as root");
  assert.equal(svc.get("Service.ExecStart"), `/opt/fieldbridge/systemd/upgrade.sh ${STAGED}`);
  for (const k of ["NoNewPrivileges", "ProtectSystem", "DynamicUser"]) assert.equal(svc.get(`Service.${k}`), undefined, `${k}: it must write /opt`);
  // stage-upgrade.sh's default staging dir is the watched one.
  assert.ok(read(STAGE).includes("${FIELDBRIDGE_UPGRADE_DIR:-/var/lib/fieldbridge/upgrade}"));
});

test("systemd-analyze verify accepts the upgrade units", (t) => {
  const analyze = which("systemd-analyze");
  if (!analyze) {
    t.skip("systemd-analyze is not installed (Debian package `systemd`); the units were only checked statically");
    return;
  }
  // verify checks that ExecStart's program exists: point it at this checkout's upgrade.sh.
  const dir = tempDir(t, "fb-upunits-");
  const path = join(dir, "fieldbridge-upgrade.path");
  const svc = join(dir, "fieldbridge-upgrade.service");
  copyFileSync(PATH_UNIT, path);
  writeFileSync(svc, read(SERVICE_UNIT).replace(/^ExecStart=\S+/m, `ExecStart=${UPGRADE}`));
  const r = spawnSync(analyze, ["verify", path, svc], { encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((r.stderr + r.stdout).split("\n").filter((l) => l.includes("fieldbridge-upgrade")), [], "no warning about the units");

  // It does catch mistakes in them.
  writeFileSync(path, read(path).replace("PathExists=", "PathExistz="));
  writeFileSync(svc, read(svc).replace("Type=oneshot", "Type=oneshott"));
  const bad = spawnSync(analyze, ["verify", path, svc], { encoding: "utf8", timeout: 20_000 });
  assert.match(bad.stderr, /PathExistz/);
  assert.match(bad.stderr, /oneshott/);
});

// ---------------------------------------------------------------------------------------------------------
// install.sh

test("install.sh installs and enables the upgrade units, and --uninstall removes them", (t) => {
  const dir = tempDir(t, "fb-install-up-");
  const tree = fakeTree(dir);
  const prefix = join(dir, "root");
  mkdirSync(prefix);
  const units = join(prefix, "etc", "systemd", "system");

  const r = run(INSTALL, ["--dry-run", "--prefix", prefix, "--from", tree]);
  assert.equal(r.code, 0, r.err + r.out);
  for (const [file, template] of [["fieldbridge-upgrade.path", PATH_UNIT], ["fieldbridge-upgrade.service", SERVICE_UNIT]]) {
    assert.equal(read(join(units, file)), read(template), file);
    assert.equal(mode(join(units, file)), "644");
  }
  assert.deepEqual(readdirSync(units).filter((f) => f.startsWith(".")), [], "no temp file left");
  assert.ok(r.out.includes(`dry-run: systemctl --root=${prefix} enable fieldbridge-upgrade.path`), r.out);
  assert.ok(r.out.includes(`dry-run: systemctl --root=${prefix} enable fieldbridge.service`), "the main unit as before");

  // Without a prefix nothing is written; every step is printed.
  const plain = run(INSTALL, ["--dry-run", "--from", tree]);
  assert.equal(plain.code, 0, plain.err + plain.out);
  for (const u of ["fieldbridge-upgrade.path", "fieldbridge-upgrade.service"]) {
    assert.match(plain.out, new RegExp(`^dry-run: write /etc/systemd/system/${u.replace(".", "\\.")} \\(0644\\)`, "m"));
  }
  assert.match(plain.out, /^dry-run: systemctl enable fieldbridge-upgrade\.path$/m);
  assert.match(plain.out, /^dry-run: systemctl start fieldbridge-upgrade\.path$/m);

  // A staged, never installed upgrade and the kept previous version go with the program.
  mkdirSync(join(prefix, "var/lib/fieldbridge/upgrade"));
  writeFileSync(join(prefix, "var/lib/fieldbridge/upgrade/fieldbridge-upgrade.tar.gz"), "x");
  mkdirSync(join(prefix, "opt/fieldbridge.previous"));
  const un = run(INSTALL, ["--uninstall", "--dry-run", "--prefix", prefix]);
  assert.equal(un.code, 0, un.err + un.out);
  assert.ok(!existsSync(join(units, "fieldbridge-upgrade.path")) && !existsSync(join(units, "fieldbridge-upgrade.service")));
  assert.ok(un.out.includes(`dry-run: systemctl --root=${prefix} disable fieldbridge-upgrade.path`), un.out);
  assert.ok(!existsSync(join(prefix, "var/lib/fieldbridge/upgrade")));
  assert.ok(!existsSync(join(prefix, "opt/fieldbridge.previous")));
  assert.ok(existsSync(join(prefix, "etc/fieldbridge/config.json")), "config kept");
});

test("the shell scripts are shellcheck-clean", (t) => {
  const sc = which("shellcheck");
  assert.ok(sc, "shellcheck lints the install and upgrade scripts (Debian package shellcheck; .ci/run installs it)");
  const r = spawnSync(sc, [STAGE, UPGRADE, INSTALL], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
