/** Login pacing of Alibaba sub-devices: 5 per device within the platform's minute, with a margin. */
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { Logins, LOGIN_WINDOW_MS } from "../../../src/cloud/aliyun/logins.js";
import type { Dev, SessionContext } from "../../../src/cloud/aliyun/session-types.js";

function world(now: { t: number }) {
  const requests: string[] = [];
  const dev: Dev = {
    key: "pk/dev-01", productKey: "pk", deviceName: "dev-01", configured: true, fieldOnline: true, status: "waiting", bound: true,
    online: false, loginTimes: [], nextAttemptAt: 0, topoRetries: [], reRegistered: false, loginCount: 0, inFlight: false,
  };
  const devs = new Map([[dev.key, dev]]);
  const ctx = {
    link: {
      connected: true,
      gateway: { productKey: "gw", deviceName: "gw-01" },
      request: async (topic: string) => {
        requests.push(topic);
        return { id: "1", code: 200 };
      },
      subscribe: async () => [],
    },
    logger: pino({ level: "silent" }),
    limits: { maxOnline: 10, loginsPerSecond: 1000, batchSize: 10, pruneTopology: false },
    secrets: { get: () => "secret", set: () => undefined, delete: () => undefined },
    counters: { logins: 0, loginFailures: 0, logouts: 0, registrations: 0, topoAdds: 0, topoDeletes: 0 },
    devs,
    now: () => now.t,
    passNow: () => now.t,
    stopped: () => false,
    secretOf: () => "secret",
    provisioned: () => false,
    setStatus: () => undefined,
    backoff: () => undefined,
    markOffline: () => undefined,
    repump: () => undefined,
    // A login that succeeded: the device goes offline again at once (a flapping field device).
    online: () => undefined,
    wantsLogin: (d: Dev) => !d.online,
  } as unknown as SessionContext;
  return { ctx, dev, requests };
}

test("the sixth login of a device waits until the platform's minute of the first has surely passed", async () => {
  const now = { t: 1_000_000 };
  const { ctx, dev, requests } = world(now);
  const logins = new Logins(ctx);
  for (let i = 0; i < 5; i++) {
    now.t = 1_000_000 + i * 1000;
    dev.nextAttemptAt = 0;
    await logins.loginDue();
  }
  assert.equal(requests.length, 5);
  // 60.5 s after the first: exactly a minute has passed by our clock, not surely by the platform's.
  now.t = 1_000_000 + 60_500;
  dev.nextAttemptAt = 0;
  await logins.loginDue();
  assert.equal(requests.length, 5, "no sixth login at 60.5 s");
  assert.ok(dev.nextAttemptAt >= 1_000_000 + 62_000, `next attempt at +${dev.nextAttemptAt - 1_000_000} ms`);
  now.t = 1_000_000 + LOGIN_WINDOW_MS;
  await logins.loginDue();
  assert.equal(requests.length, 6, "the sixth login once the window with its margin has passed");
});
