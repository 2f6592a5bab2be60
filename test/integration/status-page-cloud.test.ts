/// <reference lib="dom" />
/**
 * The status page in headless Chromium with a per-device platform and 1,500 devices: the `cloud` object of the
 * status document (PlatformStatus) is shown with counts by state and the connections and devices not online; the
 * device table shows one page at a time, searchable by name and filterable to the devices not online; text from
 * the cloud is shown as text, never as markup.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { OpsServer } from "../../src/ops/http.js";
import { viewSource } from "../../src/ops/status-view.js";
import { StatusHistory } from "../../src/ops/history.js";
import { LogRing } from "../../src/ops/log-ring.js";
import { createLogger } from "../../src/ops/logger.js";
import { launchChromium } from "../helpers/browser.js";
import { captureLogger } from "../helpers/log-capture.js";
import { Writable } from "node:stream";

const N = 1500;
const HOSTILE = 'x<img src=x onerror="window.pwned=1">';
const now = Date.now();
let offline = new Set([7, 99, 1234]);
let values = 0;

function doc(): Record<string, unknown> {
  const name = (i: number) => `meter-${String(i).padStart(4, "0")}`;
  values++;
  return {
    gateway: { productKey: "pkGw", deviceName: "gw-edge-01", version: "9.9.9", uptimeSeconds: 4000 },
    health: { ok: false, reason: "cloud unreachable for 400 s" },
    config: { version: "f00d", appliedAt: new Date(now - 3_600_000).toISOString(), source: "push", channels: 1, devices: N, warnings: [], lastError: null, failing: false },
    channels: [{ serverId: "RTU1", name: "rs485-a", protocol: "modbus-rtu", up: true, reason: null, requests: 10, errors: 1, timeouts: 0, lastPollMs: 850, busUtilisation: 0.63 }],
    subDevices: Array.from({ length: N }, (_, i) => ({
      productKey: "pkM", deviceName: name(i), serverId: "RTU1", state: "online", reason: null,
      lastSampleAt: new Date(now - 2000).toISOString(), values: { Voltage: 230 + (i % 10), Count: values },
    })),
    cloud: {
      platform: "huawei", connected: false, downSince: now - 400_000,
      routes: [
        { route: "gateway", state: "backoff", since: now - 400_000, reason: "connection refused", reconnects: 9 },
        ...Array.from({ length: N }, (_, i) => ({ route: `pkM/${name(i)}`, state: offline.has(i) ? "refused" : "online", since: now - 60_000, reconnects: 0 })),
      ],
      devices: [
        ...Array.from({ length: N }, (_, i) => ({ device: `pkM/${name(i)}`, state: offline.has(i) ? "refused" : "online", online: !offline.has(i), since: now - 60_000, reason: offline.has(i) ? "bad credentials" : undefined })),
        { device: `pkM/${HOSTILE}`, state: "bindFailed", online: false, since: now - 1000, reason: HOSTILE },
      ],
      counters: { published: 1234 },
    },
    units: { pkM: { Voltage: "V" } },
    outbox: { depth: 4200, bytes: 2_000_000, oldestAgeSeconds: 400, inFlight: 0, writable: true },
  };
}

let ops: OpsServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  const ring = new LogRing(50);
  const logger = createLogger("info", new Writable({ write: (_c, _e, cb) => cb() }), ring);
  logger.warn({ route: "gateway", err: "connection refused" }, "cloud connection lost");
  const history = new StatusHistory({ outboxDepth: () => 4200, valuesReported: () => values * 10, channels: () => [] });
  const view = viewSource(doc, () => ({ history: history.history(), rates: () => ({ requestsPerSecond: 1.2, errorsPerSecond: 0.1, timeoutsPerSecond: 0 }), logs: ring.records() }));
  ops = new OpsServer("127.0.0.1:0", { health: () => ({ ok: false }), status: doc, metrics: () => "", view }, captureLogger("info").logger, { eventIntervalMs: 500 });
  await ops.start();
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
  // Script errors and Content-Security-Policy violations both surface here.
  page.on("console", (m) => (m.type() === "error" ? pageErrors.push(m.text()) : undefined));
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`http://127.0.0.1:${ops.port}/`);
  await page.locator("#devices tr[data-device]").first().waitFor({ timeout: 10_000 });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await ops?.stop();
});

test("the cloud part: platform, down since, connections and devices counted by state, the ones not online named", async () => {
  const cloud = await page.getByTestId("cloud").innerText();
  assert.match(cloud, /huawei/);
  assert.match(cloud, /disconnected\s+down since/);
  assert.match(cloud, /Connections\s+1501\s+backoff 1\s+online 1497\s+refused 3/);
  assert.match(cloud, /gateway \(backoff: connection refused\)/);
  assert.match(cloud, /1497 of 1501 online/);
  const counts = await page.getByTestId("device-counts").innerText();
  assert.match(counts, /online 1497/);
  assert.match(counts, /refused 3/);
  const notOnline = await page.getByTestId("not-online").innerText();
  assert.match(notOnline, /Not online \(4\)/);
  assert.match(notOnline, /meter-1234 \(refused: bad credentials\)/);
  assert.match(await page.getByTestId("health").innerText(), /unhealthy: cloud unreachable/);
  assert.match(await page.getByTestId("logs").innerText(), /cloud connection lost/);
  assert.equal(await page.locator("#logout").isVisible(), false, "no token, no sign-out");
  const ch = await page.locator('#channels tr[data-server-id="RTU1"]').innerText();
  assert.match(ch, /rs485-a[\s\S]*modbus-rtu[\s\S]*up\s+1\.2\s+0\.10\s+0\s+850 ms\s+63 %/);
});

test("1,500 devices: 50 rows at a time, paged; a search by name; only those not online", async () => {
  assert.equal(await page.locator("#devices tr[data-device]").count(), 50);
  assert.match(await page.getByTestId("page-info").innerText(), /^1–50 of 1501$/);
  await page.click("#next");
  await page.waitForFunction(() => document.getElementById("page-info")?.textContent?.startsWith("51–100"), undefined, { timeout: 3000 });
  assert.equal(await page.locator("#devices tr[data-device]").count(), 50);

  await page.fill("#search", "meter-123");
  await page.waitForFunction(() => document.querySelectorAll("#devices tr[data-device]").length === 10, undefined, { timeout: 3000 });
  assert.match(await page.getByTestId("page-info").innerText(), /^1–10 of 10 \(of 1501\)$/);
  const row = page.locator('#devices tr[data-device="pkM/meter-1234"]');
  assert.match(await row.innerText(), /refused[\s\S]*bad credentials/);
  assert.match(await page.locator('#devices tr[data-device="pkM/meter-1235"]').innerText(), /Voltage\s*235 V/);

  await page.fill("#search", "");
  await page.check("#problems");
  await page.waitForFunction(() => document.querySelectorAll("#devices tr[data-device]").length === 4, undefined, { timeout: 3000 });
  const shown = await page.locator("#devices tr[data-device]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-device")));
  assert.deepEqual(shown.sort(), ["pkM/meter-0007", "pkM/meter-0099", "pkM/meter-1234", `pkM/${HOSTILE}`].sort());
  await page.uncheck("#problems");
});

test("the page follows the stream: a device coming online changes the counts without a reload", async () => {
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  offline = new Set([7, 99]);
  await page.waitForFunction(() => /refused 2/.test(document.getElementById("device-counts")?.textContent ?? ""), undefined, { timeout: 3000 });
  assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
});

test("text from the cloud is shown as text, never run as markup", async () => {
  await page.fill("#search", "img");
  await page.waitForFunction(() => document.querySelectorAll("#devices tr[data-device]").length === 1, undefined, { timeout: 3000 });
  assert.match(await page.locator("#devices tr[data-device]").innerText(), /x<img src=x onerror="window\.pwned=1">/);
  assert.equal(await page.locator("#devices img").count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
});

test("the page ran without a script error or a Content-Security-Policy violation", () => {
  assert.deepEqual(pageErrors, []);
});
