/** How dead Modbus devices are probed: the pace per link type, and their place in the channel queue. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProbePacer } from "../../src/field/modbus/probe-pacer.js";
import { Priority, RequestQueue } from "../../src/field/modbus/request-queue.js";

test("TCP pace: one probe per poll period, counted from the probe's start", () => {
  const pacer = new ProbePacer("period", 200);
  assert.equal(pacer.first(), 200);
  const now = performance.now();
  // a probe that started 150 ms ago (its timeout) is followed 50 ms from now, not 200
  const next = pacer.next(now - 150);
  assert.ok(next > 40 && next <= 50, String(next));
  // one that overran the period is followed at once
  assert.equal(pacer.next(now - 1000), 0);
  assert.equal(pacer.next(performance.now()) <= 200, true);
});

test("RTU pace: 1 s, doubling up to 60 s, from the start again after a recovery", () => {
  const pacer = new ProbePacer("backoff", 200);
  assert.equal(pacer.first(), 1000);
  const delays = Array.from({ length: 8 }, () => pacer.next(performance.now()));
  assert.deepEqual(delays, [2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  assert.equal(pacer.first(), 1000);
  assert.equal(new ProbePacer("period", undefined).first(), 1000, "nothing to poll: no period to follow");
});

test("a queued probe goes after every waiting poll and write", async () => {
  const q = new RequestQueue(1);
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const job = (name: string, wait?: Promise<void>) => async () => {
    order.push(name);
    await wait;
  };
  const all = [
    q.push("a", Priority.poll, job("poll-on-wire", held)),
    q.push("dead", Priority.probe, job("probe")),
    q.push("b", Priority.poll, job("poll")),
    q.push("a", Priority.write, job("write")),
  ];
  release();
  await Promise.all(all);
  assert.deepEqual(order, ["poll-on-wire", "write", "poll", "probe"]);
});

test("on a pipelined link probes leave a slot free for the devices that answer", async () => {
  const q = new RequestQueue(3);
  const started: string[] = [];
  const job = (name: string) => () =>
    new Promise<void>((r) => {
      started.push(name);
      setTimeout(r, 20);
    });
  const probes = [1, 2, 3].map((i) => q.push(`dead${i}`, Priority.probe, job(`probe${i}`)));
  assert.deepEqual(started, ["probe1", "probe2"]);
  const poll = q.push("alive", Priority.poll, job("poll"));
  assert.deepEqual(started, ["probe1", "probe2", "poll"]);
  await Promise.all([...probes, poll]);
  assert.deepEqual(started, ["probe1", "probe2", "poll", "probe3"]);
});
