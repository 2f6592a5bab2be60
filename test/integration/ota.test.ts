/**
 * Firmware update of the gateway itself against the cloud emulator over TLS: version inform and firmware
 * request, an upgrade downloaded from the emulator's HTTPS file server and handed to a real installer
 * program, and every failure step the cloud can see.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { topics } from "../../src/cloud/aliyun/topics.js";
import { startHarness, until, type Harness } from "../helpers/harness.js";
import { GATEWAY, secretsIn } from "../helpers/daemon.js";

const gw = GATEWAY;
const gwKey = `${gw.productKey}/${gw.deviceName}`;
const WAIT_MS = 15_000;

/** Records its argv, cwd and the content hash of the file it was given; exits with the code in `exit-code` if present. */
const INSTALLER = `
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
const args = process.argv.slice(2);
const record = args[0];
const file = args[args.length - 1];
const body = readFileSync(file);
appendFileSync(record, JSON.stringify({ argv: args, cwd: process.cwd(), size: body.length,
  sha256: createHash("sha256").update(body).digest("hex") }) + "\\n");
const control = join(dirname(record), "exit-code");
if (existsSync(control)) {
  process.stderr.write("flash write error at block 7\\n");
  process.exit(Number(readFileSync(control, "utf8")));
}
`;

interface InstallRecord {
  argv: string[];
  cwd: string;
  size: number;
  sha256: string;
}

interface Installer {
  dir: string;
  record: string;
  command: string[];
  calls(): InstallRecord[];
  failWith(code: number | null): void;
  cleanup(): void;
}

