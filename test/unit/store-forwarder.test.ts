import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../src/ops/logger.js";
import { openStore, type Store } from "../../src/store/store.js";
import { Forwarder, type ForwarderOptions, type Publisher } from "../../src/store/forwarder.js";

interface Sent {
  msgId: string;
  topic: string;
  at: number;
}

/** Records publishes; each one is acknowledged, held or refused according to `mode`. */
class RecordingPublisher implements Publisher {
  readonly sent: Sent[] = [];
  readonly held: Array<{ msgId: string; resolve: () => void; reject: (e: Error) => void }> = [];
  mode: "ack" | "hold" | "reject" = "ack";

  publish(topic: string, payload: string): Promise<void> {
    const msgId = (JSON.parse(payload) as { id: string }).id;
    this.sent.push({ msgId, topic, at: performance.now() });
    if (this.mode === "reject") return Promise.reject(new Error("connection lost"));
    if (this.mode === "hold") return new Promise((resolve, reject) => this.held.push({ msgId, resolve, reject }));
    return new Promise((resolve) => setImmediate(resolve));
  }

  ids(): string[] {
    return this.sent.map((s) => s.msgId);
  }
}

function setup(t: TestContext): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-fwd-"));
  const store = openStore(dir, { logger: createLogger("silent"), sync: "normal", outbox: { batchDelayMs: 1 } });
  t.after(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

function forwarder(t: TestContext, o: Omit<ForwarderOptions, "logger">): Forwarder {
  const f = new Forwarder({ logger: createLogger("silent"), ...o });
  t.after(() => f.stop(100));
  return f;
}

function append(store: Store, msgIds: string[], devices: string[] = []): void {
  store.outbox.append(
    msgIds.map((id) => ({ topic: `/sys/a1/gw/thing/event/property/post`, payload: JSON.stringify({ id, params: {} }), msgId: id, devices, sampleTime: Date.now() })),
  );
  store.outbox.flush();
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

test("live entries are sent at once, interleaved with a backlog that is replayed in order and paced", async (t) => {
  const store = setup(t);
  const backlog = range(1, 40);
  append(store, backlog); // stored before the forwarder starts: backlog
  const pub = new RecordingPublisher();
  const fwd = forwarder(t, { outbox: store.outbox, publisher: pub, canSend: () => true, replayRatePerSec: 50, replayBurst: 2 });
  const started = performance.now();
  fwd.start();

  await waitFor("5 backlog publishes", () => pub.sent.length >= 5);
  append(store, ["1001"]);
  await waitFor("the live entry", () => pub.ids().includes("1001"));
  append(store, ["1002", "1003"]);
  await waitFor("everything", () => pub.sent.length === 43);

  const order = pub.ids();
  const backlogOrder = order.filter((id) => Number(id) <= 40);
  assert.deepEqual(backlogOrder, backlog, "backlog replayed in seq order");
  const liveOrder = order.filter((id) => Number(id) > 1000);
  assert.deepEqual(liveOrder, ["1001", "1002", "1003"]);
  for (const live of liveOrder) {
    assert.ok(order.indexOf(live) < order.indexOf("40"), `live ${live} went out before the backlog was done: ${order.join(",")}`);
  }
  // Pacing: the bucket allows 2 at once plus 50/s; the first 200 ms can carry at most 2 + 10 backlog messages.
  const early = pub.sent.filter((s) => Number(s.msgId) <= 40 && s.at - started < 200).length;
  assert.ok(early <= 13, `${early} backlog publishes in the first 200 ms`);
  const last = pub.sent.find((s) => s.msgId === "40")!;
  assert.ok(last.at - started >= (38 / 50) * 1000 - 50, `40 backlog messages took ${Math.round(last.at - started)} ms`);

  await waitFor("acks", () => fwd.stats().acked === 43);
  store.outbox.flush();
  assert.equal(store.outbox.stats().depth, 0, "acknowledged entries are deleted");
  const s = fwd.stats();
  assert.equal(s.published, 43);
  assert.equal(s.replayed, 40);
  assert.equal(s.failed, 0);
  assert.equal(s.replaying, false);
});

test("after a reconnect, what was stored while offline is paced backlog and new entries go first", async (t) => {
  const store = setup(t);
  const pub = new RecordingPublisher();
  let connected = false;
  const fwd = forwarder(t, { outbox: store.outbox, publisher: pub, canSend: () => connected, replayRatePerSec: 10, replayBurst: 1 });
  fwd.start();
  append(store, range(1, 8));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pub.sent.length, 0, "nothing is sent while disconnected");

  connected = true;
  fwd.wake();
  await waitFor("first backlog entry", () => pub.sent.length >= 1);
  append(store, ["1001"]);
  await waitFor("all", () => pub.sent.length === 9, 5_000);
  const order = pub.ids();
  assert.deepEqual(order.filter((id) => id !== "1001"), range(1, 8));
  assert.ok(order.indexOf("1001") <= 3, `live entry at position ${order.indexOf("1001")} of ${order.join(",")}`);
  assert.equal(fwd.stats().replayed, 8);
});

test("entries of devices that cannot send are held while other devices' entries proceed", async (t) => {
  const store = setup(t);
  const pub = new RecordingPublisher();
  const online = new Set<string>(["a1/B"]);
  const fwd = forwarder(t, { outbox: store.outbox, publisher: pub, canSend: (devices) => devices.every((d) => online.has(d)) });
  fwd.start();
  append(store, ["1"], ["a1/A"]);
  append(store, ["2"], ["a1/B"]);
  append(store, ["3"], ["a1/A"]);
  append(store, ["4"], ["a1/B"]);
  append(store, ["5"], ["a1/A", "a1/B"]);
  append(store, ["6"], []); // the gateway's own message
  await waitFor("B's entries", () => pub.sent.length >= 3);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(pub.ids(), ["2", "4", "6"]);
  await waitFor("acks", () => fwd.stats().acked === 3);
  store.outbox.flush();
  assert.equal(store.outbox.stats().depth, 3, "A's entries wait in the outbox");

  online.add("a1/A");
  fwd.wake();
  await waitFor("A's entries", () => pub.sent.length === 6);
  assert.deepEqual(pub.ids().slice(3), ["1", "3", "5"], "held entries go out in order once the device can send");
  await waitFor("acks", () => fwd.stats().acked === 6);
  store.outbox.flush();
  assert.equal(store.outbox.stats().depth, 0);
});

test("a rejected publish releases its entry, which is sent again with the same message id", async (t) => {
  const store = setup(t);
  const pub = new RecordingPublisher();
  pub.mode = "reject";
  const fwd = forwarder(t, { outbox: store.outbox, publisher: pub, canSend: () => true, retryDelayMs: 400 });
  fwd.start();
  append(store, ["1", "2", "3"]);
  await waitFor("three failed publishes", () => fwd.stats().failed >= 3);
  pub.mode = "hold"; // further attempts wait, so they can be inspected
  // Within the retry pause: released, not in flight, still stored.
  assert.equal(fwd.stats().failed, 3);
  assert.equal(fwd.stats().inFlight, 0);
  assert.equal(store.outbox.stats().inFlight, 0);
  assert.equal(store.outbox.stats().depth, 3);
  await waitFor("retries", () => pub.held.length === 3);
  assert.deepEqual(pub.ids().slice(-3), ["1", "2", "3"], "retried in order");
  for (const h of pub.held) h.resolve();
  await waitFor("acks", () => fwd.stats().acked === 3);
  store.outbox.flush();
  const s = fwd.stats();
  assert.equal(s.failed, 3);
  assert.equal(s.acked, 3);
  assert.equal(store.outbox.stats().depth, 0);
  assert.deepEqual(pub.ids().filter((id) => id === "2").length, 2, "sent twice: at least once delivery");
});

test("the in-flight window bounds unacknowledged publishes", async (t) => {
  const store = setup(t);
  const pub = new RecordingPublisher();
  pub.mode = "hold";
  const fwd = forwarder(t, { outbox: store.outbox, publisher: pub, canSend: () => true, window: 8 });
  fwd.start();
  append(store, range(1, 20));
  await waitFor("a full window", () => pub.sent.length === 8);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pub.sent.length, 8);
  assert.equal(fwd.stats().inFlight, 8);
  pub.held[0]!.resolve();
  pub.held[1]!.resolve();
  await waitFor("two more", () => pub.sent.length === 10);
  assert.deepEqual(pub.ids(), range(1, 10));
});

