import { test } from "node:test";
import assert from "node:assert/strict";
import { RecentUplinks } from "../../src/daemon/redelivery.js";

const item = (msgId: string) => ({ topic: "/t", payload: "{}", msgId, devices: [], sampleTime: 0 });

test("recent uplinks: taken once, forgotten when old or beyond the size, abandoned after repeated refusals", () => {
  let now = 1000;
  const r = new RecentUplinks(3, 10_000, () => now);
  r.remember(item("1"));
  assert.equal(r.take("1")?.msgId, "1");
  assert.equal(r.take("1"), undefined, "only once");
  for (const id of ["2", "3", "4", "5"]) r.remember(item(id));
  assert.equal(r.take("2"), undefined, "the oldest beyond the size is gone");
  assert.equal(r.take("5")?.msgId, "5");
  r.remember(item("6"));
  now += 20_000;
  assert.equal(r.take("6"), undefined, "too old");
  // The same message refused again and again: sent again three times, then abandoned.
  for (let i = 0; i < 3; i++) {
    r.remember(item("7"));
    assert.ok(r.take("7"));
  }
  r.remember(item("7"));
  assert.equal(r.take("7"), undefined);
  assert.equal(r.counters.abandoned, 1);
});
