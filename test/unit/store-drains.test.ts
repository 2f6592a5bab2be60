import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GATEWAY_ROUTE, type DeviceKey, type RecordResult, type RouteId, type Sending, type UplinkRecord } from "../../src/cloud/platform.js";
import { createLogger } from "../../src/ops/logger.js";
import { Drains, type DrainsOptions, type DrainTarget } from "../../src/store/drains.js";
import { openStore, type Store } from "../../src/store/store.js";

type Decision = RecordResult["result"] | "hold" | "silent";

/** A platform that answers every record at once (`decide`), holds sends until released, or never answers. */
class FakeTarget implements DrainTarget {
  readonly down = new Set<RouteId>();
  readonly notReady = new Set<DeviceKey>();
  decide: (route: RouteId, r: UplinkRecord) => Decision = () => "ok";
  messagesOf: (records: readonly UplinkRecord[]) => number = () => 1;
  /** Acknowledged records, in the order the platform got them. */
  readonly delivered: UplinkRecord[] = [];
  readonly sends: Array<{ route: RouteId; seqs: number[]; at: number }> = [];
  readonly held: Array<() => void> = [];
  readonly inFlight = new Map<RouteId, number>();
  total = 0;
  maxTotal = 0;
  maxPerRoute = 0;

  constructor(readonly perDeviceRoutes: boolean, public maxRecordsPerSend = 10) {}

  routeOf(device: DeviceKey): RouteId {
    return this.perDeviceRoutes ? device : GATEWAY_ROUTE;
  }

  ready(route: RouteId, device: DeviceKey): boolean {
    return !this.down.has(route) && !this.notReady.has(device);
  }

  send(route: RouteId, records: readonly UplinkRecord[]): Sending {
    this.sends.push({ route, seqs: records.map((r) => r.seq), at: performance.now() });
    const n = (this.inFlight.get(route) ?? 0) + 1;
    this.inFlight.set(route, n);
    this.total++;
    this.maxTotal = Math.max(this.maxTotal, this.total);
    this.maxPerRoute = Math.max(this.maxPerRoute, n);
    const decisions = records.map((r) => (this.down.has(route) ? "unsent" : this.decide(route, r)));
    const done = new Promise<RecordResult[]>((resolve) => {
      const answer = (): void => {
        this.inFlight.set(route, this.inFlight.get(route)! - 1);
        this.total--;
        const results = records.map((r, i): RecordResult => {
          const d = decisions[i] === "hold" ? "ok" : (decisions[i] as RecordResult["result"]);
          if (d === "ok") this.delivered.push(r);
          return d === "ok" ? { seq: r.seq, result: "ok" } : { seq: r.seq, result: d, reason: `fake ${d}` };
        });
        resolve(results);
      };
      if (decisions.includes("silent")) return;
      if (decisions.includes("hold")) this.held.push(answer);
      else setImmediate(answer);
    });
    return { messages: this.messagesOf(records), done };
  }

  releaseHeld(): number {
    const all = this.held.splice(0);
    for (const a of all) a();
    return all.length;
  }
}

