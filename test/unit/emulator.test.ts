/**
 * The cloud emulator against a plain mqtt.js client: CONNECT rules, topology and sessions, data checks,
 * downlinks, faults, outages and the file server.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import https from "node:https";
import http from "node:http";
import { describe, test, type TestContext } from "node:test";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { hmacHex, loginParams, mqttConnectFields, signContent, topoAddItem, type ConnectSignMethod } from "../../src/cloud/aliyun/sign.js";
import { replyTopic, topics, type Identity } from "../../src/cloud/aliyun/topics.js";
import { CloudEmulator, testPki, type CloudEmulatorOptions } from "../../src/sim/cloud/aliyun/index.js";
import { startFileServer } from "../../src/sim/files.js";
import type { TslDocument } from "../../src/things/tsl-types.js";
import { captureLogger } from "../helpers/log-capture.js";

const WAIT_MS = 5000;

const GW = { productKey: "a1GwProd", deviceName: "gw-001", deviceSecret: "0123456789abcdef0123456789abcdef" };
const SUB_PK = "a1SubProd";

const SUB_TSL: TslDocument = {
  profile: { productKey: SUB_PK },
  properties: [
    { identifier: "Voltage", accessMode: "r", dataType: { type: "float", specs: { min: "0", max: "500" } } },
    { identifier: "Count", accessMode: "rw", dataType: { type: "int", specs: { min: "0", max: "100" } } },
    { identifier: "Mode", accessMode: "rw", dataType: { type: "enum", specs: { "0": "off", "1": "auto", "2": "manual" } } },
    { identifier: "Label", accessMode: "rw", dataType: { type: "text", specs: { length: "8" } } },
    { identifier: "On", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
    { identifier: "Stamp", accessMode: "r", dataType: { type: "date", specs: {} } },
    {
      identifier: "Pos",
      accessMode: "r",
      dataType: {
        type: "struct",
        specs: [
          { identifier: "x", dataType: { type: "int", specs: {} } },
          { identifier: "y", dataType: { type: "int", specs: {} } },
        ],
      },
    },
    { identifier: "Series", accessMode: "r", dataType: { type: "array", specs: { size: "3", item: { type: "double" } } } },
  ],
  events: [
    {
      identifier: "alarm",
      type: "alert",
      outputData: [
        { identifier: "errorCode", dataType: { type: "text", specs: { length: "255" } } },
        { identifier: "level", dataType: { type: "int", specs: { min: "1", max: "5" } } },
      ],
      method: "thing.event.alarm.post",
    },
  ],
  services: [
    { identifier: "Reset", callType: "async", inputData: [], outputData: [] },
    { identifier: "Probe", callType: "sync", inputData: [], outputData: [] },
  ],
};

/** 250 int properties P0..P249 for the limit tests. */
const WIDE_PK = "a1WideProd";
const WIDE_TSL: TslDocument = {
  profile: { productKey: WIDE_PK },
  properties: Array.from({ length: 250 }, (_, i) => ({ identifier: `P${i}`, dataType: { type: "int", specs: {} } })),
  events: Array.from({ length: 25 }, (_, i) => ({ identifier: `E${i}`, outputData: [] })),
};

const sub = (n: number, productKey = SUB_PK) => ({ productKey, deviceName: `meter-${String(n).padStart(2, "0")}` });

async function startEmu(t: TestContext, opts: CloudEmulatorOptions = {}): Promise<CloudEmulator> {
  const emu = await CloudEmulator.start(opts);
  t.after(() => emu.close());
  emu.addProduct(SUB_PK, { tsl: SUB_TSL, dynamicRegistration: true });
  emu.addProduct(WIDE_PK, { tsl: WIDE_TSL });
  emu.addDevice({ ...GW, gateway: true });
  return emu;
}

interface ConnectOptions {
  signMethod?: ConnectSignMethod;
  keepalive?: number;
  secret?: string;
  /** Securemode claimed in the client id; default: matches the transport. */
  claimTls?: boolean;
  clientId?: string;
  password?: string;
  ca?: string;
  device?: Identity;
  clean?: boolean;
  /** The id before the `|…|` extension; default the device name. */
  bareClientId?: string;
}

function connectOptions(emu: CloudEmulator, o: ConnectOptions = {}): IClientOptions {
  const dev = o.device ?? GW;
  const f = mqttConnectFields({
    productKey: dev.productKey,
    deviceName: dev.deviceName,
    deviceSecret: o.secret ?? GW.deviceSecret,
    clientId: o.bareClientId ?? dev.deviceName,
    timestamp: String(Date.now()),
    signMethod: o.signMethod ?? "hmacsha256",
    tls: o.claimTls ?? emu.tls,
  });
  return {
    clientId: o.clientId ?? f.clientId,
    username: f.username,
    password: o.password ?? f.password,
    keepalive: o.keepalive ?? 300,
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    clean: o.clean ?? true,
    ...(emu.tls ? { ca: o.ca ?? emu.caPem } : {}),
  };
}

/** Connects or fails; never leaves a client behind. */
async function tryConnect(t: TestContext, url: string, opts: IClientOptions): Promise<{ client?: MqttClient; error?: Error & { code?: number | string } }> {
  const client = mqtt.connect(url, opts);
  const outcome = await new Promise<{ ok: boolean; error?: Error }>((resolve) => {
    client.once("connect", () => resolve({ ok: true }));
    client.once("error", (error) => resolve({ ok: false, error }));
    client.once("close", () => resolve({ ok: false, error: new Error("closed before CONNACK") }));
  });
  if (!outcome.ok) {
    await client.endAsync(true);
    return { error: outcome.error as Error & { code?: number } };
  }
  client.on("error", () => {});
  t.after(() => client.endAsync(true));
  return { client };
}

async function connect(t: TestContext, emu: CloudEmulator, o: ConnectOptions = {}): Promise<MqttClient> {
  const { client, error } = await tryConnect(t, emu.url, connectOptions(emu, o));
  if (!client) throw new Error(`connect failed: ${error?.message}`);
  return client;
}

