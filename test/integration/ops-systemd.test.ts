/**
 * systemd integration: the unit file (static checks and `systemd-analyze verify`), `systemd/install.sh` in
 * dry-run mode below a temp prefix, and the notify protocol against a fake NOTIFY_SOCKET, both for the
 * notifier on its own and for `fieldbridge run` as systemd starts it.
 */
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, readFileSync, writeFileSync, statSync, existsSync, symlinkSync, readdirSync, chmodSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SystemdNotifier } from "../../src/ops/systemd.js";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { DaemonProcess, ROOT } from "../helpers/cli.js";
import { GATEWAY, makeRig } from "../helpers/daemon.js";
import { modbusDoc, METER } from "../helpers/gwdoc.js";
import { captureLogger } from "../helpers/log-capture.js";
import { fakeTree } from "../helpers/release-tree.js";

const UNIT = join(ROOT, "systemd", "fieldbridge.service");
const INSTALL = join(ROOT, "systemd", "install.sh");

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// A fake NOTIFY_SOCKET: Node cannot receive unix datagrams, so a small python3 program binds the socket and
// prints every datagram as one JSON line (with the sender pid from SCM_CREDENTIALS). File descriptors sent
// along (systemd-notify's BARRIER=1) are closed at once, which is how the service manager answers a barrier.

const RECEIVER = String.raw`
import socket, sys, json, os, array, time
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
            for fd in fds:
                os.close(fd)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(cdata[0:4], "little")
    print(json.dumps({"msg": data.decode("utf-8", "replace"), "pid": pid, "t": time.time() * 1000}), flush=True)
`;

interface Datagram {
  msg: string;
  pid: number | null;
  /** Epoch ms when it arrived. */
  t: number;
  /** KEY=value lines of the message. */
  fields: Record<string, string>;
}

class NotifyReceiver {
  readonly datagrams: Datagram[] = [];
  private stderr = "";

  private constructor(readonly address: string, private readonly child: ChildProcess) {}

  static async start(address: string): Promise<NotifyReceiver> {
    const child = spawn("python3", ["-c", RECEIVER, address], { stdio: ["ignore", "pipe", "pipe"] });
    const r = new NotifyReceiver(address, child);
    let listening = false;
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = JSON.parse(buf.slice(0, i)) as { listening?: boolean; msg?: string; pid?: number | null; t?: number };
        buf = buf.slice(i + 1);
        if (line.listening) listening = true;
        else if (line.msg !== undefined) {
          const fields = Object.fromEntries(line.msg.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
          r.datagrams.push({ msg: line.msg, pid: line.pid ?? null, t: line.t ?? Date.now(), fields });
        }
      }
    });
    child.stderr!.on("data", (d: Buffer) => (r.stderr += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!listening) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`notify receiver did not start: ${r.stderr}`);
      }
      await sleep(20);
    }
    return r;
  }

  with(key: string, value?: string): Datagram[] {
    return this.datagrams.filter((d) => key in d.fields && (value === undefined || d.fields[key] === value));
  }

  async waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(this.datagrams.map((d) => d.msg))}`);
      }
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await Promise.race([gone, sleep(3000, undefined, { ref: false })]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

const havePython = which("python3") !== undefined;
const haveSystemdNotify = which("systemd-notify") !== undefined;
const socatPath = which("socat");

/** A PATH holding only the given programs (as symlinks), to choose which notify helper is found. */
function pathWith(dir: string, programs: Record<string, string>): string {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  for (const [name, target] of Object.entries(programs)) symlinkSync(target, join(bin, name));
  return bin;
}

// ---------------------------------------------------------------------------------------------------------
// The unit file

function unitSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const i = line.indexOf("=");
    assert.ok(i > 0, `not a key=value line: ${line}`);
    const key = `${section}.${line.slice(0, i)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(i + 1)]);
  }
  return out;
}

