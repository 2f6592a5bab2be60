import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { mqttConnectFields, signContent, hmacHex } from "../../src/cloud/aliyun/sign.js";
import { DaemonProcess } from "../helpers/cli.js";
import { GATEWAY, makeRig, secretsIn } from "../helpers/daemon.js";

let emu: CloudEmulator;

before(async () => {
  emu = await CloudEmulator.start({ tls: true });
  emu.addDevice({ ...GATEWAY, gateway: true });
});
after(async () => {
  await emu.close();
});

const gatewayConnects = () => emu.connects.filter((c) => c.clientId.startsWith(`${GATEWAY.deviceName}|`));

test("run connects over TLS with a verified signature, survives an outage with backoff, exits 0 on SIGTERM", async (t) => {
  const rig = makeRig(emu);
  t.after(() => rig.cleanup());
  const d = new DaemonProcess(["run", "--config", rig.configFile]);
  t.after(() => void d.stop("SIGKILL"));

  await d.waitForLog((l) => l.msg === "connected to cloud");
  const first = gatewayConnects().filter((c) => c.accepted);
  assert.equal(first.length, 1, "one accepted CONNECT");
  assert.match(first[0]!.clientId, /^gw-test-01\|securemode=2,signmethod=hmacsha256,timestamp=\d{13}\|$/);

  // Outage: every connection dropped, new ones refused at TCP level, then back on the same port.
  await emu.outage();
  await d.waitForLog((l) => l.msg === "disconnected from cloud");
  const outageStart = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  await emu.restore();
  const reconnected = await d.waitForLog((l) => l.msg === "connected to cloud" && Date.parse(String(l.time)) > outageStart, 10_000);
  assert.ok(reconnected);
  assert.equal(gatewayConnects().filter((c) => c.accepted).length, 2, "reconnected once");

  // Backoff: attempts during the 3 s outage grow from 0.2 s to the 1 s cap instead of hammering.
  const attempts = d.logs().filter((l) => l.msg === "connect attempt failed" && Date.parse(String(l.time)) >= outageStart - 50);
  assert.ok(attempts.length >= 3 && attempts.length <= 12, `attempts during outage: ${attempts.length}`);
  const times = attempts.map((l) => Date.parse(String(l.time)));
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  assert.ok(gaps.every((g) => g >= 90), `gaps ${gaps.join(",")}`);
  assert.ok(Math.max(...gaps) >= 450, `the gap grows towards the cap: ${gaps.join(",")}`);

  const stopped = await d.stop("SIGTERM");
  assert.equal(stopped.code, 0, d.stderr);
  assert.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`);
  assert.ok(d.logs().some((l) => l.msg === "fieldbridge stopped"));

  // No secret in anything the daemon printed: the device secret, nor the CONNECT password derived from it.
  const ts = /timestamp=(\d+)/.exec(first[0]!.clientId)![1]!;
  const password = mqttConnectFields({ ...GATEWAY, clientId: GATEWAY.deviceName, timestamp: ts, signMethod: "hmacsha256", tls: true }).password;
  assert.deepEqual(secretsIn(d.stdout + d.stderr, [GATEWAY.deviceSecret, password]), []);
});

test("a wrong secret is refused by the emulator, logged once as bad credentials and retried at the cap", async (t) => {
  const rig = makeRig(emu, { mqtt: { reconnectMinSeconds: 0.1, reconnectMaxSeconds: 0.8 } }, { secret: "Wrong-Secret-0000000000000000000" });
  t.after(() => rig.cleanup());
  const before = emu.connects.length;
  const d = new DaemonProcess(["run", "--config", rig.configFile]);
  t.after(() => void d.stop("SIGKILL"));
  await emu.waitFor(() => emu.connects.slice(before).filter((c) => !c.accepted).length >= 3, 10_000);
  const refused = emu.connects.slice(before).filter((c) => !c.accepted);
  assert.ok(refused.every((c) => c.returnCode === 4), JSON.stringify(refused.map((c) => c.reason)));
  assert.equal(emu.connects.slice(before).filter((c) => c.accepted).length, 0);
  const badCred = d.logs().filter((l) => typeof l.msg === "string" && l.msg.startsWith("cloud refused the connection: bad credentials"));
  assert.equal(badCred.length, 1, "logged once, not per attempt");
  const stopped = await d.stop("SIGTERM");
  assert.equal(stopped.code, 0);
  // Attempts are spaced at the cap (0.8 s, minus nothing: no jitter below the cap for refusals).
  const times = emu.connects.slice(before).map((c) => c.time);
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  assert.ok(gaps.every((g) => g >= 700), `gaps ${gaps.join(",")}`);
  assert.deepEqual(secretsIn(d.stdout + d.stderr, ["Wrong-Secret-0000000000000000000"]), []);
});

test("the signing test vector of alink.md 1.5 is what the daemon sends", () => {
  const f = mqttConnectFields({ productKey: "pk", deviceName: "device", deviceSecret: "secret", clientId: "12345", timestamp: "789", signMethod: "hmacsha1", tls: false });
  assert.equal(f.clientId, "12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
  assert.equal(f.username, "device&pk");
  assert.equal(f.password.toUpperCase(), "FAFD82A3D602B37FB0FA8B7892F24A477F851A14");
  assert.equal(hmacHex("hmacsha256", "secret", signContent({ clientId: "12345", deviceName: "device", productKey: "pk", timestamp: "789" })),
    "6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57");
});

test("a broker certificate that does not verify: one warn line with the TLS reason, /status names it, /healthz is 503 at once", async (t) => {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const { TEST_PKI_DIR } = await import("../../src/sim/cloud/tls-material.js");
  const { join } = await import("node:path");
  const port = await freePort();
  const rig = makeRig(emu, { http: { listen: `127.0.0.1:${port}` } });
  t.after(() => rig.cleanup());
  // Trust another CA than the one that signed the emulator's certificate.
  writeFileSync(rig.caFile, readFileSync(join(TEST_PKI_DIR, "other-ca.pem")));
  const d = new DaemonProcess(["run", "--config", rig.configFile]);
  t.after(() => void d.stop("SIGKILL"));
  const line = await d.waitForLog((l) => l.msg === "cannot connect to cloud" && l.level === "warn", 10_000);
  assert.match(String(line["reason"]), /^TLS: /);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(d.logs().filter((l) => l.msg === "cannot connect to cloud").length, 1, "logged once while the reason stays the same");
  const status = await (await fetch(`http://127.0.0.1:${port}/status`)).json() as { connection: { connected: boolean; reason: string } };
  assert.equal(status.connection.connected, false);
  assert.match(status.connection.reason, /^TLS: /);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 503);
  assert.match(await health.text(), /cloud connection refused: TLS: /);
  assert.equal((await d.stop("SIGTERM")).code, 0);
});

async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
