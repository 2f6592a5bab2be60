import { test } from "node:test";
import assert from "node:assert/strict";
import { health } from "../../src/core/status.js";
import type { GatewayView } from "../../src/core/view.js";

/** Only the readings health() takes; a full gateway cannot be put into "disk refuses writes" here. */
function gateway(o: { failing?: string; writable?: boolean; downSinceMsAgo?: number }, unhealthyAfterMs: number): GatewayView {
  return {
    unhealthyAfterMs,
    configFailing: () => o.failing !== undefined,
    configStatus: () => ({ lastError: o.failing ? { message: o.failing } : undefined }),
    outbox: () => ({ writable: o.writable ?? true }),
    cloudStatus: () => ({ downSince: o.downSinceMsAgo === undefined ? 0 : Date.now() - o.downSinceMsAgo, routes: [] }),
  } as unknown as GatewayView;
}

test("health: ok while connected, within the grace period of an outage, and with a working outbox", () => {
  assert.deepEqual(health(gateway({}, 5000)), { ok: true });
  assert.deepEqual(health(gateway({ downSinceMsAgo: 2000 }, 5000)), { ok: true });
});

test("health: each failing check gives a reason, and several are all named", () => {
  assert.deepEqual(health(gateway({ failing: "gateway config rejected: 2 problem(s)" }, 5000)), {
    ok: false, reason: "gateway config not applied: gateway config rejected: 2 problem(s)",
  });
  const down = health(gateway({ downSinceMsAgo: 12_000 }, 5000));
  assert.equal(down.ok, false);
  assert.match(down.reason!, /^cloud unreachable for 12 s$/);
  const disk = health(gateway({ writable: false }, 5000));
  assert.equal(disk.ok, false);
  assert.match(disk.reason!, /outbox writes are failing/);
  const all = health(gateway({ failing: "digest check failed", writable: false, downSinceMsAgo: 60_000 }, 5000));
  assert.equal(all.reason!.split("; ").length, 3, all.reason);
});