interface Msg {
  topic: string;
  json: Record<string, unknown>;
}

/** The next message on exactly `topic` whose JSON satisfies `pred`. */
function nextMessage(client: MqttClient, topic: string, pred: (j: Record<string, unknown>) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(payload.toString("utf8"));
      } catch {
        return;
      }
      if (!pred(json)) return;
      clearTimeout(timer);
      client.off("message", onMessage);
      resolve({ topic: t, json });
    };
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on("message", onMessage);
  });
}

let nextId = 1;

/** Publishes a request and resolves with its reply (matched by id). */
async function rpc(client: MqttClient, topic: string, body: Record<string, unknown>, reply = replyTopic(topic)): Promise<Record<string, unknown>> {
  const id = body["id"] ?? String(nextId++);
  const msg = { ...body, id };
  await client.subscribeAsync(reply, { qos: 1 });
  const waiting = nextMessage(client, reply, (j) => j["id"] === id);
  await client.publishAsync(topic, JSON.stringify(msg), { qos: 1 });
  return (await waiting).json;
}

async function topoAdd(client: MqttClient, devices: Array<Identity & { deviceSecret: string }>, signmethod = "hmacSha256") {
  return rpc(client, topics.topoAdd(GW), {
    version: "1.0",
    params: devices.map((d) => topoAddItem(d, String(Date.now()), signmethod)),
    method: "thing.topo.add",
  });
}

async function login(client: MqttClient, d: Identity & { deviceSecret: string }) {
  return rpc(client, topics.login(GW), { params: loginParams(d) });
}

/** Registers `n` sub-devices, binds them to the gateway and logs them in. */
async function online(t: TestContext, emu: CloudEmulator, client: MqttClient, devices: Identity[]) {
  const full = devices.map((d) => ({ ...d, ...(emu.device(d).exists ? { deviceSecret: emu.device(d).secret! } : emu.addDevice(d)) }));
  assert.equal((await topoAdd(client, full))["code"], 200);
  for (const d of full) assert.equal((await login(client, d))["code"], 200, `login ${d.deviceName}`);
  return full;
}

