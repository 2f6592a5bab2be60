/**
 * Security of the OPC UA channel against a real server that offers Basic256Sha256 only: Sign, SignAndEncrypt
 * with user name and password, a wrong password, trust on first use of the server certificate and the refusal
 * of a changed one. All channels log into one captured stream that must never contain a password.
 */
import assert from "node:assert/strict";
import { copyFile, mkdtemp, mkdir, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { OpcuaChannelSpec } from "../../src/config/gateway/model.js";
import { defaultFieldOptions, type FieldChannel } from "../../src/field/driver.js";
import { createOpcuaChannel } from "../../src/field/opcua/index.js";
import { startOpcuaSimulator, type OpcuaSimulator, type OpcuaSimulatorOptions } from "../../src/sim/opcua/index.js";
import { adderDeviceSpec, adderSimDevice, type AdderDevice } from "../helpers/opcua-device.js";
import { RecordingSink } from "../helpers/recording-sink.js";
import { captureLogger } from "../helpers/log-capture.js";

const PASSWORD = "s3cret-Pa55";
const WRONG_PASSWORD = "Wr0ng-pa55word";
const DEVICE_PATH = "Site/Boiler";
const DEVICE: AdderDevice = { path: DEVICE_PATH, variable: "Temperature", property: "temp" };

let dir: string;
let sim: OpcuaSimulator;
let port: number;
const log = captureLogger("debug");
const logLines = log.rawLines();
const rec = new RecordingSink();
const channels = new Map<string, FieldChannel>();

function serverOptions(pkiDir: string, p: number): OpcuaSimulatorOptions {
  return {
    port: p,
    pkiDir,
    securityPolicies: ["Basic256Sha256"],
    securityModes: ["Sign", "SignAndEncrypt"],
    users: [{ userName: "gw", password: PASSWORD }],
    allowAnonymous: true,
    devices: [adderSimDevice(DEVICE, 20)],
  };
}

async function openChannel(serverId: string, security: Partial<OpcuaChannelSpec>): Promise<FieldChannel> {
  const spec: OpcuaChannelSpec = {
    protocol: "opcua",
    serverId,
    name: `srv-${serverId}`,
    url: sim.endpointUrl,
    securityPolicy: "Basic256Sha256",
    securityMode: "Sign",
    timeoutMs: 5000,
    ...security,
  };
  const ch = createOpcuaChannel(spec, rec, {
    logger: log.logger,
    dataDir: path.join(dir, "data"),
    options: { ...defaultFieldOptions, opcuaSamplingMs: 100 },
  });
  channels.set(serverId, ch);
  await ch.start();
  ch.addDevice(adderDeviceSpec(DEVICE, serverId));
  return ch;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "fb-opcua-security-"));
  // The second server (another certificate) is created now so that swapping later is a warm start.
  const [a, b] = await Promise.all([
    startOpcuaSimulator(serverOptions(path.join(dir, "pki-a"), 0)),
    startOpcuaSimulator(serverOptions(path.join(dir, "pki-b"), 0)),
  ]);
  await b.shutdown();
  sim = a;
  port = a.port;
  await Promise.all([
    openChannel("SIGN", { securityMode: "Sign" }),
    openChannel("ENC", { securityMode: "SignAndEncrypt", userName: "gw", password: PASSWORD }),
    openChannel("BADPW", { securityMode: "SignAndEncrypt", userName: "gw", password: WRONG_PASSWORD }),
    openChannel("NONE", { securityPolicy: "None", securityMode: "None" }),
  ]);
});