test("stop waits for in-flight publishes up to its deadline, then leaves them pending", async (t) => {
  const store = setup(t);
  const pub = new RecordingPublisher();
  pub.mode = "hold";
  const fwd = forwarder(t, { outbox: store.outbox, publisher: pub, canSend: () => true });
  fwd.start();
  append(store, ["1", "2", "3"]);
  await waitFor("publishes", () => pub.held.length === 3);
  setTimeout(() => pub.held[0]!.resolve(), 20);
  const began = performance.now();
  await fwd.stop(300);
  const took = performance.now() - began;
  assert.ok(took >= 250 && took < 3_000, `stop took ${Math.round(took)} ms`);
  store.outbox.flush();
  assert.equal(store.outbox.stats().inFlight, 0);
  assert.equal(store.outbox.stats().depth, 2, "the acknowledged one is gone, the others stay");
  pub.held[1]!.resolve(); // late acknowledgements after stop change nothing
  await new Promise((r) => setTimeout(r, 20));
  store.outbox.flush();
  assert.equal(store.outbox.stats().depth, 2);

  const quick = new Forwarder({ logger: createLogger("silent"), outbox: store.outbox, publisher: pub, canSend: () => true });
  pub.held.length = 0;
  pub.sent.length = 0;
  quick.start();
  await waitFor("replays", () => pub.held.length === 2);
  assert.deepEqual(pub.ids(), ["2", "3"]);
  setTimeout(() => pub.held.forEach((h) => h.resolve()), 30);
  const b2 = performance.now();
  await quick.stop(5_000);
  assert.ok(performance.now() - b2 < 4_000, "returns as soon as the publishes settle");
  store.outbox.flush();
  assert.equal(store.outbox.stats().depth, 0);
});
