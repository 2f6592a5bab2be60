/**
 * The per-device connection pool against a real aedes broker: connect pacing (first connects and reconnects),
 * priority, the connection cap, refusals retried at the maximum backoff, remove, and the stop order.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test, type TestContext } from "node:test";
import type { Aedes, AuthenticateError, Client } from "aedes";
import { pino } from "pino";
import type { MqttLinkOptions } from "../../../src/cloud/mqtt/link.js";
import { MqttPool, type MqttPoolOptions } from "../../../src/cloud/mqtt/pool.js";

const logger = pino({ level: "silent" });
// Clients of other processes on this machine may reach a reused port: only this run's client ids count.
const RUN = `pool-test-${process.pid}-${Date.now().toString(36)}:`;

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
  const own = new Set<unknown>();
  const b: Omit<Broker, "port" | "dropAll" | "close" | "connected"> = { connects: [], refusedConnects: [], disconnects: [], refuse: new Set(), authDelayMs: 0 };
  const broker: Aedes = await Aedes.createBroker({
    preConnect: (client: Client, packet, done) => {
      if (packet.clientId.startsWith(RUN)) {
        own.add(client.conn);
        client.conn.once("close", () => own.delete(client.conn));
      }
      done(null, true);
    },
    authenticate: (client: Client, u, p, done) => {
      if (!client.id.startsWith(RUN)) {
        done(Object.assign(new Error("foreign"), { returnCode: 5 }) as AuthenticateError, false);
        return;
      }
      const id = client.id.slice(RUN.length);
      if (b.authDelayMs > 0) {
        const delay = b.authDelayMs;
        b.authDelayMs = 0;
        setTimeout(() => (broker.authenticate as unknown as (...a: unknown[]) => void)(client, u, p, done), delay);
        return;
      }
      if (b.refuse.has(id)) {
        b.refusedConnects.push({ id, t: Date.now() });
        done(Object.assign(new Error("refused"), { returnCode: 4 }) as AuthenticateError, false);
        return;
      }
      b.connects.push({ id, t: Date.now() });
      done(null, true);
    },
  });
  broker.on("clientDisconnect", (client) => {
    if (client.id.startsWith(RUN)) b.disconnects.push(client.id.slice(RUN.length));
  });
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
    connected: () => own.size,
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
    credentials: () => ({ clientId: RUN + id }),
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

/** A pool stopped when the test ends, whatever its outcome (a live pool would disturb the next tests). */
function newPool(t: TestContext, o: Partial<MqttPoolOptions>): MqttPool {
  const pool = new MqttPool({ connectsPerSecond: 50, maxConnections: 100, logger, ...o });
  t.after(() => pool.stop("together", 1000));
  return pool;
}

