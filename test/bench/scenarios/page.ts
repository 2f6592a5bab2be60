/// <reference lib="dom" />
/**
 * Page: what one open status page costs the daemon. The `scale` world (sub-devices x 20 points every second on
 * the Alibaba emulator, http.listen set) is measured twice over windows of the same length on the same daemon:
 * first with no client of the page, then with the page open on `/` in headless Chromium for the whole window, its
 * event stream (/events, one picture a second) running. The probe measures the daemon's process only, so
 * Chromium's own CPU and memory are not in the daemon's figures.
 */
import fs from "node:fs";
import type { Browser } from "playwright-core";
import { CHROMIUM, launchChromium } from "../../helpers/browser.js";
import type { LogSummary } from "../lib/daemon.js";
import { env } from "../lib/env.js";
import { measureWindow, startSteady, type WindowResult } from "../lib/measure.js";
import type { ScenarioBody } from "../lib/result.js";
import { fmt, mb, sleep } from "../lib/stats.js";
import { POINTS, startScaleRig } from "./scale.js";

/** Counts the pictures the page receives (EventSource messages), so the window can show the stream ran. */
function countEvents(): void {
  const Orig = window.EventSource;
  const w = window as unknown as { fbEvents: number };
  w.fbEvents = 0;
  window.EventSource = class extends Orig {
    constructor(url: string | URL, init?: EventSourceInit) {
      super(url, init);
      this.addEventListener("message", () => void w.fbEvents++);
    }
  };
}

export async function pageScenario(): Promise<ScenarioBody> {
  const devices = env.scaleDevices();
  const label = `Page, ${devices} x ${POINTS} @ 1 s`;
  if (!fs.existsSync(CHROMIUM)) {
    return {
      title: label,
      params: { devices, chromium: CHROMIUM },
      metrics: { skipped: `${CHROMIUM} not found` },
      rows: [{ label: `${label}: one open status page`, measured: `skipped: ${CHROMIUM} not found (install chromium, or set CHROMIUM)` }],
      notes: [],
    };
  }
  const seconds = 3 * env.seconds();
  const loginRate = env.loginRate();
  const { field, cloud, run } = await startScaleRig(devices, loginRate);
  let idle: WindowResult;
  let open: WindowResult;
  let events = 0;
  let logs: LogSummary;
  let browser: Browser | undefined;
  try {
    const steady = await startSteady(run, devices, 180_000);
    try {
      await sleep(2000);
      idle = await measureWindow(steady.daemon, cloud, seconds);
      browser = await launchChromium();
      const page = await (await browser.newContext()).newPage();
      await page.addInitScript(countEvents);
      await page.goto(`http://127.0.0.1:${run.httpPort}/`, { timeout: 30_000 });
      // The first picture has arrived and been drawn: the stream runs before the window starts.
      await page.waitForFunction(() => (window as unknown as { fbEvents: number }).fbEvents > 0 && document.querySelector("#devices tr[data-device]") !== null, undefined, { timeout: 30_000 });
      const before = await page.evaluate(() => (window as unknown as { fbEvents: number }).fbEvents);
      open = await measureWindow(steady.daemon, cloud, seconds);
      events = (await page.evaluate(() => (window as unknown as { fbEvents: number }).fbEvents)) - before;
    } finally {
      await browser?.close().catch(() => undefined);
      await steady.daemon.stop();
      logs = steady.daemon.logSummary();
    }
  } finally {
    await cloud.close();
    await field.close();
    run.cleanup();
  }

  const cpuDiff = open.cpuPercent - idle.cpuPercent;
  const rssDiff = open.probe.rssMean - idle.probe.rssMean;
  const signedMb = (b: number) => `${b >= 0 ? "+" : "−"}${mb(Math.abs(b))}`;
  const both = (w: WindowResult) => `CPU ${fmt(w.cpuPercent, 1)} %, RSS ${mb(w.probe.rssMean)} mean (${mb(w.probe.rssPeak)} peak), lag p99 ${fmt(w.probe.lagMs.p99 ?? Number.NaN, 0)} ms`;
  const notes = [
    `${label}: the same daemon measured over two windows of ${seconds} s, first with no page open, then with one page in headless Chromium on / ` +
      `(${events} pictures received over /events in the window). The probe measures the daemon's process only; Chromium is another process. ` +
      `The open window comes second, so any RSS still rising since the start counts toward the page.`,
  ];
  if (logs.errors > 0 || logs.warnings > 0) notes.push(`${label}: the daemon logged ${logs.errors} error(s) and ${logs.warnings} warning(s): ${logs.first.join(" | ")}`);
  return {
    title: label,
    params: { devices, points: POINTS, seconds, tls: env.tls(), loginRate, chromium: CHROMIUM },
    metrics: {
      idle: { cpuPercent: idle.cpuPercent, rssMean: idle.probe.rssMean, rssPeak: idle.probe.rssPeak, lagMs: idle.probe.lagMs, cloud: idle.cloud },
      open: { cpuPercent: open.cpuPercent, rssMean: open.probe.rssMean, rssPeak: open.probe.rssPeak, lagMs: open.probe.lagMs, cloud: open.cloud, events },
      cpuPercentDiff: cpuDiff,
      rssMeanDiff: rssDiff,
      log: logs,
    },
    rows: [
      { label: `${label}: no page open`, measured: both(idle) },
      { label: `${label}: one page open`, measured: `${both(open)}; ${events} events in ${fmt(open.seconds, 0)} s` },
      { label: `${label}: cost of one open page`, measured: `CPU ${cpuDiff >= 0 ? "+" : "−"}${fmt(Math.abs(cpuDiff), 1)} % of one core, RSS ${signedMb(rssDiff)} (mean)` },
    ],
    notes,
  };
}
