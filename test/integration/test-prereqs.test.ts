/**
 * scripts/test-prereqs.sh (the `pretest` step): shellcheck-clean, silent and successful when every tool is there,
 * and where it cannot install a missing tool it stops within seconds naming it and the command that installs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "../helpers/cli.js";

const SCRIPT = resolve(ROOT, "scripts", "test-prereqs.sh");

test("test-prereqs.sh is shellcheck-clean and passes quietly on this machine (the tests' tools are here)", () => {
  const sc = spawnSync("shellcheck", [SCRIPT], { encoding: "utf8" });
  assert.equal(sc.status, 0, sc.stdout + sc.stderr);
  const r = spawnSync("bash", [SCRIPT], { encoding: "utf8", timeout: 10_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.stdout + r.stderr, "");
});

test("without a way to install, a missing tool stops it within seconds with the apt-get command", (t) => {
  // An unprivileged user cannot install; as root the check runs as `nobody` (never installing anything here).
  const asRoot = process.getuid?.() === 0;
  const sudoWorks = spawnSync("sudo", ["-n", "true"]).status === 0;
  if (!asRoot && sudoWorks) {
    t.skip("password-less sudo would install the missing tool");
    return;
  }
  // A copy `nobody` can read wherever the checkout lives.
  const dir = mkdtempSync(join(tmpdir(), "fb-prereqs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const script = join(dir, "test-prereqs.sh");
  copyFileSync(SCRIPT, script);
  chmodSync(script, 0o755);
  const cmd = asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", script] : ["bash", script];
  const t0 = Date.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", timeout: 10_000, env: { ...process.env, CHROMIUM: "/nonexistent/chromium" }, cwd: "/" });
  const ms = Date.now() - t0;
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.ok(ms < 5000, `${ms} ms`);
  assert.match(r.stderr, /^test prerequisites missing:\n/);
  assert.match(r.stderr, /\n {2}chromium: install with: sudo apt-get install -y chromium\n/);
  assert.match(r.stderr, /cannot install them here/);
});
