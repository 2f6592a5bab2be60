/**
 * The per-device connection pool against a real aedes broker: connect pacing (first connects and reconnects),
 * priority, the connection cap, refusals retried at the maximum backoff, remove, and the stop order.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import type { Aedes, AuthenticateError, Client } from "aedes";
import { pino } from "pino";
import type { MqttLinkOptions } from "../../../src/cloud/mqtt/link.js";
import { MqttPool, type MqttPoolOptions } from "../../../src/cloud/mqtt/pool.js";

const logger = pino({ level: "silent" });

interface Broker {
  port: number;
  /** Delay before answering CONNECT (ms). */
  authDelayMs: number;
  connected(): number;
  connects: { id: string; t: number }[];
  refusedConnects: { id: string; t: number }[];
  disconnects: string[];
  refuse: Set<string>;
  dropAll(): void;
  close(): Promise<void>;
}

async function startBroker(): Promise<Broker> {
  const { Aedes } = await import("aedes");
  const b: Omit<Broker, "port" | "dropAll" | "close" | "connected"> = { connects: [], refusedConnects: [], disconnects: [], refuse: new Set(), authDelayMs: 0 };
  const broker: Aedes = await Aedes.createBroker({
    authenticate: (client: Client, u, p, done) => {
      if (b.authDelayMs > 0) {
        const delay = b.authDelayMs;
        b.authDelayMs = 0;
        setTimeout(() => (broker.authenticate as unknown as (...a: unknown[]) => void)(client, u, p, done), delay);
        return;
      }
      if (b.refuse.has(client.id)) {
        b.refusedConnects.push({ id: client.id, t: Date.now() });
        done(Object.assign(new Error("refused"), { returnCode: 4 }) as AuthenticateError, false);
        return;
      }
      b.connects.push({ id: client.id, t: Date.now() });
      done(null, true);
    },
  });
  broker.on("clientDisconnect", (client) => b.disconnects.push(client.id));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(b, {
    port,
    connected: () => sockets.size,
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  });
}