test("the unit runs `fieldbridge run` as Type=notify with a watchdog, restarts always, and keeps serial ports reachable", () => {
  const s = unitSettings(readFileSync(UNIT, "utf8"));
  const one = (k: string) => {
    const v = s.get(k);
    assert.ok(v && v.length === 1, `${k} set once, got ${JSON.stringify(v)}`);
    return v[0]!;
  };
  assert.equal(one("Service.Type"), "notify");
  assert.equal(one("Service.NotifyAccess"), "all", "notifications come from a child process");
  assert.match(one("Service.ExecStart"), /^\/\S*node --single-threaded-gc \/opt\/fieldbridge\/dist\/cli\.js run --config \/etc\/fieldbridge\/config\.json$/);
  assert.equal(one("Service.Restart"), "always");
  assert.ok(Number.parseInt(one("Service.WatchdogSec"), 10) > 0);
  assert.ok(Number.parseInt(one("Service.TimeoutStopSec"), 10) > 10, "longer than the daemon's own 10 s shutdown bound");
  assert.equal(one("Service.User"), "fieldbridge");
  assert.ok(one("Service.SupplementaryGroups").split(/\s+/).includes("dialout"));
  for (const [k, v] of [["NoNewPrivileges", "yes"], ["ProtectSystem", "strict"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"]]) {
    assert.equal(one(`Service.${k}`), v, k);
  }
  assert.ok(one("Service.ReadWritePaths").split(/\s+/).includes("/var/lib/fieldbridge"));
  assert.ok(one("Service.RestrictAddressFamilies").split(/\s+/).includes("AF_UNIX"), "the notify socket");
  // Node's JIT needs W+X pages; serial devices must stay openable (ProtectClock implies a device allow-list).
  for (const k of ["MemoryDenyWriteExecute", "PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock", "PrivateUsers", "PrivateNetwork"]) {
    assert.equal(s.get(`Service.${k}`), undefined, `${k} must not be set`);
  }
  assert.equal(one("Install.WantedBy"), "multi-user.target");
});

test("systemd-analyze verify accepts the unit", (t) => {
  const analyze = which("systemd-analyze");
  if (!analyze) {
    t.skip("systemd-analyze is not installed (Debian package `systemd`); the unit was only checked statically");
    return;
  }
  // verify checks that ExecStart's binary exists: use this machine's node, as install.sh does.
  const dir = tempDir(t, "fb-unit-");
  const unit = join(dir, "fieldbridge.service");
  writeFileSync(unit, readFileSync(UNIT, "utf8").replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
  const r = spawnSync(analyze, ["verify", unit], { encoding: "utf8", timeout: 20_000 });
  const aboutUnit = (r.stderr + r.stdout).split("\n").filter((l) => l.includes("fieldbridge"));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(aboutUnit, [], "no warning about the unit");

  // And it does catch mistakes: an unknown key and a bad value are reported.
  writeFileSync(unit, readFileSync(unit, "utf8").replace("Type=notify", "Type=notifyy").replace("Restart=always", "Restart=always\nRestartt=no"));
  const bad = spawnSync(analyze, ["verify", unit], { encoding: "utf8", timeout: 20_000 });
  assert.match(bad.stderr, /notifyy/);
  assert.match(bad.stderr, /Restartt/);
});

// ---------------------------------------------------------------------------------------------------------
// install.sh

function install(args: string[], opts: { uid?: number; gid?: number } = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync("bash", [INSTALL, ...args], { encoding: "utf8", timeout: 60_000, ...opts });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const userExists = () => spawnSync("getent", ["passwd", "fieldbridge"]).status === 0;

test("install.sh --dry-run --prefix installs the tree, config, data dir and unit, prints the root-only commands, and is idempotent", (t) => {
  const dir = tempDir(t, "fb-install-");
  const tree = fakeTree(dir);
  const prefix = join(dir, "root");
  mkdirSync(prefix);
  const r = install(["--dry-run", "--prefix", prefix, "--from", tree]);
  assert.equal(r.code, 0, r.err + r.out);

  // The program, readable by the service user whatever umask it was built with.
  for (const f of ["dist/cli.js", "node_modules/dep/index.js", "package.json", "config/config.example.json"]) {
    assert.ok(existsSync(join(prefix, "opt/fieldbridge", f)), f);
  }
  assert.equal(mode(join(prefix, "opt/fieldbridge/dist/cli.js")), "644");
  assert.ok(!existsSync(join(prefix, "opt/fieldbridge.new")) && !existsSync(join(prefix, "opt/fieldbridge.old")));
  // Config: the example, 0640 in a 0750 dir; data dir 0700.
  assert.equal(mode(join(prefix, "etc/fieldbridge")), "750");
  assert.equal(mode(join(prefix, "etc/fieldbridge/config.json")), "640");
  assert.equal(readFileSync(join(prefix, "etc/fieldbridge/config.json"), "utf8"), readFileSync(join(tree, "config/config.example.json"), "utf8"));
  assert.equal(mode(join(prefix, "var/lib/fieldbridge")), "700");
  // The unit with this machine's node.
  const unit = readFileSync(join(prefix, "etc/systemd/system/fieldbridge.service"), "utf8");
  const node = which("node")!;
  assert.match(unit, new RegExp(`^ExecStart=${node.replace(/[.+]/g, "\\$&")} --single-threaded-gc /opt/fieldbridge/dist/cli\\.js run --config /etc/fieldbridge/config\\.json$`, "m"));
  assert.equal(mode(join(prefix, "etc/systemd/system/fieldbridge.service")), "644");
  assert.equal(unit.replace(/^ExecStart=.*$/m, ""), readFileSync(UNIT, "utf8").replace(/^ExecStart=.*$/m, ""), "otherwise the template as is");

  // Root-only steps are printed, not run.
  const dry = r.out.split("\n").filter((l) => l.startsWith("dry-run: "));
  if (!userExists()) assert.ok(dry.some((l) => /^dry-run: useradd --system .*--home-dir \/var\/lib\/fieldbridge .*fieldbridge$/.test(l)), r.out);
  assert.ok(dry.includes("dry-run: usermod -a -G dialout fieldbridge"), r.out);
  assert.ok(dry.includes(`dry-run: chown root:fieldbridge ${prefix}/etc/fieldbridge/config.json`), r.out);
  assert.ok(dry.includes(`dry-run: chown -R fieldbridge:fieldbridge ${prefix}/var/lib/fieldbridge`), r.out);
  assert.ok(dry.includes(`dry-run: systemctl --root=${prefix} enable fieldbridge.service`), r.out);
  assert.ok(!dry.some((l) => /systemctl (re)?start/.test(l)), "a fresh example config is not started");
  assert.match(r.out, /Created \/etc\/fieldbridge\/config\.json from the example/);

  // Second run: an edited config stays, the program is replaced, the modes are set again.
  writeFileSync(join(prefix, "etc/fieldbridge/config.json"), '{"edited": true}\n');
  chmodSync(join(prefix, "etc/fieldbridge/config.json"), 0o644);
  writeFileSync(join(tree, "dist", "cli.js"), "#!/usr/bin/env node\n// v2\n");
  writeFileSync(join(prefix, "opt/fieldbridge/stale-file"), "from the old version");
  const again = install(["--dry-run", "--prefix", prefix, "--from", tree]);
  assert.equal(again.code, 0, again.err + again.out);
  assert.equal(readFileSync(join(prefix, "etc/fieldbridge/config.json"), "utf8"), '{"edited": true}\n');
  assert.equal(mode(join(prefix, "etc/fieldbridge/config.json")), "640");
  assert.match(readFileSync(join(prefix, "opt/fieldbridge/dist/cli.js"), "utf8"), /v2/);
  assert.ok(!existsSync(join(prefix, "opt/fieldbridge/stale-file")), "the old program tree is replaced, not merged");
  assert.doesNotMatch(again.out, /Created \/etc\/fieldbridge/);
  // With an existing config there is nothing to start below a prefix; the unit is enabled again.
  assert.ok(again.out.includes(`dry-run: systemctl --root=${prefix} enable fieldbridge.service`));
});

test("install.sh --uninstall removes unit and program but keeps config and data; --purge removes those too", (t) => {
  const dir = tempDir(t, "fb-uninstall-");
  const tree = fakeTree(dir);
  const prefix = join(dir, "root");
  mkdirSync(prefix);
  assert.equal(install(["--dry-run", "--prefix", prefix, "--from", tree]).code, 0);
  writeFileSync(join(prefix, "var/lib/fieldbridge/fieldbridge.db"), "data");

  const r = install(["--uninstall", "--dry-run", "--prefix", prefix]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.ok(!existsSync(join(prefix, "etc/systemd/system/fieldbridge.service")));
  assert.ok(!existsSync(join(prefix, "opt/fieldbridge")));
  assert.ok(existsSync(join(prefix, "etc/fieldbridge/config.json")), "config kept");
  assert.equal(readFileSync(join(prefix, "var/lib/fieldbridge/fieldbridge.db"), "utf8"), "data", "data kept");
  assert.ok(r.out.includes(`dry-run: systemctl --root=${prefix} disable fieldbridge.service`), r.out);
  if (userExists()) assert.match(r.out, /^dry-run: userdel fieldbridge$/m);
  assert.match(r.out, /Kept \/etc\/fieldbridge \(config\) and \/var\/lib\/fieldbridge \(data\)/);

  // Again: nothing left to remove, still fine.
  assert.equal(install(["--uninstall", "--dry-run", "--prefix", prefix]).code, 0);

  const purge = install(["--uninstall", "--purge", "--dry-run", "--prefix", prefix]);
  assert.equal(purge.code, 0, purge.err + purge.out);
  assert.ok(!existsSync(join(prefix, "etc/fieldbridge")));
  assert.ok(!existsSync(join(prefix, "var/lib/fieldbridge")));
  // Only what the installer made is gone: the prefix's other directories stay.
  assert.ok(existsSync(join(prefix, "etc/systemd/system")));
});

test("install.sh refuses to run without root unless --dry-run, and refuses a node the service cannot see", (t) => {
  const dir = tempDir(t, "fb-refuse-");
  const tree = fakeTree(dir);
  const prefix = join(dir, "root");
  mkdirSync(prefix);
  // As an unprivileged user: the test drops to `nobody` when it runs as root.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (asUser.uid !== undefined) {
    spawnSync("chmod", ["-R", "a+rX", dir]);
    chownSync(prefix, asUser.uid, asUser.gid);
  }
  const refused = install(["--prefix", prefix, "--from", tree], asUser);
  assert.equal(refused.code, 1, refused.out + refused.err);
  assert.match(refused.err, /must run as root/);
  assert.deepEqual(readdirSync(prefix), [], "nothing written");
  const dry = install(["--dry-run", "--prefix", prefix, "--from", tree], asUser);
  assert.equal(dry.code, 0, dry.out + dry.err);
  assert.ok(existsSync(join(prefix, "etc/fieldbridge/config.json")));

  // ProtectHome= and PrivateTmp= hide /home, /root and /tmp from the service: a node there cannot start it.
  const hidden = install(["--dry-run", "--prefix", join(dir, "root2"), "--from", tree, "--node", join(tmpdir(), "node")]);
  assert.equal(hidden.code, 1);
  assert.match(hidden.err, /cannot see/);
  assert.ok(!existsSync(join(dir, "root2", "opt")), "refused before writing anything");

  const unknown = install(["--frobnicate"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /unknown argument: --frobnicate/);
});

// ---------------------------------------------------------------------------------------------------------
// The notifier on its own

test("SystemdNotifier sends READY, STATUS, WATCHDOG and STOPPING through systemd-notify and hides the socket from children", async (t) => {
  assert.ok(havePython, "python3 runs the fake notify socket receiver (it is needed for npm ci too)");
  if (!haveSystemdNotify) return t.skip("systemd-notify is not installed (Debian package `systemd`); the socat fallback is tested below");
  const dir = tempDir(t, "fb-notify-");
  const rx = await NotifyReceiver.start(join(dir, "notify.sock"));
  t.after(() => rx.stop());
  const log = captureLogger();
  const lines = log.lines();
  const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"], NOTIFY_SOCKET: rx.address, WATCHDOG_USEC: "400000" };
  const n = new SystemdNotifier(log.logger, env);
  t.after(() => n.stop());
  assert.equal(n.via, "systemd-notify");
  assert.deepEqual(Object.keys(env), ["PATH"], "NOTIFY_SOCKET and WATCHDOG_USEC are taken out of the environment");

  await n.ready();
  await n.status("connected; 3/3 sub-devices online");
  await rx.waitFor(() => rx.with("READY", "1").length === 1 && rx.with("STATUS").length === 1, 5000, "READY and STATUS");
  assert.equal(rx.with("READY")[0]!.fields["MAINPID"], String(process.pid), "speaks for this process");
  assert.equal(rx.with("STATUS")[0]!.fields["STATUS"], "connected; 3/3 sub-devices online");

  let healthy = true;
  n.startWatchdog(() => healthy);
  await rx.waitFor(() => rx.with("WATCHDOG", "1").length >= 3, 8000, "three watchdog pings");
  healthy = false;
  await sleep(400);
  const whileUnhealthy = rx.with("WATCHDOG").length;
  await sleep(800);
  assert.equal(rx.with("WATCHDOG").length, whileUnhealthy, "no ping while the health check fails");
  n.stop();
  await n.stopping();
  await rx.waitFor(() => rx.with("STOPPING", "1").length === 1, 5000, "STOPPING");
  assert.ok(lines.some((l) => l["msg"] === "systemd watchdog enabled" && l["everyMs"] === 200), JSON.stringify(lines));
  assert.ok(!lines.some((l) => l["level"] === "warn"), JSON.stringify(lines));
});

test("SystemdNotifier falls back to socat, also for an abstract socket, and ignores a watchdog meant for another process", async (t) => {
  assert.ok(havePython, "python3 runs the fake notify socket receiver (it is needed for npm ci too)");
  assert.ok(socatPath, "socat is needed (the Modbus RTU tests use it too)");
  const dir = tempDir(t, "fb-notify-socat-");
  const PATH = pathWith(dir, { socat: socatPath });
  const abstract = `@fieldbridge-test-${process.pid}-${Date.now()}`;
  for (const address of [join(dir, "notify.sock"), abstract]) {
    const rx = await NotifyReceiver.start(address);
    t.after(() => rx.stop());
    const n = new SystemdNotifier(captureLogger().logger, { PATH, NOTIFY_SOCKET: address, WATCHDOG_USEC: "200000" });
    t.after(() => n.stop());
    assert.equal(n.via, "socat", address);
    const withWatchdog = address !== abstract;
    if (withWatchdog) n.startWatchdog(() => true);
    await n.ready();
    const pings = withWatchdog ? 2 : 0;
    await rx.waitFor(() => rx.with("READY", "1").length === 1 && rx.with("WATCHDOG", "1").length >= pings, 8000, `READY and pings on ${address}`);
    n.stop();
    await n.stopping();
    await rx.waitFor(() => rx.with("STOPPING", "1").length === 1, 5000, `STOPPING on ${address}`);
  }

  // WATCHDOG_PID names another process: the watchdog is not for us.
  const rx = await NotifyReceiver.start(join(dir, "other.sock"));
  t.after(() => rx.stop());
  const n = new SystemdNotifier(captureLogger().logger, { PATH, NOTIFY_SOCKET: rx.address, WATCHDOG_USEC: "200000", WATCHDOG_PID: String(process.pid + 100000) });
  n.startWatchdog(() => true);
  await n.ready();
  await rx.waitFor(() => rx.with("READY").length === 1, 5000, "READY");
  await sleep(600);
  n.stop();
  assert.equal(rx.with("WATCHDOG").length, 0);
});

test("SystemdNotifier without NOTIFY_SOCKET, or without any helper, does nothing and says so once", async () => {
  const quiet = captureLogger();
  const off = new SystemdNotifier(quiet.logger, { PATH: process.env["PATH"], WATCHDOG_USEC: "100000" });
  assert.equal(off.enabled, false);
  off.startWatchdog(() => true);
  await off.ready();
  off.stop();
  assert.deepEqual(quiet.lines(), []);

  const dir = mkdtempSync(join(tmpdir(), "fb-nohelper-"));
  try {
    const noisy = captureLogger();
    const none = new SystemdNotifier(noisy.logger, { PATH: dir, NOTIFY_SOCKET: join(dir, "x.sock") });
    assert.equal(none.enabled, false);
    await none.ready();
    assert.equal(noisy.lines().filter((l) => l["level"] === "warn").length, 1);
    assert.match(String(noisy.lines()[0]!["msg"]), /neither systemd-notify nor socat/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------
// `fieldbridge run` as systemd starts it

let emu: CloudEmulator;
let sim: ModbusTcpSimulator;

before(async () => {
  emu = await CloudEmulator.start({ tls: false });
  emu.addDevice({ ...GATEWAY, gateway: true });
  emu.addProduct(METER, { dynamicRegistration: true });
  sim = await ModbusTcpSimulator.start({ units: [1] });
});
after(async () => {
  await emu?.close();
  await sim?.close();
});

async function daemonUnderSystemd(t: TestContext, helper: "systemd-notify" | "socat"): Promise<void> {
  const rig = makeRig(emu, { log: { level: "info" } });
  t.after(() => rig.cleanup());
  // A last good gateway config from an earlier run: applied at start, before and without the cloud.
  mkdirSync(rig.dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(rig.dataDir, "gateway-config.json"), JSON.stringify(modbusDoc({ devices: 1, points: 2, port: sim.port })));
  const rx = await NotifyReceiver.start(join(rig.dir, "notify.sock"));
  t.after(() => rx.stop());
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: rx.address, WATCHDOG_USEC: "1000000" };
  if (helper === "socat") env["PATH"] = pathWith(rig.dir, { socat: socatPath! });

  // The cloud is down while the daemon starts: readiness must not wait for it.
  await emu.outage();
  t.after(() => emu.restore().catch(() => undefined));
  const d = new DaemonProcess(["run", "--config", rig.configFile], env);
  t.after(() => void d.stop("SIGKILL"));

  await rx.waitFor(() => rx.with("READY", "1").length === 1, 20_000, "READY=1");
  const readyAt = rx.with("READY", "1")[0]!.t;
  const applied = await d.waitForLog((l) => l["msg"] === "gateway config applied", 5000);
  assert.equal(applied["source"], "persisted");
  assert.ok(Date.parse(String(applied["time"])) <= readyAt, "READY=1 comes after the local config is applied");
  assert.ok(!d.logs().some((l) => l["msg"] === "connected to cloud"), "and without a cloud connection");
  const watchdog = await d.waitForLog((l) => l["msg"] === "systemd watchdog enabled", 5000);
  assert.deepEqual([watchdog["everyMs"], watchdog["via"]], [500, helper]);

  await emu.restore();
  await d.waitForLog((l) => l["msg"] === "connected to cloud", 15_000);
  // socat lingers after each message, so its pings come at most every other tick.
  const want = helper === "socat" ? 2 : 3;
  await rx.waitFor(() => rx.with("WATCHDOG", "1").length >= want, 10_000, `${want} WATCHDOG=1`);
  const pings = rx.with("WATCHDOG", "1").map((p) => p.t);
  const gaps = pings.slice(1).map((x, i) => x - pings[i]!);
  assert.ok(gaps.every((g) => g >= 250), `pings about every 500 ms, not faster: ${gaps.join(",")}`);
  assert.equal(rx.with("STOPPING").length, 0);

  const stopped = await d.stop("SIGTERM");
  assert.equal(stopped.code, 0, d.stderr);
  assert.equal(rx.with("STOPPING", "1").length, 1, "STOPPING=1 on SIGTERM");
  assert.ok(rx.with("STOPPING", "1")[0]!.t >= pings.at(-1)!);
  assert.equal(rx.with("READY").length, 1, "READY=1 once");
  assert.ok(!d.logs().some((l) => l["msg"] === "systemd notification failed"), d.stdout.slice(-2000));
}

test("fieldbridge run with NOTIFY_SOCKET: READY=1 once the local config is applied (cloud down), WATCHDOG=1 repeatedly, STOPPING=1 and exit 0 on SIGTERM", async (t) => {
  assert.ok(havePython, "python3 runs the fake notify socket receiver (it is needed for npm ci too)");
  if (!haveSystemdNotify) return t.skip("systemd-notify is not installed (Debian package `systemd`); the socat variant runs below");
  await daemonUnderSystemd(t, "systemd-notify");
});

test("fieldbridge run notifies through socat where systemd-notify is missing", async (t) => {
  assert.ok(havePython, "python3 runs the fake notify socket receiver (it is needed for npm ci too)");
  assert.ok(socatPath, "socat is needed (the Modbus RTU tests use it too)");
  await daemonUnderSystemd(t, "socat");
});
