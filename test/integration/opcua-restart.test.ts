/**
 * Sessions come back without restarting the daemon: after a server restart on the same port (same
 * certificate) and after a network cut (a TCP relay in front of the server drops every connection), the same
 * channel object recreates its session, subscription and monitored items, and reports health on the way.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { OpcuaChannelSpec } from "../../src/config/gateway/model.js";
import { defaultFieldOptions, type FieldChannel } from "../../src/field/driver.js";
import { createOpcuaChannel } from "../../src/field/opcua/index.js";
import { createLogger } from "../../src/ops/logger.js";
import { startOpcuaSimulator, type OpcuaSimulator, type OpcuaSimulatorOptions } from "../../src/sim/opcua/index.js";
import { adderDeviceSpec, adderSimDevice, type AdderDevice } from "../helpers/opcua-device.js";
import { RecordingSink } from "../helpers/recording-sink.js";

const PATH = "Line/Press";
const DEVICE: AdderDevice = { path: PATH, variable: "Force", property: "force" };

/** A loopback TCP relay whose connections can be cut at once, like a pulled cable followed by a reconnect. */
class Relay {
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  port = 0;

  constructor(private readonly target: () => number) {
    this.server = net.createServer((inbound) => {
      const outbound = net.connect(this.target(), "127.0.0.1");
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Resets every relayed connection (RST on both sides). */
  cut(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.resetAndDestroy();
    return n;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let dir: string;
let sim: OpcuaSimulator;
let relay: Relay;
const channels: FieldChannel[] = [];
const rec = new RecordingSink();

function serverOptions(port: number): OpcuaSimulatorOptions {
  return {
    port,
    pkiDir: path.join(dir, "server-pki"),
    securityPolicies: ["Basic256Sha256"],
    securityModes: ["SignAndEncrypt"],
    devices: [adderSimDevice(DEVICE, 1)],
  };
}

async function openChannel(serverId: string, url: string): Promise<FieldChannel> {
  const spec: OpcuaChannelSpec = {
    protocol: "opcua",
    serverId,
    name: serverId,
    url,
    securityPolicy: "Basic256Sha256",
    securityMode: "SignAndEncrypt",
    timeoutMs: 3000,
  };
  const ch = createOpcuaChannel(spec, rec, {
    logger: createLogger("silent"),
    dataDir: path.join(dir, "data"),
    options: { ...defaultFieldOptions, opcuaSamplingMs: 100 },
  });
  channels.push(ch);
  await ch.start();
  ch.addDevice(adderDeviceSpec(DEVICE, serverId));
  return ch;
}

/** Health records of one key since a time, as "up"/"down" words. */
function transitions(log: Array<{ key: string; up: boolean; at: number }>, key: string, since: number): string[] {
  return log.filter((h) => h.key === key && h.at >= since).map((h) => (h.up ? "up" : "down"));
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "fb-opcua-restart-"));
  sim = await startOpcuaSimulator(serverOptions(0));
  relay = new Relay(() => sim.port);
  await relay.listen();
  await openChannel("DIRECT", sim.endpointUrl);
  await openChannel("RELAYED", `opc.tcp://127.0.0.1:${relay.port}`);
  await rec.waitFor("devices online", () => rec.device("pk/DIRECT")?.up && rec.device("pk/RELAYED")?.up, 20_000);
});

after(async () => {
  for (const ch of channels) await ch.stop();
  await relay?.close();
  await sim?.shutdown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("OPC UA reconnection", () => {
  test("a server restart on the same port is recovered by the same channel", async () => {
    const [direct] = channels;
    const t0 = Date.now();
    const thumbprint = sim.certificateThumbprint;
    await sim.shutdown();
    await rec.waitFor("device offline", () => rec.device("pk/DIRECT")?.up === false, 10_000);
    assert.equal(rec.channel("DIRECT")?.up, false);
    assert.equal(direct!.stats().up, false);

    sim = await startOpcuaSimulator(serverOptions(sim.port));
    // same port, same certificate: the pinned certificate is accepted again
    assert.equal(sim.certificateThumbprint, thumbprint);
    await rec.waitFor("device online again", () => rec.device("pk/DIRECT")?.up, 20_000);
    assert.deepEqual(transitions(rec.deviceHealthLog, "pk/DIRECT", t0), ["down", "up"]);
    assert.deepEqual(transitions(rec.channelHealthLog, "DIRECT", t0).at(-1), "up");

    // the subscription is live again: a change on the new server instance arrives
    const t1 = Date.now();
    sim.set(PATH, "Force", 7.5);
    const s = await rec.waitFor("change after restart", () => rec.of("pk/DIRECT", "force", t1).find((x) => x.value === 7.5), 3000);
    assert.ok(s.at - t1 < 1000, `change took ${s.at - t1} ms`);
    // writes and calls use the new session
    await direct!.write("pk/DIRECT", { force: 3 });
    assert.equal(sim.get(PATH, "Force"), 3);
    assert.deepEqual(await direct!.call("pk/DIRECT", "add", { a: 1, b: 2 }), { sum: 3 });
  });

  test("a network cut is recovered: new session, subscription and monitored items", async () => {
    const relayed = channels[1]!;
    await rec.waitFor("relayed online", () => rec.device("pk/RELAYED")?.up, 20_000);
    const t0 = Date.now();
    assert.ok(relay.cut() > 0, "the relay carried the channel's connection");
    await rec.waitFor("relayed back online", () => transitions(rec.deviceHealthLog, "pk/RELAYED", t0).join(",") === "down,up", 20_000);
    const t1 = Date.now();
    sim.set(PATH, "Force", 9.25);
    await rec.waitFor("change after the cut", () => rec.of("pk/RELAYED", "force", t1).find((x) => x.value === 9.25), 3000);
    assert.deepEqual(await relayed.call("pk/RELAYED", "add", { a: 2, b: 2 }), { sum: 4 });
    // one channel's trouble did not touch the other
    assert.deepEqual(transitions(rec.deviceHealthLog, "pk/DIRECT", t0), []);
  });
});