/** Granted QoS per filter (128 = refused); mqtt.js rejects a SUBACK with failures, so read it from the error. */
async function subscribeGranted(client: MqttClient, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<Record<string, number>> {
  let granted: Array<{ topic: string; qos: number }>;
  try {
    granted = await client.subscribeAsync(filters);
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw err;
    granted = Object.keys(filters).map((topic, i) => ({ topic, qos: packet.granted![i]! }));
  }
  return Object.fromEntries(granted.map((g) => [g.topic, g.qos]));
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

function download(url: string, ca?: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith("https:") ? https.get : http.get;
    const req = get(url, { ...(ca ? { ca } : {}), timeout: WAIT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

describe("CONNECT verification", () => {
  test("a correct signature is accepted with hmacmd5, hmacsha1 and hmacsha256, in either hex case", async (t) => {
    const emu = await startEmu(t);
    for (const signMethod of ["hmacmd5", "hmacsha1", "hmacsha256"] as const) {
      const opts = connectOptions(emu, { signMethod });
      const { client, error } = await tryConnect(t, emu.url, { ...opts, password: String(opts.password).toUpperCase() });
      assert.ok(client, `${signMethod}: ${error?.message}`);
      await client.endAsync();
    }
    assert.deepEqual(emu.connects.map((c) => [c.accepted, c.returnCode, c.deviceKey]), [
      [true, 0, "a1GwProd/gw-001"],
      [true, 0, "a1GwProd/gw-001"],
      [true, 0, "a1GwProd/gw-001"],
    ]);
    assert.match(emu.connects[0]!.clientId, /^gw-001\|securemode=3,signmethod=hmacmd5,timestamp=\d+\|$/);
  });

  test("a wrong signature is refused with 'bad username or password' for every method", async (t) => {
    const emu = await startEmu(t);
    for (const signMethod of ["hmacmd5", "hmacsha1", "hmacsha256"] as const) {
      const { client, error } = await tryConnect(t, emu.url, connectOptions(emu, { signMethod, secret: "not-the-secret" }));
      assert.equal(client, undefined);
      assert.match(String(error?.message), /bad user ?name or password/i);
    }
    assert.equal(emu.connects.length, 3);
    for (const c of emu.connects) {
      assert.equal(c.accepted, false);
      assert.equal(c.returnCode, 4);
      assert.equal(c.reason, "signature mismatch");
      assert.ok(!c.reason.includes(GW.deviceSecret));
    }
    assert.equal(emu.device(GW).online, false);
  });

  test("signmethod absent means hmacmd5", async (t) => {
    const emu = await startEmu(t);
    const ts = "1700000000000";
    const content = signContent({ clientId: "gw-001", deviceName: GW.deviceName, productKey: GW.productKey, timestamp: ts });
    const base = { clientId: `gw-001|securemode=3,timestamp=${ts}|`, username: `${GW.deviceName}&${GW.productKey}`, keepalive: 60, reconnectPeriod: 0 };
    const md5 = await tryConnect(t, emu.url, { ...base, password: hmacHex("hmacmd5", GW.deviceSecret, content) });
    assert.ok(md5.client, md5.error?.message);
    await md5.client.endAsync();
    const sha = await tryConnect(t, emu.url, { ...base, password: hmacHex("hmacsha256", GW.deviceSecret, content) });
    assert.equal(sha.client, undefined);
  });

  test("keepalive outside 30..1200 is refused; the bounds are accepted", async (t) => {
    const emu = await startEmu(t);
    for (const keepalive of [10, 29, 1201]) {
      const r = await tryConnect(t, emu.url, connectOptions(emu, { keepalive }));
      assert.equal(r.client, undefined, `keepalive ${keepalive}`);
      assert.match(String(r.error?.message), /not authori[sz]ed/i);
    }
    for (const keepalive of [30, 1200]) {
      const r = await tryConnect(t, emu.url, connectOptions(emu, { keepalive }));
      assert.ok(r.client, `keepalive ${keepalive}: ${r.error?.message}`);
      await r.client.endAsync();
    }
    assert.deepEqual(emu.connects.map((c) => c.accepted), [false, false, false, true, true]);
    assert.match(emu.connects[0]!.reason, /keepalive 10/);
  });

  test("securemode must match the transport (3 on TCP, 2 on TLS)", async (t) => {
    const tcp = await startEmu(t);
    const r1 = await tryConnect(t, tcp.url, connectOptions(tcp, { claimTls: true }));
    assert.equal(r1.client, undefined);
    assert.match(tcp.connects[0]!.reason, /securemode=2/);

    const tlsEmu = await startEmu(t, { tls: true });
    assert.match(tlsEmu.url, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const r2 = await tryConnect(t, tlsEmu.url, connectOptions(tlsEmu, { claimTls: false }));
    assert.equal(r2.client, undefined);
    assert.equal(tlsEmu.connects[0]!.transport, "tls");
    assert.match(tlsEmu.connects[0]!.reason, /securemode=3/);
    const ok = await tryConnect(t, tlsEmu.url, connectOptions(tlsEmu));
    assert.ok(ok.client, ok.error?.message);
    assert.equal(tlsEmu.device(GW).online, true);
  });

  test("the TLS listener verifies against the fixture CA and not against an unrelated CA", async (t) => {
    const emu = await startEmu(t, { tls: true });
    const bad = await tryConnect(t, emu.url, connectOptions(emu, { ca: testPki().otherCa }));
    assert.equal(bad.client, undefined);
    assert.match(String(bad.error?.message), /certificate|self.signed|issuer/i);
    assert.equal(emu.connects.length, 0, "the handshake fails before any CONNECT");
    const good = await tryConnect(t, emu.url, connectOptions(emu, { ca: testPki().ca }));
    assert.ok(good.client, good.error?.message);
  });

  test("unknown, disabled and deleted devices are refused; a will is refused", async (t) => {
    const emu = await startEmu(t);
    const ghost = await tryConnect(t, emu.url, connectOptions(emu, { device: { productKey: "a1GwProd", deviceName: "ghost" } }));
    assert.equal(ghost.client, undefined);
    assert.match(emu.connects.at(-1)!.reason, /does not exist/);

    const will = await tryConnect(t, emu.url, { ...connectOptions(emu), will: { topic: topics.propertyPost(GW), payload: Buffer.from("{}"), qos: 0, retain: false } });
    assert.equal(will.client, undefined);
    assert.match(emu.connects.at(-1)!.reason, /will/);

    await emu.disable(GW);
    const disabled = await tryConnect(t, emu.url, connectOptions(emu));
    assert.equal(disabled.client, undefined);
    assert.equal(emu.connects.at(-1)!.reason, "device disabled");
    await emu.enable(GW);
    const back = await tryConnect(t, emu.url, connectOptions(emu));
    assert.ok(back.client);
  });

  test("a second connection of the same device closes the first, and its sub-device sessions", async (t) => {
    const emu = await startEmu(t);
    const first = await connect(t, emu, { bareClientId: "gw-001-a", signMethod: "hmacsha1" });
    await online(t, emu, first, [sub(1)]);
    assert.equal(emu.onlineSessions().length, 1);
    const closed = new Promise<void>((resolve) => first.once("close", () => resolve()));
    await connect(t, emu, { bareClientId: "gw-001-b" });
    await closed;
    await emu.waitFor(() => emu.onlineSessions().length === 0, WAIT_MS, "sessions of the kicked connection gone");
    assert.equal(emu.device(GW).online, true);
    assert.deepEqual(emu.kicks.map((k) => [k.deviceKey, k.code]), [["a1GwProd/gw-001", 427]]);
  });

  test("failNext('connect') refuses the next CONNECT with the given return code", async (t) => {
    const emu = await startEmu(t);
    emu.failNext("connect", 3);
    const r = await tryConnect(t, emu.url, connectOptions(emu));
    assert.equal(r.client, undefined);
    assert.match(String(r.error?.message), /unavailable/i);
    assert.ok((await tryConnect(t, emu.url, connectOptions(emu))).client);
  });
});

describe("topology and sessions", () => {
  test("topo add and login with valid signatures; topo get lists the device", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const d = { ...sub(1), ...emu.addDevice(sub(1)) };
    const add = await topoAdd(gw, [d]);
    assert.deepEqual([add["code"], add["data"]], [200, {}]);
    assert.deepEqual(emu.topo(GW), ["a1SubProd/meter-01"]);
    assert.equal(emu.device(d).topoParent, "a1GwProd/gw-001");
    const get = await rpc(gw, topics.topoGet(GW), { version: "1.0", params: {}, method: "thing.topo.get" });
    assert.deepEqual(get["data"], [{ productKey: SUB_PK, deviceName: "meter-01" }]);

    const reply = await login(gw, d);
    assert.deepEqual([reply["code"], reply["message"], reply["data"]], [200, "success", ""]);
    assert.deepEqual(emu.onlineSessions().map((s) => [s.deviceKey, s.gatewayKey]), [["a1SubProd/meter-01", "a1GwProd/gw-001"]]);
    assert.equal(emu.device(d).via, "a1GwProd/gw-001");
    assert.deepEqual(emu.logins.map((l) => l.code), [200]);

    const out = await rpc(gw, topics.logout(GW), { params: { productKey: d.productKey, deviceName: d.deviceName } });
    assert.equal(out["code"], 200);
    assert.equal(emu.onlineSessions().length, 0);
    const again = await rpc(gw, topics.logout(GW), { params: { productKey: d.productKey, deviceName: d.deviceName } });
    assert.equal(again["code"], 520);
    assert.deepEqual(emu.logouts.map((l) => l.code), [200, 520]);
  });

  test("topo add: bad signature 401, itself 6402, unknown device 6100, malformed 460", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const d = { ...sub(1), ...emu.addDevice(sub(1)) };
    assert.equal((await topoAdd(gw, [{ ...d, deviceSecret: "wrong" }]))["code"], 401);
    assert.equal((await topoAdd(gw, [{ ...GW }]))["code"], 6402);
    assert.equal((await topoAdd(gw, [{ ...sub(9), deviceSecret: "x" }]))["code"], 6100);
    const noSign = await rpc(gw, topics.topoAdd(GW), { version: "1.0", params: [{ ...sub(1) }], method: "thing.topo.add" });
    assert.equal(noSign["code"], 460);
    assert.deepEqual(emu.topo(GW), [], "nothing was bound");
    assert.equal((await topoAdd(gw, [d], "hmacMd5"))["code"], 200);
  });

  test("login: 6401 without topo, 6287 bad sign, 6100 unknown, 460 extra fields, 522 disabled, 521 deleted", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const d = { ...sub(1), ...emu.addDevice(sub(1)) };
    assert.equal((await login(gw, d))["code"], 6401);
    assert.equal((await topoAdd(gw, [d]))["code"], 200);
    assert.equal((await login(gw, { ...d, deviceSecret: "wrong" }))["code"], 6287);
    assert.equal((await login(gw, { ...sub(7), deviceSecret: "x" }))["code"], 6100);
    const extra = await rpc(gw, topics.login(GW), { version: "1.0", method: "combine.login", params: loginParams(d) });
    assert.equal(extra["code"], 460);
    const noSign = await rpc(gw, topics.login(GW), { params: { ...loginParams(d), sign: undefined } });
    assert.equal(noSign["code"], 460);
    assert.equal(emu.onlineSessions().length, 0);

    await emu.disable(d);
    assert.equal((await login(gw, d))["code"], 522);
    await emu.enable(d);
    assert.equal((await login(gw, d))["code"], 200);
    await emu.deleteDevice(d);
    assert.equal(emu.device(d).deleted, true);
    assert.equal((await login(gw, d))["code"], 521);
    assert.deepEqual(emu.logins.map((l) => l.code), [6401, 6287, 6100, 460, 460, 522, 200, 521]);
  });

  test("more than 5 logins of one sub-device within a minute get 429", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    for (let i = 0; i < 4; i++) assert.equal((await login(gw, d!))["code"], 200, `login ${i + 2}`);
    assert.equal((await login(gw, d!))["code"], 429);
    assert.equal((await login(gw, d!))["code"], 429);
    assert.deepEqual(emu.logins.map((l) => l.code), [200, 200, 200, 200, 200, 429, 429]);
    const [other] = await online(t, emu, gw, [sub(2)]);
    assert.equal(emu.device(other!).online, true, "the throttle is per sub-device");
  });

  test("428 when the gateway's online cap is reached", async (t) => {
    const emu = await startEmu(t, { onlineCap: 2 });
    const gw = await connect(t, emu);
    const [a, b] = await online(t, emu, gw, [sub(1), sub(2)]);
    const c = { ...sub(3), ...emu.addDevice(sub(3)) };
    assert.equal((await topoAdd(gw, [c]))["code"], 200);
    assert.equal((await login(gw, c))["code"], 428);
    assert.equal((await login(gw, a!))["code"], 200, "a device already online may log in again");
    assert.equal((await rpc(gw, topics.logout(GW), { params: { productKey: b!.productKey, deviceName: b!.deviceName } }))["code"], 200);
    assert.equal((await login(gw, c))["code"], 200);
  });

  test("sub-device sessions are gone after the gateway disconnects", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1), sub(2)]);
    assert.equal(emu.onlineSessions(GW).length, 2);
    await gw.endAsync();
    await emu.waitFor(() => emu.onlineSessions().length === 0 && !emu.device(GW).online, WAIT_MS, "sessions gone");
    assert.equal(emu.device(d!).online, false);
    assert.deepEqual(emu.topo(GW), ["a1SubProd/meter-01", "a1SubProd/meter-02"], "topology survives");

    const gw2 = await connect(t, emu);
    const before = await subscribeGranted(gw2, { [topics.propertySet(d!)]: { qos: 1 } });
    assert.equal(before[topics.propertySet(d!)], 128, "no session yet, so the sub-device subscription is refused");
    assert.equal((await login(gw2, d!))["code"], 200);
    const after = await subscribeGranted(gw2, { [topics.propertySet(d!)]: { qos: 1 } });
    assert.equal(after[topics.propertySet(d!)], 1);
  });

  test("a clean:false reconnect restores the device's own subscriptions but not its sub-devices'", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu, { clean: false });
    const [d] = await online(t, emu, gw, [sub(1)]);
    await gw.subscribeAsync([topics.propertySet(GW), topics.propertySet(d!)], { qos: 1 });
    assert.ok(emu.subscriptions(GW).includes(topics.propertySet(d!)));
    await gw.endAsync();
    await emu.waitFor(() => !emu.device(GW).online, WAIT_MS, "gateway offline");

    const again = await connect(t, emu, { clean: false });
    assert.equal(again.connected, true);
    await emu.waitFor(() => emu.subscriptions(GW).includes(topics.propertySet(GW)) || undefined, WAIT_MS, "own subscription restored");
    assert.equal(emu.subscriptions(GW).includes(topics.propertySet(d!)), false, "the sub-device has no session after the reconnect");
    assert.ok(emu.refusals.some((r) => r.kind === "subscribe" && r.topic === topics.propertySet(d!)));
  });

  test("subscriptions: own topics granted; others, wildcard identities and QoS 2 refused", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const byTopic = await subscribeGranted(gw, {
      [replyTopic(topics.topoAdd(GW))]: { qos: 1 },
      [topics.serviceWildcard(GW)]: { qos: 1 },
      [topics.extError(GW)]: { qos: 1 },
      ["/sys/+/+/thing/service/property/set"]: { qos: 1 },
      ["/sys/a1Other/dev-9/thing/service/property/set"]: { qos: 1 },
      ["#"]: { qos: 1 },
      [topics.propertySet(GW)]: { qos: 2 },
    });
    assert.equal(byTopic[replyTopic(topics.topoAdd(GW))], 1);
    assert.equal(byTopic[topics.serviceWildcard(GW)], 1);
    assert.equal(byTopic[topics.extError(GW)], 1);
    assert.equal(byTopic["/sys/+/+/thing/service/property/set"], 128);
    assert.equal(byTopic["/sys/a1Other/dev-9/thing/service/property/set"], 128);
    assert.equal(byTopic["#"], 128);
    assert.equal(byTopic[topics.propertySet(GW)], 128);
    assert.equal(emu.refusals.filter((r) => r.kind === "subscribe").length, 4);
    assert.deepEqual(emu.subscriptions(GW), [topics.extError(GW), replyTopic(topics.topoAdd(GW)), topics.serviceWildcard(GW)].sort());
  });

  test("a publish outside the platform's namespaces closes the connection", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const closed = new Promise<void>((resolve) => gw.once("close", () => resolve()));
    gw.publish("data/free-form", "{}", { qos: 1 });
    await closed;
    assert.equal(emu.refusals.at(-1)!.topic, "data/free-form");
  });

  test("publishing under a sub-device without a session gets /ext/error 520 with its identity and the id", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const d = { ...sub(1), ...emu.addDevice(sub(1)) };
    assert.equal((await topoAdd(gw, [d]))["code"], 200);
    await gw.subscribeAsync(topics.extError(GW), { qos: 1 });
    const err = nextMessage(gw, topics.extError(GW));
    await gw.publishAsync(topics.propertyPost(d), JSON.stringify({ id: "4711", version: "1.0", params: { Count: { value: 1, time: Date.now() } }, method: "thing.event.property.post" }), { qos: 1 });
    const { json } = await err;
    assert.deepEqual(json, { id: "4711", code: 520, message: "device session error", data: { productKey: SUB_PK, deviceName: "meter-01" } });
    assert.equal(emu.accepted.properties.length, 0);
  });

  test("thing.sub.register returns secrets, creates unknown names, and honours the product switch", async (t) => {
    const emu = await startEmu(t);
    emu.addProduct("a1Locked", { dynamicRegistration: false });
    const pre = emu.addDevice(sub(1));
    const gw = await connect(t, emu);
    const reply = await rpc(gw, topics.subRegister(GW), { version: "1.0", params: [sub(1), sub(2)], method: "thing.sub.register" });
    assert.equal(reply["code"], 200);
    const data = reply["data"] as Array<Record<string, string>>;
    assert.deepEqual(data.map((r) => r["deviceName"]), ["meter-01", "meter-02"]);
    assert.equal(data[0]!["deviceSecret"], pre.deviceSecret);
    assert.equal(data[1]!["deviceSecret"], emu.device(sub(2)).secret);
    assert.match(data[1]!["deviceSecret"]!, /^[0-9a-f]{32}$/);
    const locked = await rpc(gw, topics.subRegister(GW), { version: "1.0", params: [{ productKey: "a1Locked", deviceName: "dev-0001" }], method: "thing.sub.register" });
    assert.equal(locked["code"], 401);
    assert.equal(emu.device("a1Locked/dev-0001").exists, false);
    const self = await rpc(gw, topics.subRegister(GW), { version: "1.0", params: [{ productKey: GW.productKey, deviceName: GW.deviceName }], method: "thing.sub.register" });
    assert.equal(self["code"], 6402);
  });

  test("failNext drives an error code once, optionally for one device", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const a = { ...sub(1), ...emu.addDevice(sub(1)) };
    const b = { ...sub(2), ...emu.addDevice(sub(2)) };
    assert.equal((await topoAdd(gw, [a, b]))["code"], 200);
    emu.failNext("login", 500, { device: "a1SubProd/meter-02", count: 2 });
    assert.equal((await login(gw, a))["code"], 200);
    assert.equal((await login(gw, b))["code"], 500);
    assert.equal((await login(gw, b))["code"], 500);
    assert.equal((await login(gw, b))["code"], 200);
    emu.failNext("topoAdd", 460);
    assert.equal((await topoAdd(gw, [a]))["code"], 460);
    assert.equal((await topoAdd(gw, [a]))["code"], 200);
  });

  test("kick sends a notice on combine/logout_reply and ends the session", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    await gw.subscribeAsync(replyTopic(topics.logout(GW)), { qos: 1 });
    const notice = nextMessage(gw, replyTopic(topics.logout(GW)));
    assert.equal(emu.kick(d!, 427), true);
    const { json } = await notice;
    assert.equal(json["code"], 427);
    assert.deepEqual(json["data"], { productKey: SUB_PK, deviceName: "meter-01" });
    assert.equal(emu.device(d!).online, false);
    assert.equal(emu.kick(d!, 427), false, "no session left to kick");
  });
});