after(async () => {
  for (const ch of channels.values()) await ch.stop();
  await sim?.shutdown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("OPC UA security", () => {
  test("Basic256Sha256 Sign, anonymous: values flow", async () => {
    await rec.waitFor("SIGN device online", () => rec.device("pk/SIGN")?.up, 20_000);
    assert.equal(rec.channel("SIGN")?.up, true);
    const s = await rec.waitFor("SIGN sample", () => rec.of("pk/SIGN", "temp")[0], 5000);
    assert.equal(s.value, 20);
  });

  test("Basic256Sha256 SignAndEncrypt with user name and password: values, writes and calls flow", async () => {
    await rec.waitFor("ENC device online", () => rec.device("pk/ENC")?.up, 20_000);
    const ch = channels.get("ENC")!;
    await ch.write("pk/ENC", { temp: 55.5 });
    assert.equal(sim.get(DEVICE_PATH, "Temperature"), 55.5);
    await rec.waitFor("ENC sees its write", () => rec.of("pk/ENC", "temp").find((x) => x.value === 55.5), 3000);
    assert.deepEqual(await ch.call("pk/ENC", "add", { a: 1.25, b: 2 }), { sum: 3.25 });
  });

  test("a wrong password is reported as BadUserAccessDenied and retried; the other channels are unaffected", async () => {
    const h = await rec.waitFor("BADPW down", () => rec.channel("BADPW"), 20_000);
    assert.equal(h.up, false);
    assert.match(h.reason ?? "", /BadUserAccessDenied/);
    assert.match(h.reason ?? "", /user "gw"/);
    const d = await rec.waitFor("BADPW device offline", () => rec.device("pk/BADPW"), 5000);
    assert.equal(d.up, false);
    assert.match(d.reason ?? "", /BadUserAccessDenied/);
    await rec.waitFor("a retry", () => channels.get("BADPW")!.stats().requests >= 2, 10_000);
    assert.equal(channels.get("BADPW")!.stats().up, false);
    // the others keep working meanwhile
    const t0 = Date.now();
    sim.set(DEVICE_PATH, "Temperature", 61);
    await rec.waitFor("ENC change", () => rec.of("pk/ENC", "temp", t0).find((x) => x.value === 61), 3000);
    await rec.waitFor("SIGN change", () => rec.of("pk/SIGN", "temp", t0).find((x) => x.value === 61), 3000);
  });

  test("a mode the server does not offer is reported with the offered endpoints (no downgrade)", async () => {
    const h = await rec.waitFor("NONE down", () => rec.channel("NONE"), 20_000);
    assert.equal(h.up, false);
    assert.match(h.reason ?? "", /no None\/None endpoint/);
    assert.match(h.reason ?? "", /Basic256Sha256\/SignAndEncrypt/);
  });

  test("the server certificate is pinned on first use", async () => {
    const pin = JSON.parse(await readFile(path.join(dir, "data", "pki", "pinned", "ENC.json"), "utf8")) as { thumbprint: string };
    assert.equal(pin.thumbprint, sim.certificateThumbprint);
    assert.ok(logLines.some((l) => l.includes("server certificate pinned on first use") && l.includes(sim.certificateThumbprint)));
  });

  test("a changed server certificate is refused until the operator trusts it", async () => {
    const before = Date.now();
    await sim.shutdown();
    sim = await startOpcuaSimulator(serverOptions(path.join(dir, "pki-b"), port));
    const h = await rec.waitFor(
      "ENC refuses the new certificate",
      () => rec.channelHealthLog.find((x) => x.key === "ENC" && x.at >= before && /server certificate changed/.test(x.reason ?? "")),
      20_000,
    );
    assert.match(h.reason!, new RegExp(`got ${sim.certificateThumbprint}`));
    assert.equal(rec.device("pk/ENC")?.up, false);
    // nothing was sent to the impostor: no session of ours on it
    assert.equal(sim.sessionCount(), 0);

    // The operator accepts the change by moving the saved certificate into the trusted folder.
    const pki = path.join(dir, "data", "pki");
    const rejected = await readdir(path.join(pki, "rejected"));
    assert.ok(rejected.includes(`${sim.certificateThumbprint}.der`));
    await mkdir(path.join(pki, "trusted", "certs"), { recursive: true });
    await copyFile(path.join(pki, "rejected", `${sim.certificateThumbprint}.der`), path.join(pki, "trusted", "certs", "server-b.der"));
    const accepted = Date.now();
    await rec.waitFor("ENC back online", () => rec.deviceHealthLog.find((x) => x.key === "pk/ENC" && x.up && x.at >= accepted), 25_000);
    const pin = JSON.parse(await readFile(path.join(pki, "pinned", "ENC.json"), "utf8")) as { thumbprint: string };
    assert.equal(pin.thumbprint, sim.certificateThumbprint);
    assert.ok(logLines.some((l) => l.includes("replaced by an operator-trusted certificate")));
  });

  test("no password appears in any log line or health reason", () => {
    assert.ok(logLines.length > 10);
    const all = [
      ...logLines,
      ...rec.channelHealthLog.map((h) => h.reason ?? ""),
      ...rec.deviceHealthLog.map((h) => h.reason ?? ""),
    ].join("\n");
    assert.ok(!all.includes(PASSWORD), "the password leaked");
    assert.ok(!all.includes(WRONG_PASSWORD), "the wrong password leaked");
    // the log did record the failure itself
    assert.ok(logLines.some((l) => l.includes("BadUserAccessDenied")));
  });
});