function linkOpts(port: number, id: string, over: Partial<MqttLinkOptions> = {}): MqttLinkOptions {
  return {
    host: "127.0.0.1",
    port,
    tls: false,
    keepaliveSeconds: 60,
    credentials: () => ({ clientId: id }),
    reconnectMinMs: 100,
    reconnectMaxMs: 1500,
    logger,
    quiet: true,
    ...over,
  };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function newPool(o: Partial<MqttPoolOptions>): MqttPool {
  return new MqttPool({ connectsPerSecond: 50, maxConnections: 100, logger, ...o });
}

describe("MqttPool", () => {
  let broker: Broker;
  const pools: MqttPool[] = [];
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    for (const p of pools) await p.stop("together", 1000);
    await broker.close();
  });
  const reset = () => {
    broker.authDelayMs = 0;
    broker.connects.length = 0;
    broker.refusedConnects.length = 0;
    broker.disconnects.length = 0;
    broker.refuse.clear();
  };

  test("opens members at the configured rate, the priority member first, others in the order added", async () => {
    reset();
    const pool = newPool({ connectsPerSecond: 4 });
    pools.push(pool);
    const ups: string[] = [];
    pool.on("up", (id) => ups.push(id));
    for (let i = 0; i < 8; i++) pool.add(`pace-${i}`, { link: linkOpts(broker.port, `pace-${i}`) });
    pool.add("pace-gw", { link: linkOpts(broker.port, "pace-gw"), priority: true });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(broker.connects.length, 0, "nothing connects before start()");
    assert.equal(pool.counts().waiting, 9);
    pool.start();
    await until(() => ups.length === 9, 5000, "9 members up");
    const ids = broker.connects.map((c) => c.id);
    assert.deepEqual(ids, ["pace-gw", ...Array.from({ length: 8 }, (_, i) => `pace-${i}`)]);
    const t0 = broker.connects[0]!.t;
    // burst 4 at once, then one every 250 ms: the 9th at about +1250 ms.
    assert.ok(broker.connects[3]!.t - t0 < 400, "the burst connects at once");
    assert.ok(broker.connects[8]!.t - t0 >= 1100, `9th connect at +${broker.connects[8]!.t - t0} ms`);
    assert.equal(pool.counts().online, 9);
    assert.equal(pool.member("pace-gw")?.state, "online");
    await pool.stop("together", 2000);
  });

  test("reconnects after an outage also pass the connect bucket", async () => {
    reset();
    const pool = newPool({ connectsPerSecond: 5 });
    pools.push(pool);
    const downs: string[] = [];
    pool.on("down", (id) => downs.push(id));
    for (let i = 0; i < 10; i++) pool.add(`re-${i}`, { link: linkOpts(broker.port, `re-${i}`) });
    pool.start();
    await until(() => pool.counts().online === 10, 5000, "10 online");
    await new Promise((r) => setTimeout(r, 1100)); // the bucket refills to its burst of 5
    broker.connects.length = 0;
    broker.dropAll();
    await until(() => downs.length === 10, 3000, "10 down");
    await until(() => pool.counts().online === 10, 6000, "10 online again");
    const times = broker.connects.map((c) => c.t);
    assert.equal(times.length, 10);
    // 5 from the burst, the other 5 at 200 ms intervals: without pacing all 10 would come within the 50..100 ms jitter.
    assert.ok(times[9]! - times[0]! >= 750, `reconnects spread over ${times[9]! - times[0]!} ms`);
    await pool.stop("together", 2000);
  });

  test("caps the non-priority connections; waiting members are overLimit and take freed slots in order", async () => {
    reset();
    const pool = newPool({ maxConnections: 2 });
    pools.push(pool);
    const downs: string[] = [];
    pool.on("down", (id) => downs.push(id));
    pool.add("cap-gw", { link: linkOpts(broker.port, "cap-gw"), priority: true });
    for (let i = 0; i < 4; i++) pool.add(`cap-${i}`, { link: linkOpts(broker.port, `cap-${i}`) });
    pool.start();
    await until(() => pool.counts().online === 3, 3000, "3 online");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(pool.counts(), { waiting: 0, overLimit: 2, connecting: 0, online: 3, backoff: 0, refused: 0, stopped: 0 });
    assert.equal(pool.member("cap-2")?.state, "overLimit");
    assert.equal(pool.member("cap-3")?.state, "overLimit");
    assert.equal(broker.connects.length, 3);

    await pool.remove("cap-0");
    assert.equal(pool.has("cap-0"), false);
    assert.deepEqual(downs, ["cap-0"]);
    await until(() => broker.disconnects.includes("cap-0"), 2000, "DISCONNECT of cap-0");
    await until(() => pool.member("cap-2")?.state === "online", 3000, "cap-2 takes the freed slot");
    assert.equal(pool.member("cap-3")?.state, "overLimit");
    // a member added later waits behind the cap as well
    pool.add("cap-4", { link: linkOpts(broker.port, "cap-4") });
    assert.equal(pool.member("cap-4")?.state, "overLimit");
    await pool.stop("together", 2000);
  });

  test("a refused member is retried at the maximum backoff and does not affect the others", async () => {
    reset();
    broker.refuse.add("ref-bad");
    const pool = newPool({});
    pools.push(pool);
    const states: string[] = [];
    pool.on("state", (id, state) => id === "ref-bad" && states.push(state));
    pool.add("ref-gw", { link: linkOpts(broker.port, "ref-gw"), priority: true });
    pool.add("ref-bad", { link: linkOpts(broker.port, "ref-bad", { reconnectMaxMs: 1200 }) });
    pool.add("ref-ok", { link: linkOpts(broker.port, "ref-ok") });
    pool.start();
    await until(() => broker.refusedConnects.length >= 1 && pool.counts().online === 2, 3000, "one refusal, two online");
    await until(() => pool.member("ref-bad")?.state === "refused", 1000, "state refused");
    const m = pool.member("ref-bad")!;
    assert.match(m.reason ?? "", /CONNACK 4/);
    assert.equal(m.refusals, 1);
    await until(() => broker.refusedConnects.length >= 2, 3000, "second attempt");
    const gap = broker.refusedConnects[1]!.t - broker.refusedConnects[0]!.t;
    assert.ok(gap >= 1150, `retried after ${gap} ms, not before the 1200 ms cap`);
    assert.ok(states.includes("refused") && !states.includes("online"));
    assert.equal(pool.member("ref-ok")?.state, "online");
    assert.equal(pool.member("ref-gw")?.state, "online");

    broker.refuse.delete("ref-bad");
    await until(() => pool.member("ref-bad")?.state === "online", 3000, "ref-bad online once accepted");
    await pool.stop("together", 2000);
  });

  test("a socket closed before CONNACK counts as a refusal when the platform says so", async () => {
    reset();
    const silent = net.createServer((s) => s.once("data", () => s.destroy()));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const pool = newPool({ closeBeforeConnackIsRefusal: true });
      pools.push(pool);
      pool.add("close-1", { link: linkOpts(port, "close-1") });
      pool.start();
      await until(() => pool.member("close-1")?.state === "refused", 3000, "refused");
      assert.equal(pool.member("close-1")?.reason, "connection closed before CONNACK");
      await pool.stop("together", 1000);
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test("stop() disconnects the other members first, then the priority member, and nothing reconnects", async () => {
    reset();
    const pool = newPool({});
    pools.push(pool);
    const downs: string[] = [];
    pool.on("down", (id) => downs.push(id));
    pool.add("stop-gw", { link: linkOpts(broker.port, "stop-gw"), priority: true });
    for (let i = 0; i < 3; i++) pool.add(`stop-${i}`, { link: linkOpts(broker.port, `stop-${i}`) });
    pool.start();
    await until(() => pool.counts().online === 4, 3000, "4 online");
    const t = Date.now();
    await pool.stop("priorityLast", 3000);
    assert.ok(Date.now() - t < 3000);
    await until(() => broker.disconnects.length === 4, 2000, "4 disconnects");
    assert.equal(broker.disconnects[3], "stop-gw");
    assert.deepEqual([...broker.disconnects.slice(0, 3)].sort(), ["stop-0", "stop-1", "stop-2"]);
    assert.equal(downs.length, 4);
    assert.equal(pool.counts().stopped, 4);
    const connects = broker.connects.length;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(broker.connects.length, connects, "no reconnect after stop");
  });

  test("stop() and remove() while a member waits for its CONNACK leave no socket open", async () => {
    reset();
    const pool = newPool({});
    pools.push(pool);
    pool.add("slow-1", { link: linkOpts(broker.port, "slow-1") });
    broker.authDelayMs = 300;
    pool.start();
    await until(() => broker.connected() === 1, 2000, "socket open");
    await pool.stop("priorityLast", 1000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(broker.connected(), 0, "no orphaned connection after the CONNACK");

    const pool2 = newPool({});
    pools.push(pool2);
    pool2.add("slow-2", { link: linkOpts(broker.port, "slow-2") });
    broker.authDelayMs = 300;
    pool2.start();
    await until(() => broker.connected() === 1, 2000, "socket open");
    await pool2.remove("slow-2");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(broker.connected(), 0);
  });

  test("stop() is bounded by its deadline", async () => {
    reset();
    // A server that accepts TCP and never answers: the link stays connecting; stop must still return in time.
    const mute = net.createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
    const sockets: net.Socket[] = [];
    mute.on("connection", (s) => sockets.push(s));
    try {
      const port = (mute.address() as net.AddressInfo).port;
      const pool = newPool({});
      pools.push(pool);
      pool.add("mute-gw", { link: linkOpts(port, "mute-gw"), priority: true });
      pool.add("mute-1", { link: linkOpts(port, "mute-1") });
      pool.start();
      await until(() => sockets.length === 2, 2000, "2 sockets");
      const t = Date.now();
      await pool.stop("priorityLast", 500);
      assert.ok(Date.now() - t < 1000, `stop took ${Date.now() - t} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});