test("the emulator's log lines carry no secrets", async (t) => {
  const log = captureLogger("debug");
  const emu = await startEmu(t, { logger: log.logger });
  const gw = await connect(t, emu);
  const [d] = await online(t, emu, gw, [sub(1)]);
  await tryConnect(t, emu.url, connectOptions(emu, { secret: "wrong-secret" }));
  emu.kick(d!, 427);
  assert.equal(emu.device(GW).online, true, "a refused CONNECT does not take over the live connection");
  assert.equal(gw.connected, true);
  const text = log.text();
  assert.match(text, /device connected/);
  assert.match(text, /sub-device kicked/);
  for (const secret of [GW.deviceSecret, emu.device(d!).secret!]) assert.ok(!text.includes(secret), "a secret leaked into the log");
  assert.ok(!/password|"sign"/.test(text));
});

describe("data checked against the TSL", () => {
  test("property post drops invalid values silently, still answers 200, and records why", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    const time = 1_700_000_000_000;
    const at = (value: unknown) => ({ value, time });
    const reply = await rpc(gw, topics.propertyPost(d!), {
      version: "1.0",
      method: "thing.event.property.post",
      params: {
        Voltage: at(230.5),
        Count: at(101),
        Mode: at(2),
        Label: at("too long text"),
        On: at(true),
        Stamp: at("1700000000000"),
        Pos: at({ x: 1, y: 2 }),
        Series: at([1.5, 2.5, 3.5, 4.5]),
        Unknown: at(1),
      },
    });
    assert.deepEqual([reply["code"], reply["data"]], [200, {}]);
    const accepted = emu.accepted.properties.map((p) => [p.identifier, p.value, p.via]);
    assert.deepEqual(accepted, [
      ["Voltage", 230.5, "post"],
      ["Mode", 2, "post"],
      ["Stamp", "1700000000000", "post"],
      ["Pos", { x: 1, y: 2 }, "post"],
    ]);
    assert.ok(emu.accepted.properties.every((p) => p.deviceKey === "a1SubProd/meter-01" && p.time === time && p.msgId === reply["id"]));
    const rejected = Object.fromEntries(emu.rejected.map((r) => [r.identifier, r.reason]));
    assert.deepEqual(Object.keys(rejected).sort(), ["Count", "Label", "On", "Series", "Unknown"]);
    assert.match(rejected["Count"]!, /above max 100/);
    assert.match(rejected["Label"]!, /exceeds length 8/);
    assert.match(rejected["On"]!, /bool expects 0 or 1/);
    assert.match(rejected["Series"]!, /exceeds size 3/);
    assert.match(rejected["Unknown"]!, /unknown property/);
    assert.ok(emu.rejected.every((r) => r.code === 200));
  });

  test("more than 200 properties in one post get 6106 and nothing is stored", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1, WIDE_PK)]);
    const props = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`P${i}`, { value: i, time: 1 }]));
    const over = await rpc(gw, topics.propertyPost(d!), { version: "1.0", method: "thing.event.property.post", params: props(201) });
    assert.equal(over["code"], 6106);
    assert.equal(emu.accepted.properties.length, 0);
    const limit = await rpc(gw, topics.propertyPost(d!), { version: "1.0", method: "thing.event.property.post", params: props(200) });
    assert.equal(limit["code"], 200);
    assert.equal(emu.accepted.properties.length, 200);
  });

  test("a property post with a wrong method or a non-numeric id is 460", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    const params = { Count: { value: 1, time: 1 } };
    assert.equal((await rpc(gw, topics.propertyPost(d!), { version: "1.0", method: "thing.property.post", params }))["code"], 460);
    assert.equal((await rpc(gw, topics.propertyPost(d!), { id: "abc", version: "1.0", method: "thing.event.property.post", params }))["code"], 460);
    assert.equal(emu.accepted.properties.length, 0);
  });

  test("event post: valid is 200 and recorded; invalid is a non-200 code", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    const post = (params: unknown) => rpc(gw, topics.eventPost(d!, "alarm"), { version: "1.0", method: "thing.event.alarm.post", params });
    assert.equal((await post({ value: { errorCode: "E42", level: 3 }, time: 5 }))["code"], 200);
    const bad = await post({ value: { errorCode: "E42", level: 9 }, time: 5 });
    assert.notEqual(bad["code"], 200);
    const unknown = await rpc(gw, topics.eventPost(d!, "nope"), { version: "1.0", method: "thing.event.nope.post", params: { value: {}, time: 5 } });
    assert.notEqual(unknown["code"], 200);
    assert.deepEqual(emu.accepted.events.map((e) => [e.identifier, e.value, e.time, e.via]), [["alarm", { errorCode: "E42", level: 3 }, 5, "post"]]);
  });

  test("pack post: accepted whole, or failed whole on limits, invalid values and sessions", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const subs = await online(t, emu, gw, Array.from({ length: 21 }, (_, i) => sub(i + 1, WIDE_PK)));
    const pack = (params: unknown) => rpc(gw, topics.packPost(GW), { version: "1.0", method: "thing.event.property.pack.post", params });
    const entry = (d: Identity, properties: Record<string, unknown>, events: Record<string, unknown> = {}) => ({
      identity: { productKey: d.productKey, deviceName: d.deviceName },
      properties,
      events,
    });
    const props = (from: number, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`P${from + i}`, { value: i, time: 7 }]));
    const events = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`E${i}`, { value: {}, time: 7 }]));

    const tooMany = await pack({ subDevices: subs.map((d) => entry(d, { P0: { value: 1, time: 7 } })) });
    assert.notEqual(tooMany["code"], 200, "21 sub-devices");
    const tooManyProps = await pack({ subDevices: [entry(subs[0]!, props(0, 150)), entry(subs[1]!, props(0, 51))] });
    assert.equal(tooManyProps["code"], 6106, "201 properties over the whole message");
    const tooManyEvents = await pack({ subDevices: [entry(subs[0]!, {}, events(11)), entry(subs[1]!, {}, events(10))] });
    assert.notEqual(tooManyEvents["code"], 200, "21 events over the whole message");
    const oneBad = await pack({ subDevices: [entry(subs[0]!, { P0: { value: 1, time: 7 } }), entry(subs[1]!, { P1: { value: 1.5, time: 7 } })] });
    assert.notEqual(oneBad["code"], 200, "one invalid value fails the message");
    assert.equal(emu.accepted.properties.length, 0);
    assert.equal(emu.accepted.events.length, 0);

    const loggedOut = subs[20]!;
    assert.equal((await rpc(gw, topics.logout(GW), { params: { productKey: loggedOut.productKey, deviceName: loggedOut.deviceName } }))["code"], 200);
    const offline = await pack({ subDevices: [entry(loggedOut, { P0: { value: 1, time: 7 } })] });
    assert.equal(offline["code"], 520);

    const good = await pack({ subDevices: subs.slice(0, 20).map((d, i) => entry(d, props(0, 10), i === 0 ? events(20) : {})) });
    assert.equal(good["code"], 200);
    assert.equal(emu.accepted.properties.length, 200);
    assert.equal(emu.accepted.events.length, 20);
    assert.ok(emu.accepted.properties.every((p) => p.via === "pack" && p.time === 7));
    assert.equal(new Set(emu.accepted.properties.map((p) => p.deviceKey)).size, 20);
  });
});