function makeInstaller(): Installer {
  const dir = mkdtempSync(join(tmpdir(), "fb-ota-installer-"));
  const script = join(dir, "install.mjs");
  const record = join(dir, "calls.jsonl");
  writeFileSync(script, INSTALLER);
  return {
    dir, record,
    command: [process.execPath, script, record],
    calls: () => (existsSync(record) ? readFileSync(record, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as InstallRecord) : []),
    failWith: (code) => (code === null ? rmSync(join(dir, "exit-code"), { force: true }) : writeFileSync(join(dir, "exit-code"), String(code))),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

type Progress = { step: string; desc: string; time: number };

function progressSince(h: Harness, t0: number): Progress[] {
  return h.emu.ota
    .filter((o) => o.deviceKey === gwKey && o.kind === "progress" && o.time >= t0)
    .map((o) => ({ step: String(o.params["step"]), desc: String(o.params["desc"]), time: o.time }));
}

async function waitForStep(h: Harness, t0: number, steps: string[], what: string): Promise<Progress[]> {
  await h.emu.waitFor(() => progressSince(h, t0).some((p) => steps.includes(p.step)), WAIT_MS, what);
  return progressSince(h, t0);
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

function otaFiles(h: Harness): string[] {
  const dir = join(h.rig.dataDir, "ota");
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe("OTA with an install command", () => {
  let h: Harness;
  let installer: Installer;

  before(async () => {
    installer = makeInstaller();
    h = await startHarness({
      tls: true,
      config: { gateway: { ...gw, firmwareVersion: "1.4.2" }, ota: { installCommand: installer.command, maxBytes: 8 * 1024 * 1024 } },
    });
    await until(() => h.alink.link.connected, WAIT_MS, "gateway connected");
  });

  after(async () => {
    await h?.stop();
    installer?.cleanup();
  });

  test("the configured version is reported on every connect; firmware info is requested once per start", async () => {
    const { emu } = h;
    await emu.waitFor(() => emu.ota.some((o) => o.kind === "request"), WAIT_MS, "firmware request");
    const informs = () => emu.ota.filter((o) => o.deviceKey === gwKey && o.kind === "inform");
    const requests = () => emu.ota.filter((o) => o.deviceKey === gwKey && o.kind === "request");
    await emu.waitFor(() => informs().length === 1, WAIT_MS, "inform");
    assert.deepEqual(informs()[0]!.params, { version: "1.4.2" });
    assert.deepEqual(requests()[0]!.params, { version: "1.4.2" });
    assert.match(informs()[0]!.msgId, /^\d+$/);
    // The emulator has no offer: it answers 500, which is nothing to do.
    await until(() => h.logText().includes("no firmware upgrade pending"), WAIT_MS, "500 answer handled");
    assert.equal(progressSince(h, 0).length, 0, "no progress without an upgrade");

    await emu.outage();
    await until(() => !h.alink.link.connected, WAIT_MS, "disconnected");
    await emu.restore();
    await emu.waitFor(() => informs().length === 2, WAIT_MS, "inform after reconnect");
    assert.deepEqual(informs()[1]!.params, { version: "1.4.2" });
    assert.equal(requests().length, 1, "the request is sent once per start, not per connect");
  });

  test("an upgrade is downloaded with throttled progress, verified, installed, reported as 100 and removed", async () => {
    const body = randomBytes(3 * 1024 * 1024 + 123);
    const t0 = Date.now();
    const offer = h.emu.otaUpgrade(gw, { version: "2.0.0", body, signMethod: "Sha256" });
    assert.equal(offer.sign, sha256(body));
    const steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "upgrade finished");
    const last = steps[steps.length - 1]!;
    assert.equal(last.step, "100", JSON.stringify(steps));
    assert.match(last.desc, /2\.0\.0 installed/);
    assert.equal(steps[0]!.step, "1");
    const numbers = steps.map((s) => Number(s.step));
    for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! >= numbers[i - 1]!, `steps never go back: ${numbers.join(",")}`);
    assert.ok(numbers.every((n) => n >= 1 && n <= 100), numbers.join(","));
    // 3 MB arrive in far more than 20 chunks; reports come every 10 % (or 2 s), never per chunk.
    assert.ok(steps.length >= 3 && steps.length <= 14, `progress reports: ${numbers.join(",")}`);

    const calls = installer.calls();
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.equal(call.sha256, sha256(body), "the installer got the verified firmware");
    assert.equal(call.size, body.length);
    assert.equal(call.argv.length, 2, "argv: the configured arguments, then the file");
    assert.equal(call.argv[0], installer.record);
    const file = call.argv[1]!;
    assert.equal(join(file, ".."), join(h.rig.dataDir, "ota"));
    assert.match(file.slice(file.lastIndexOf("/") + 1), /^firmware-\d+-[0-9a-f]{8}\.bin$/, "a locally generated file name");
    assert.equal(call.cwd, join(h.rig.dataDir, "ota"));
    await until(() => !existsSync(file), 5000, "firmware file removed");
    assert.deepEqual(otaFiles(h), []);
    assert.equal(h.alink.ota.status().installed, "2.0.0");
    assert.match(h.logText(), /new version will be reported when the service has restarted/);
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade finished");
  });

  test("a checksum mismatch is reported as -3 and the installer is not run", async () => {
    const body = Buffer.from("firmware 2.1.0 ".repeat(5000));
    const t0 = Date.now();
    const before = installer.calls().length;
    h.emu.otaUpgrade(gw, { version: "2.1.0", body, signMethod: "Md5", sign: "0123456789ABCDEF0123456789abcdef" });
    const steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "verification result");
    const last = steps[steps.length - 1]!;
    assert.equal(last.step, "-3", JSON.stringify(steps));
    assert.match(last.desc, /Md5 checksum mismatch/);
    assert.ok(h.emu.files.requests.some((r) => r.startsWith("/firmware-2.1.0.bin")), "the firmware was downloaded before the check");
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");
    assert.equal(installer.calls().length, before, "installer not run");
    assert.deepEqual(otaFiles(h), [], "the unverified file is removed");
  });

  test("a download failure is reported as -2, an installer failure as -4", async () => {
    h.emu.files.behave("firmware-2.2.0.bin", { status: 404 });
    let t0 = Date.now();
    h.emu.otaUpgrade(gw, { version: "2.2.0", body: "x".repeat(5000) });
    let steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "download result");
    assert.equal(steps[steps.length - 1]!.step, "-2", JSON.stringify(steps));
    assert.match(steps[steps.length - 1]!.desc, /HTTP 404/);
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");

    installer.failWith(3);
    try {
      const before = installer.calls().length;
      t0 = Date.now();
      h.emu.otaUpgrade(gw, { version: "2.3.0", body: "y".repeat(5000) });
      steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "install result");
      const last = steps[steps.length - 1]!;
      assert.equal(last.step, "-4", JSON.stringify(steps));
      assert.equal(last.desc, "installer exited with code 3");
      assert.equal(installer.calls().length, before + 1);
      assert.ok(h.logs().some((l) => l["step"] === "-4" && String(l["output"]).includes("flash write error at block 7")), "installer output logged");
      await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");
      assert.deepEqual(otaFiles(h), []);
      assert.equal(h.alink.ota.status().installed, "2.0.0", "a failed install changes nothing");
    } finally {
      installer.failWith(null);
    }
  });

  test("one upgrade at a time: a second notice is ignored; a pending offer is answered to the request after a restart", async () => {
    const first = Buffer.from("slow firmware 3.0.0 ".repeat(4000));
    const second = Buffer.from("firmware 3.0.1 ".repeat(4000));
    h.emu.files.behave("firmware-3.0.0.bin", { delayMs: 1500 });
    const before = installer.calls().length;
    const t0 = Date.now();
    h.emu.otaUpgrade(gw, { version: "3.0.0", body: first });
    await until(() => h.alink.ota.status().upgrading?.version === "3.0.0", WAIT_MS, "3.0.0 running");
    h.emu.otaUpgrade(gw, { version: "3.0.1", body: second });
    await until(() => h.logText().includes("firmware upgrade already in progress; notice ignored"), WAIT_MS, "second notice ignored");
    const steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "3.0.0 result");
    assert.equal(steps[steps.length - 1]!.step, "100", JSON.stringify(steps));
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");
    assert.equal(installer.calls().length, before + 1, "only the first upgrade ran");
    assert.equal(installer.calls().at(-1)!.sha256, sha256(first));
    assert.equal(progressSince(h, t0).filter((p) => p.step === "100").length, 1);
    assert.ok(!h.emu.files.requests.some((r) => r.startsWith("/firmware-3.0.1.bin")), "the ignored firmware was not downloaded");

    // The cloud still offers 3.0.1: the request sent at the next start is answered "1000", which is a push.
    const t1 = Date.now();
    await h.restart();
    await h.emu.waitFor(() => h.emu.ota.some((o) => o.kind === "request" && o.time >= t1), WAIT_MS, "request after restart");
    const after = await waitForStep(h, t1, ["100", "-1", "-2", "-3", "-4"], "3.0.1 result");
    assert.equal(after[after.length - 1]!.step, "100", JSON.stringify(after));
    assert.equal(installer.calls().at(-1)!.sha256, sha256(second));
    assert.equal(installer.calls().length, before + 2);
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");
  });

  test("the URL's query string is sent to the server but never logged or reported; no secret is logged", async () => {
    const body = Buffer.from("firmware 4.0.0 ".repeat(3000));
    const query = "?Expires=1502955804&OSSAccessKeyId=AKIDq7Xv2Lp9&Signature=Xfg7Ju7P6DWWejst%3D&security-token=CAISuQJ1q6Tok3n";
    const url = `${h.emu.files.put("fw-4.0.0.bin", body)}${query}`;
    const notice = (version: string, u: string) => ({
      code: "1000", id: 1507707025, message: "success",
      data: { size: body.length, version, url: u, md5: createHash("md5").update(body).digest("hex"), sign: createHash("md5").update(body).digest("hex"), signMethod: "Md5" },
    });
    let t0 = Date.now();
    h.alink.ota.handle(topics.otaUpgrade(gw), notice("4.0.0", url));
    let steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "4.0.0 result");
    assert.equal(steps[steps.length - 1]!.step, "100", JSON.stringify(steps));
    assert.ok(h.emu.files.requests.includes(`/fw-4.0.0.bin${query}`), "the signed URL is used as given");
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");

    // A failing download names the URL too: still without its query string.
    t0 = Date.now();
    h.alink.ota.handle(topics.otaUpgrade(gw), notice("4.0.1", `${h.emu.files.url}/missing.bin${query}`));
    steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "4.0.1 result");
    assert.equal(steps[steps.length - 1]!.step, "-2");
    assert.match(steps[steps.length - 1]!.desc, /missing\.bin/);
    await until(() => h.alink.ota.status().upgrading === undefined, 5000, "upgrade over");

    const reported = h.emu.ota.map((o) => JSON.stringify(o.params)).join("\n");
    const logs = h.logText();
    assert.match(logs, /fw-4\.0\.0\.bin/, "the log names the firmware file");
    for (const fragment of ["Expires=", "AKIDq7Xv2Lp9", "Xfg7Ju7P6DWWejst", "CAISuQJ1q6Tok3n", "security-token"]) {
      assert.ok(!logs.includes(fragment), `log contains ${fragment}`);
      assert.ok(!reported.includes(fragment), `a report contains ${fragment}`);
    }
    assert.deepEqual(secretsIn(logs, [gw.deviceSecret]), []);
  });

  test("stopping the gateway cancels a running download, reports -2 and leaves no file", async () => {
    h.emu.files.behave("firmware-5.0.0.bin", { delayMs: 20_000 });
    const before = installer.calls().length;
    const t0 = Date.now();
    h.emu.otaUpgrade(gw, { version: "5.0.0", body: "z".repeat(5000) });
    await h.emu.waitFor(() => progressSince(h, t0).some((p) => p.step === "1"), WAIT_MS, "download started");
    const stopStarted = Date.now();
    await h.gw.stop();
    assert.ok(Date.now() - stopStarted < 8000, "the stop did not wait for the download");
    const steps = progressSince(h, t0);
    assert.equal(steps[steps.length - 1]!.step, "-2", JSON.stringify(steps));
    assert.match(steps[steps.length - 1]!.desc, /shutting down/);
    assert.equal(installer.calls().length, before);
    assert.deepEqual(otaFiles(h), []);
  });
});