const T0 = 1_760_000_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function setup(t: TestContext, target: FakeTarget, o: Partial<DrainsOptions> = {}): { store: Store; drains: Drains } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-drains-"));
  const store = openStore(dir, { logger: createLogger("silent"), sync: "normal", records: { batchDelayMs: 1 }, now: () => T0 + 3_600_000 });
  const drains = new Drains({ outbox: store.records, target, logger: createLogger("silent"), retryDelayMs: 20, ...o });
  t.after(async () => {
    await drains.stop(100);
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { store, drains };
}

function append(store: Store, device: DeviceKey, values: number[]): void {
  store.records.append(values.map((v) => ({ kind: "properties" as const, device, time: T0 + v * 1000, values: [{ identifier: "count", value: v, time: T0 + v * 1000 }] })));
  store.records.flush();
}

const valueOf = (r: UplinkRecord): number => (r.kind === "properties" ? (r.values[0]!.value as number) : NaN);
const valuesOf = (records: UplinkRecord[], device: DeviceKey): number[] => records.filter((r) => r.device === device).map(valueOf);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const outageCases = [
  { perDevice: false, signal: "presence" },
  { perDevice: true, signal: "presence" },
  // The platform only stops being ready (no presence report); a wake follows its return.
  { perDevice: false, signal: "readiness" },
] as const;
for (const { perDevice, signal } of outageCases) {
  test(`a device's values reach the cloud in sample order across a 20 s outage; other devices' live values go ahead (${perDevice ? "per-device routes" : "one gateway route"}, ${signal})`, async (t) => {
    const target = new FakeTarget(perDevice, 1);
    const { store, drains } = setup(t, target, { replayRatePerSec: 20, replayBurst: 1 });
    const D = "p/meter";
    const E = "p/other";
    const routeD = target.routeOf(D);
    drains.start();
    // One tick stands for one second of the register counting up.
    let i = 0;
    const tick = async (alsoE: boolean): Promise<void> => {
      append(store, D, [i]);
      if (alsoE) append(store, E, [1000 + i]);
      i++;
      await sleep(15);
    };
    for (let k = 0; k < 5; k++) await tick(false);
    await waitFor("the first values", () => target.delivered.length === 5);

    target.down.add(routeD);
    if (signal === "presence") drains.presence(routeD, false);
    for (let k = 0; k < 20; k++) await tick(false);
    assert.equal(target.delivered.length, 5, "nothing is delivered while the route is down");
    const firstLive = i;
    target.down.delete(routeD);
    if (signal === "presence") drains.presence(routeD, true);
    else drains.wake(routeD);
    for (let k = 0; k < 10; k++) await tick(true);
    await waitFor("every value", () => target.delivered.length === i + 10);

    assert.deepEqual(valuesOf(target.delivered, D), range(0, i - 1), "every value of the device, once, in sample order");
    const backlogDone = target.delivered.findIndex((r) => r.device === D && valueOf(r) === firstLive - 1);
    const dLive = target.delivered.findIndex((r) => r.device === D && valueOf(r) >= firstLive);
    assert.ok(dLive > backlogDone, `no value sampled after the reconnect (first at ${dLive}) before the end of the backlog (${backlogDone})`);
    const firstE = target.delivered.findIndex((r) => r.device === E);
    assert.ok(firstE >= 0 && firstE < backlogDone, `the other device's live values (first at ${firstE}) go ahead of the backlog (done at ${backlogDone})`);
    assert.deepEqual(valuesOf(target.delivered, E), range(1000 + firstLive, 1000 + i - 1));
    assert.ok(drains.stats().replayed >= 20, `replayed ${drains.stats().replayed}`);
    assert.equal(store.records.stats().depth, 0);
  });
}

test("per-route independence: 1,000 device routes drain while one is down and another keeps failing", async (t) => {
  const target = new FakeTarget(true, 10);
  const { store, drains } = setup(t, target, { replayRatePerSec: 1_000_000, replayBurst: 10_000, window: 4 });
  const devices = Array.from({ length: 1000 }, (_, k) => `p/dev${k}`);
  for (const d of devices) append(store, d, [1, 2, 3]);
  const [down, failing] = [devices[0]!, devices[1]!];
  target.down.add(down);
  target.decide = (route) => (route === failing ? "unsent" : "ok");
  drains.start();
  await waitFor("998 routes drained", () => target.delivered.length === 998 * 3, 20_000);
  assert.equal(drains.stats().routes, 1000);
  assert.equal(valuesOf(target.delivered, down).length, 0);
  assert.equal(valuesOf(target.delivered, failing).length, 0);
  assert.equal(drains.routeStats(down)?.backlog, 3);
  assert.equal(store.records.stats().depth, 6);
  await waitFor("the failing route paused", () => drains.routeStats(failing)?.paused === true);

  target.down.delete(down);
  target.decide = () => "ok";
  drains.presence(down, true);
  drains.wake(failing);
  await waitFor("every route drained", () => target.delivered.length === 3000, 10_000);
  assert.deepEqual(valuesOf(target.delivered, down), [1, 2, 3]);
  assert.deepEqual(valuesOf(target.delivered, failing), [1, 2, 3], "sent again in order after the failures");
  assert.equal(store.records.stats().depth, 0);
  drains.forget(devices[5]!);
  assert.equal(drains.stats().routes, 999, "a removed device's route goes");
});

test("unsent records are rewound and sent again in order after the route's pause", async (t) => {
  const target = new FakeTarget(false, 1);
  const { store, drains } = setup(t, target, { window: 4 });
  append(store, "p/A", range(1, 10));
  let sends = 0;
  // Sends 2 to 4 fail as a dropped connection fails them: every send still in flight at the time.
  target.decide = () => (++sends >= 2 && sends <= 4 ? "unsent" : "ok");
  drains.start();
  append(store, "p/A", range(11, 15));
  await waitFor("all values", () => target.delivered.length === 15);
  assert.deepEqual(valuesOf(target.delivered, "p/A"), range(1, 15));
  assert.equal(drains.stats().failed, 3);
  const firstRetry = target.sends[4]!.at - target.sends[3]!.at;
  assert.ok(firstRetry >= 15, `the route paused ${firstRetry.toFixed(0)} ms before sending again`);
  assert.equal(store.records.stats().depth, 0);
});

test("a send that is never answered counts as unsent after publishTimeoutMs and is sent again", async (t) => {
  const target = new FakeTarget(false, 5);
  const { store, drains } = setup(t, target, { publishTimeoutMs: 100 });
  append(store, "p/A", range(1, 3));
  let sends = 0;
  target.decide = () => (++sends <= 3 ? "silent" : "ok");
  drains.start();
  await waitFor("all values", () => target.delivered.length === 3, 5_000);
  assert.deepEqual(valuesOf(target.delivered, "p/A"), [1, 2, 3]);
  assert.equal(target.sends.length, 2, "one unanswered send, one answered");
  assert.ok(target.sends[1]!.at - target.sends[0]!.at >= 95, "sent again after the timeout");
  assert.equal(drains.stats().failed, 3);
});

test("refused records are retried up to maxAttempts, then dropped; rejected ones are dropped at once", async (t) => {
  const target = new FakeTarget(false, 10);
  const { store, drains } = setup(t, target, { maxAttempts: 3 });
  append(store, "p/A", [1, 2, 3, 4]);
  target.decide = (_route, r) => (valueOf(r) === 2 ? "retry" : valueOf(r) === 4 ? "reject" : "ok");
  drains.start();
  await waitFor("the outbox emptied", () => {
    store.records.flush();
    return store.records.stats().depth === 0;
  });
  assert.deepEqual(valuesOf(target.delivered, "p/A"), [1, 3]);
  assert.equal(target.sends.filter((s) => s.seqs.includes(2)).length, 3, "value 2 was sent three times");
  const s = store.records.stats();
  assert.equal(s.droppedRefused, 1);
  assert.equal(s.droppedRejected, 1);
  assert.equal(drains.stats().rejected, 1);
  assert.equal(drains.stats().failed, 3);
});

test("the backlog is paced by MQTT messages, shared by the routes; live records are not paced", async (t) => {
  const target = new FakeTarget(true, 3);
  target.messagesOf = (records) => records.length; // no packing: one message per record
  const { store, drains } = setup(t, target, { replayRatePerSec: 100, replayBurst: 3 });
  for (const d of ["p/A", "p/B"]) append(store, d, range(1, 15));
  const started = performance.now();
  drains.start();
  await waitFor("the backlog", () => target.delivered.length === 30);
  const took = performance.now() - started;
  // 30 messages at 100/s with a burst of 3: at least 270 ms, whichever route sends them.
  assert.ok(took >= 250, `backlog of 30 messages took ${took.toFixed(0)} ms`);
  assert.equal(drains.stats().messages, 30);
  assert.equal(drains.stats().replayed, 30);
  append(store, "p/A", range(16, 30));
  await waitFor("the live records", () => target.delivered.length === 45);
  assert.equal(drains.stats().replayed, 30, "live records are not replayed");
});

test("sends in flight stay within the route window and the global cap", async (t) => {
  const target = new FakeTarget(true, 1);
  target.decide = () => "hold";
  const { store, drains } = setup(t, target, { window: 4, globalWindow: 6, replayRatePerSec: 1_000_000, replayBurst: 1_000 });
  const devices = Array.from({ length: 20 }, (_, k) => `p/dev${k}`);
  for (const d of devices) append(store, d, range(1, 5));
  drains.start();
  await waitFor("the cap reached", () => target.held.length === 6);
  await sleep(50);
  assert.equal(target.held.length, 6, "no more than the global cap");
  assert.equal(drains.stats().inFlight, 6);
  assert.equal(target.maxPerRoute, 4, "one route filled its window");
  while (target.delivered.length < 100) {
    target.releaseHeld();
    await sleep(2);
  }
  assert.equal(target.maxTotal, 6);
  assert.equal(target.maxPerRoute, 4);
  for (const d of devices) assert.deepEqual(valuesOf(target.delivered, d), range(1, 5));
});

test("a device that is not ready is skipped, then sent in order when woken; stop releases what is in flight", async (t) => {
  const target = new FakeTarget(false, 10);
  const { store, drains } = setup(t, target, { rescanIntervalMs: 60_000 });
  target.notReady.add("p/N");
  drains.start();
  append(store, "p/N", [1, 2]);
  append(store, "p/A", [1]);
  append(store, "p/N", [3]);
  await waitFor("A's value", () => target.delivered.length === 1);
  await sleep(30);
  assert.deepEqual(valuesOf(target.delivered, "p/N"), []);
  target.notReady.delete("p/N");
  append(store, "p/N", [4]); // ready now, but its older values wait: still in order
  drains.wake();
  await waitFor("N's values", () => target.delivered.length === 5);
  assert.deepEqual(valuesOf(target.delivered, "p/N"), [1, 2, 3, 4]);

  target.decide = () => "hold";
  append(store, "p/A", [2, 3]);
  await waitFor("a held send", () => target.held.length === 1);
  await drains.stop(50);
  assert.equal(store.records.stats().inFlight, 0, "released");
  assert.equal(store.records.stats().depth, 2);
  assert.deepEqual(valuesOf(store.records.take({ afterSeq: 0, limit: 10 }).records, "p/A"), [2, 3]);
});

test("skipped records are reconsidered by the periodic rescan when no wake comes; a sub-device's presence wakes the gateway route", async (t) => {
  const target = new FakeTarget(false, 10);
  const { store, drains } = setup(t, target, { rescanIntervalMs: 100 });
  target.notReady.add("p/N");
  drains.start();
  append(store, "p/N", [1, 2]);
  await sleep(30);
  assert.equal(target.delivered.length, 0);
  target.notReady.delete("p/N"); // ready again, nobody says so
  await waitFor("the rescan", () => target.delivered.length === 2, 2_000);
  assert.deepEqual(valuesOf(target.delivered, "p/N"), [1, 2]);

  await drains.stop(100);
  const quiet = new Drains({ outbox: store.records, target, logger: createLogger("silent"), rescanIntervalMs: 60_000 });
  t.after(() => quiet.stop(100));
  quiet.start();
  target.notReady.add("p/M");
  append(store, "p/M", [3]);
  await sleep(30);
  target.notReady.delete("p/M");
  quiet.presence("p/M", true); // on a gateway platform: readiness, not a route of its own
  await waitFor("M's value", () => target.delivered.length === 3, 2_000);
  const s = quiet.stats();
  assert.equal(s.routes, 1);
  assert.equal(s.replaying, false);
  assert.equal(s.acked, 1);
  assert.equal(s.published, 1);
});