describe("downlinks", () => {
  test("pushConfig hosts the document over HTTPS and sends its sha256 digest; the reply resolves the call", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    await gw.subscribeAsync(topics.configPush(GW), { qos: 1 });
    const doc = { modelList: [], serverList: [], deviceList: [], tslList: [] };
    const seen: Array<{ data: Record<string, string>; body: Buffer; id: unknown }> = [];
    gw.on("message", (topic, payload) => {
      if (topic !== topics.configPush(GW)) return;
      const msg = JSON.parse(payload.toString("utf8"));
      const data = msg.data ?? msg.params;
      void download(data.url, emu.caPem).then(({ body }) => {
        seen.push({ data, body, id: msg.id });
        const ok = sha256(body) === data.digest;
        gw.publish(replyTopic(topic), JSON.stringify({ id: msg.id, code: ok ? 200 : 460, data, message: ok ? "success" : "digest mismatch" }), { qos: 1 });
      });
    });

    const r = await emu.pushConfig(GW, doc);
    assert.equal(r.reply.code, 200);
    assert.equal(typeof r.reply.id, "number", "the numeric id is echoed as a number");
    assert.equal(r.reply.id, r.id);
    assert.match(r.url, /^https:\/\/127\.0\.0\.1:\d+\/gateway-config-1\.json$/);
    assert.equal(seen[0]!.data.digestMethod, "sha256");
    assert.equal(seen[0]!.data.digest, sha256(JSON.stringify(doc)));
    assert.deepEqual(JSON.parse(seen[0]!.body.toString("utf8")), doc);
    assert.deepEqual(emu.files.requests, ["/gateway-config-1.json"]);

    const corrupt = await emu.pushConfig(GW, doc, { digest: "00".repeat(32), viaParams: true });
    assert.equal(corrupt.reply.code, 460);
    assert.equal(seen[1]!.data.digest, "00".repeat(32));
  });

  test("setProperty, getProperty and callService resolve with the device's reply", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    await gw.subscribeAsync([topics.propertySet(d!), topics.propertyGet(d!), topics.serviceWildcard(d!)], { qos: 1 });
    const requests: Array<{ topic: string; msg: Record<string, unknown> }> = [];
    gw.on("message", (topic, payload) => {
      if (!topic.startsWith(`/sys/${SUB_PK}/`)) return;
      const msg = JSON.parse(payload.toString("utf8"));
      requests.push({ topic, msg });
      const data = msg.method === "thing.service.property.get" ? { Count: 7 } : {};
      gw.publish(replyTopic(topic), JSON.stringify({ id: msg.id, code: msg.method === "thing.service.Reset" ? 100005 : 200, data }), { qos: 1 });
    });
    const set = await emu.setProperty(d!, { Count: 5 });
    assert.equal(set.code, 200);
    const get = await emu.getProperty(d!, ["Count"]);
    assert.deepEqual(get.data, { Count: 7 });
    const call = await emu.callService(d!, "Reset", {});
    assert.equal(call.code, 100005);
    assert.deepEqual(requests.map((r) => [r.topic, r.msg["method"], r.msg["params"]]), [
      [topics.propertySet(d!), "thing.service.property.set", { Count: 5 }],
      [topics.propertyGet(d!), "thing.service.property.get", ["Count"]],
      [topics.service(d!, "Reset"), "thing.service.Reset", {}],
    ]);

    // A sync service goes over RRPC: request on rrpc/request/{id}, answer on rrpc/response/{id}.
    await gw.subscribeAsync(topics.rrpcRequestWildcard(d!), { qos: 1 });
    gw.on("message", (topic, payload) => {
      const m = /\/rrpc\/request\/(\d+)$/.exec(topic);
      if (m) gw.publish(topics.rrpcResponse(d!, m[1]!), JSON.stringify({ id: JSON.parse(payload.toString()).id, code: 200, data: { ok: 1 } }));
    });
    const probe = await emu.callService(d!, "Probe", {});
    assert.deepEqual([probe.code, probe.data], [200, { ok: 1 }]);
    assert.match(probe.topic, /\/rrpc\/response\/\d+$/);
    assert.equal(requests.some((r) => r.topic === topics.service(d!, "Probe")), false, "not sent on the async service topic");
    assert.ok(requests.some((r) => r.topic.includes("/rrpc/request/") && r.msg["method"] === "thing.service.Probe"));
    await assert.rejects(emu.setProperty(sub(2), { Count: 1 }), /not registered/);
    emu.addDevice(sub(2));
    await assert.rejects(emu.setProperty(sub(2), { Count: 1 }), /offline/);
  });

  test("a downlink without a reply times out within the bound", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    await gw.subscribeAsync(topics.propertySet(GW), { qos: 1 });
    await assert.rejects(emu.setProperty(GW, { Count: 1 }, { timeoutMs: 300 }), /no reply .* within 300 ms/);
  });

  test("disable tells the gateway, ends the session with 522 and changes the registry", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    const [d] = await online(t, emu, gw, [sub(1)]);
    await gw.subscribeAsync([topics.disable(d!), replyTopic(topics.logout(GW))], { qos: 1 });
    gw.on("message", (topic, payload) => {
      if (topic === topics.disable(d!)) gw.publish(replyTopic(topic), JSON.stringify({ id: JSON.parse(payload.toString()).id, code: 200, data: {} }));
    });
    const kick = nextMessage(gw, replyTopic(topics.logout(GW)), (j) => j["code"] === 522);
    const reply = await emu.disable(d!);
    assert.equal(reply?.code, 200);
    await kick;
    assert.equal(emu.device(d!).disabled, true);
    assert.equal(emu.device(d!).online, false);
    assert.equal((await login(gw, d!))["code"], 522);
  });

  test("notifyTopoAdd sends the device list and resolves with the reply on /sys/…/notify_reply", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    await gw.subscribeAsync(topics.topoAddNotify(GW), { qos: 1 });
    const got = nextMessage(gw, topics.topoAddNotify(GW));
    const pending = emu.notifyTopoAdd(GW, [sub(1)]);
    const { json } = await got;
    assert.deepEqual(json["params"], [sub(1)]);
    gw.publish(`/icsys/${GW.productKey}/${GW.deviceName}/thing/topo/add/notify_reply`, JSON.stringify({ id: json["id"], code: 200, data: {} }));
    await emu.waitFor(() => emu.rejected.find((r) => r.topic.startsWith("/icsys/")), WAIT_MS, "icsys reply logged");
    gw.publish(replyTopic(topics.topoAddNotify(GW)), JSON.stringify({ id: json["id"], code: 200, data: {} }));
    assert.equal((await pending).code, 200);
  });

  test("otaUpgrade pushes a hosted firmware with its md5; request and inform are recorded", async (t) => {
    const emu = await startEmu(t);
    const gw = await connect(t, emu);
    await gw.subscribeAsync([topics.otaUpgrade(GW), topics.otaRequest(GW)], { qos: 1 });
    const push = nextMessage(gw, topics.otaUpgrade(GW));
    const offer = emu.otaUpgrade(GW, { version: "2.0.0", body: "firmware-bytes" });
    const { json } = await push;
    assert.equal(json["code"], "1000");
    const data = json["data"] as Record<string, unknown>;
    assert.equal(data["md5"], createHash("md5").update("firmware-bytes").digest("hex"));
    assert.equal(data["sign"], data["md5"]);
    const fw = await download(offer.url, emu.caPem);
    assert.equal(fw.body.toString(), "firmware-bytes");

    const answer = nextMessage(gw, topics.otaRequest(GW), (j) => j["code"] === "1000");
    await gw.publishAsync(topics.otaRequest(GW), JSON.stringify({ id: "9", params: { version: "1.0.0" } }), { qos: 1 });
    assert.equal(((await answer).json["data"] as Record<string, unknown>)["version"], "2.0.0");
    await gw.publishAsync(topics.otaInform(GW), JSON.stringify({ id: "10", params: { version: "2.0.0" } }), { qos: 1 });
    await emu.waitFor(() => emu.ota.some((o) => o.kind === "inform"), WAIT_MS, "inform recorded");
    const none = nextMessage(gw, topics.otaRequest(GW), (j) => j["code"] === 500);
    await gw.publishAsync(topics.otaRequest(GW), JSON.stringify({ id: "11", params: { version: "2.0.0" } }), { qos: 1 });
    await none;
    assert.deepEqual(emu.ota.map((o) => o.kind), ["request", "inform", "request"]);
  });
});

