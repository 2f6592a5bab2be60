/**
 * A gateway config pushed while the data dir's disk is full: the document cannot be persisted, so it is not applied
 * at all. The reply is "apply failed", /status shows the previous config still running with the failure, and a
 * restart runs the previous config (never one that ran unpersisted). Once there is space again, the same push is
 * applied and persisted, and a restart keeps it. The data dir is a small tmpfs of the test's own (needs root).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, openSync, writeSync, closeSync, rmSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { DaemonProcess } from "../helpers/cli.js";
import { GATEWAY, makeRig } from "../helpers/daemon.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";

const gw = GATEWAY;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function getJson(url: string): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body) as Record<string, any>);
        } catch (err) {
          reject(new Error(`${url}: ${res.statusCode} ${body.slice(0, 200)} (${(err as Error).message})`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url} timed out`)));
    req.on("error", reject);
  });
}

/** Writes zeros into `file` until the file system answers ENOSPC; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, "w");
  let written = 0;
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

const sha256 = (doc: object) => createHash("sha256").update(JSON.stringify(doc)).digest("hex");

test("a push while the disk is full is refused and not applied; a restart runs the old config; with space again the push applies and persists", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("mounting a tmpfs for the data dir needs root");
    return;
  }
  const emu = await CloudEmulator.start({});
  emu.addDevice({ ...gw, gateway: true });
  emu.addProduct(METER, { tsl: meterTsl(3), dynamicRegistration: true });
  for (let i = 0; i < 2; i++) emu.addDevice({ productKey: METER, deviceName: deviceName("meter", i) });
  const sim = await ModbusTcpSimulator.start({ units: [1, 2] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const rig = makeRig(emu, { store: { sync: "full" }, http: { listen: `127.0.0.1:${port}` }, log: { level: "info" } });
  mkdirSync(rig.dataDir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", rig.dataDir], { stdio: "ignore" });
  let d!: DaemonProcess;
  t.after(async () => {
    await d?.stop("SIGKILL");
    await sim.close();
    await emu.close();
    execFileSync("umount", [rig.dataDir]);
    rig.cleanup();
  });
  const start = async () => {
    d = new DaemonProcess(["run", "--config", rig.configFile]);
    await d.waitForLog((l) => l.msg === "status endpoint listening", 15_000);
    await d.waitForLog((l) => l.msg === "connected to cloud", 15_000);
  };
  const status = async () => {
    try {
      return (await getJson(`${base}/status`))["config"] as Record<string, any>;
    } catch (err) {
      throw new Error(`${(err as Error).message}; daemon exit ${d.child.exitCode ?? d.child.signalCode}, output:\n${d.stdout.slice(-3000)}\n${d.stderr.slice(-2000)}`);
    }
  };

  const oldDoc = modbusDoc({ devices: 1, points: 2, port: sim.port, pollingTime: 200 });
  const newDoc = modbusDoc({ devices: 2, points: 3, port: sim.port, pollingTime: 200 });
  await start();
  assert.equal((await emu.pushConfig(gw, oldDoc)).reply.code, 200);
  const persisted = () => readFileSync(join(rig.dataDir, "gateway-config.json"), "utf8");
  assert.equal(persisted(), JSON.stringify(oldDoc));
  assert.equal((await status()).version, sha256(oldDoc));

  // The disk fills up; the push's document cannot be written.
  const filler = join(rig.dataDir, "filler");
  const filled = fill(filler);
  t.diagnostic(`filled the data dir's tmpfs with ${filled} bytes`);
  const refused = await emu.pushConfig(gw, newDoc);
  assert.notEqual(refused.reply.code, 200, JSON.stringify(refused.reply));
  assert.equal(refused.reply.code, 100000, JSON.stringify(refused.reply));
  assert.equal(refused.reply.message, "apply failed");
  let st = await status();
  assert.equal(st.version, sha256(oldDoc), "the old config still runs");
  assert.equal(st.devices, 1, "the old config's devices");
  assert.equal(st.failing, true);
  assert.equal(st.lastError?.stage, "apply", JSON.stringify(st.lastError));
  assert.match(String(st.lastError?.message), /cannot be persisted.*(ENOSPC|no space)/i);
  assert.equal(persisted(), JSON.stringify(oldDoc), "the persisted document is untouched");
  assert.ok(d.logs().some((l) => /cannot be persisted/.test(String(l.msg))), "the failure is logged");

  // Space again; a restart brings back the old config, the only one that ever ran.
  rmSync(filler);
  assert.equal((await d.stop("SIGTERM")).code, 0);
  await start();
  st = await status();
  assert.equal(st.version, sha256(oldDoc), "a restart runs the old config");
  assert.equal(st.source, "persisted");
  assert.equal(st.devices, 1);
  assert.equal(st.failing, false);

  // The same push now applies and is persisted; a restart keeps it.
  assert.equal((await emu.pushConfig(gw, newDoc)).reply.code, 200);
  st = await status();
  assert.equal(st.version, sha256(newDoc));
  assert.equal(st.devices, 2);
  assert.equal(st.failing, false);
  assert.equal(persisted(), JSON.stringify(newDoc));
  assert.equal((await d.stop("SIGTERM")).code, 0);
  await start();
  st = await status();
  assert.equal(st.version, sha256(newDoc), "a restart keeps the new config");
  assert.equal(st.source, "persisted");
  assert.equal(st.devices, 2);
  assert.equal((await d.stop("SIGTERM")).code, 0);
});