describe("OTA without an install command", () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({ tls: true, config: { gateway: { ...gw, firmwareVersion: "1.0.0" } } });
    await until(() => h.alink.link.connected, WAIT_MS, "gateway connected");
  });

  after(async () => {
    await h?.stop();
  });

  test("an upgrade is refused with -1 and a clear reason, logged once, and nothing is downloaded", async () => {
    const t0 = Date.now();
    h.emu.otaUpgrade(gw, { version: "2.0.0", body: "firmware" });
    const steps = await waitForStep(h, t0, ["100", "-1", "-2", "-3", "-4"], "refusal");
    assert.deepEqual(steps.map((s) => s.step), ["-1"]);
    assert.match(steps[0]!.desc, /ota\.installCommand is not configured/);
    h.emu.otaUpgrade(gw, { version: "2.0.1", body: "firmware" });
    await h.emu.waitFor(() => progressSince(h, t0).length === 2, WAIT_MS, "second refusal");
    assert.deepEqual(progressSince(h, t0).map((s) => s.step), ["-1", "-1"]);
    const warnings = h.logs().filter((l) => String(l["msg"]).includes("ota.installCommand is not configured"));
    assert.equal(warnings.length, 1, "logged once");
    assert.equal(warnings[0]!["level"], "warn");
    assert.ok(!h.emu.files.requests.some((r) => r.startsWith("/firmware-")), "nothing downloaded");
    assert.deepEqual(otaFiles(h), []);
    assert.deepEqual(secretsIn(h.logText(), [gw.deviceSecret]), []);
  });
});