describe("availability", () => {
  test("outage drops every connection and refuses new ones; restore listens on the same port", async (t) => {
    const emu = await startEmu(t);
    const port = emu.port;
    const gw = await connect(t, emu);
    await online(t, emu, gw, [sub(1)]);
    const closed = new Promise<void>((resolve) => gw.once("close", () => resolve()));
    await emu.outage();
    await closed;
    await emu.waitFor(() => !emu.device(GW).online && emu.onlineSessions().length === 0, WAIT_MS, "all offline");
    const refused = await tryConnect(t, emu.url, connectOptions(emu));
    assert.equal(refused.client, undefined);
    assert.match(String(refused.error?.message), /ECONNREFUSED|closed before CONNACK/);
    await emu.restore();
    assert.equal(emu.port, port);
    const again = await tryConnect(t, `mqtt://127.0.0.1:${port}`, connectOptions(emu));
    assert.ok(again.client, again.error?.message);
    assert.equal(emu.device(GW).online, true);
  });
});

describe("file server", () => {
  test("serves put files over HTTPS and HTTP, records requests, and can be slow or fail", async (t) => {
    const secure = await startFileServer({ tls: true });
    t.after(() => secure.close());
    const url = secure.put("a.json", '{"a":1}');
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/a\.json$/);
    const ok = await download(url, testPki().ca);
    assert.deepEqual([ok.status, ok.body.toString()], [200, '{"a":1}']);
    await assert.rejects(download(url, testPki().otherCa), /certificate|issuer/i);
    secure.behave("a.json", { status: 503 });
    assert.equal((await download(url, testPki().ca)).status, 503);
    secure.remove("a.json");
    secure.behave("a.json", null);
    assert.equal((await download(url, testPki().ca)).status, 404);

    const plain = await startFileServer({ tls: false });
    t.after(() => plain.close());
    const slowUrl = plain.put("slow.bin", Buffer.alloc(10, 1), { delayMs: 400 });
    const started = Date.now();
    const slow = await download(slowUrl);
    assert.ok(Date.now() - started >= 350, "answered only after the delay");
    assert.equal(slow.body.length, 10);
    plain.put("cut.bin", Buffer.alloc(1000, 2), { truncate: true });
    await assert.rejects(download(`${plain.url}/cut.bin`), /aborted|socket hang up|ECONNRESET/i);
    assert.deepEqual(plain.requests, ["/slow.bin", "/cut.bin"]);
    assert.deepEqual(secure.requests, ["/a.json", "/a.json", "/a.json"], "the handshake with the wrong CA never reached HTTP");
  });
});