describe("MqttPool", () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker.close();
  });
  const reset = () => {
    broker.authDelayMs = 0;
    broker.connects.length = 0;
    broker.refusedConnects.length = 0;
    broker.disconnects.length = 0;
    broker.refuse.clear();
  };

  test("opens members at the configured rate, the priority member first, others in the order added", async (t) => {
    reset();
    const pool = newPool(t, { connectsPerSecond: 4 });
    const ups: string[] = [];
    pool.on("up", (id) => ups.push(id));
    for (let i = 0; i < 8; i++) pool.add(`pace-${i}`, { link: linkOpts(broker.port, `pace-${i}`) });
    pool.add("pace-gw", { link: linkOpts(broker.port, "pace-gw"), priority: true });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(broker.connects.length, 0, "nothing connects before start()");
    assert.equal(pool.counts().waiting, 9);
    const started = Date.now();
    pool.start();
    await until(() => ups.length === 9, 5000, "9 members up");
    const ids = broker.connects.map((c) => c.id);
    assert.deepEqual(ids, ["pace-gw", ...Array.from({ length: 8 }, (_, i) => `pace-${i}`)]);
    // burst 4 at once, then one every 250 ms: the 9th not before +1250 ms.
    assert.ok(broker.connects[3]!.t - started < 600, "the burst connects at once");
    assert.ok(broker.connects[8]!.t - started >= 1200, `9th connect at +${broker.connects[8]!.t - started} ms`);
    assert.equal(pool.counts().online, 9);
    assert.equal(pool.member("pace-gw")?.state, "online");
    await pool.stop("together", 2000);
  });

  test("reconnects after an outage also pass the connect bucket", async (t) => {
    reset();
    const pool = newPool(t, { connectsPerSecond: 5 });
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
    assert.equal(times.length, 10, JSON.stringify(broker.connects));
    // 5 from the burst, the other 5 at 200 ms intervals: without pacing all 10 would come within the 50..100 ms jitter.
    assert.ok(times[9]! - times[0]! >= 750, `reconnects spread over ${times[9]! - times[0]!} ms`);
    await pool.stop("together", 2000);
  });

  test("caps the non-priority connections; waiting members are overLimit and take freed slots in order", async (t) => {
    reset();
    const pool = newPool(t, { maxConnections: 2 });
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
    assert.equal(broker.connects.length, 3, JSON.stringify(broker.connects));

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

  test("a refused member is retried at the maximum backoff and does not affect the others", async (t) => {
    reset();
    broker.refuse.add("ref-bad");
    const pool = newPool(t, {});
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

  test("a socket closed before CONNACK counts as a refusal when the platform says so", async (t) => {
    reset();
    const silent = net.createServer((s) => s.once("data", () => s.destroy()));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const pool = newPool(t, { closeBeforeConnackIsRefusal: true });
        pool.add("close-1", { link: linkOpts(port, "close-1") });
      pool.start();
      await until(() => pool.member("close-1")?.state === "refused", 3000, "refused");
      assert.equal(pool.member("close-1")?.reason, "connection closed before CONNACK");
      await pool.stop("together", 1000);
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test("stop() disconnects the other members first, then the priority member, and nothing reconnects", async (t) => {
    reset();
    const pool = newPool(t, {});
    const downs: string[] = [];
    pool.on("down", (id) => downs.push(id));
    pool.add("stop-gw", { link: linkOpts(broker.port, "stop-gw"), priority: true });
    for (let i = 0; i < 3; i++) pool.add(`stop-${i}`, { link: linkOpts(broker.port, `stop-${i}`) });
    pool.start();
    await until(() => pool.counts().online === 4, 3000, "4 online");
    const t0 = Date.now();
    await pool.stop("priorityLast", 3000);
    assert.ok(Date.now() - t0 < 3000);
    await until(() => broker.disconnects.length === 4, 2000, "4 disconnects");
    assert.equal(broker.disconnects[3], "stop-gw");
    assert.deepEqual([...broker.disconnects.slice(0, 3)].sort(), ["stop-0", "stop-1", "stop-2"]);
    assert.equal(downs.length, 4);
    assert.equal(pool.counts().stopped, 4);
    const connects = broker.connects.length;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(broker.connects.length, connects, "no reconnect after stop");
  });

  test("stop() and remove() while a member waits for its CONNACK leave no socket open", async (t) => {
    reset();
    const pool = newPool(t, {});
    pool.add("slow-1", { link: linkOpts(broker.port, "slow-1") });
    broker.authDelayMs = 300;
    pool.start();
    await until(() => broker.connected() === 1, 2000, "socket open");
    await pool.stop("priorityLast", 1000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(broker.connected(), 0, "no orphaned connection after the CONNACK");

    const pool2 = newPool(t, {});
    pool2.add("slow-2", { link: linkOpts(broker.port, "slow-2") });
    broker.authDelayMs = 300;
    pool2.start();
    await until(() => broker.connected() === 1, 2000, "socket open");
    await pool2.remove("slow-2");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(broker.connected(), 0);
  });

  test("stop() is bounded by its deadline", async (t) => {
    reset();
    // A server that accepts TCP and never answers: the link stays connecting; stop must still return in time.
    const mute = net.createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
    const sockets: net.Socket[] = [];
    mute.on("connection", (s) => sockets.push(s));
    try {
      const port = (mute.address() as net.AddressInfo).port;
      const pool = newPool(t, {});
      pool.add("mute-gw", { link: linkOpts(port, "mute-gw"), priority: true });
      pool.add("mute-1", { link: linkOpts(port, "mute-1") });
      pool.start();
      await until(() => sockets.length === 2, 2000, "2 sockets");
      const t0 = Date.now();
      await pool.stop("priorityLast", 500);
      assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});
