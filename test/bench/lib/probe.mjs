/**
 * Preloaded into a benchmarked `fieldbridge run` process (`node --import <this file> dist/cli.js run …`).
 * It measures the process from the inside: CPU time (process.cpuUsage), resident set size
 * (process.memoryUsage.rss, sampled every 200 ms) and event-loop delay (perf_hooks.monitorEventLoopDelay).
 * The parent talks to it over the IPC channel:
 *   { probe: true, id, cmd: "mark" }   starts a new measurement window (resets every figure)
 *   { probe: true, id, cmd: "read" }   reports the figures since the last mark
 * The channel is unref'd, so the probe never keeps the daemon alive. Plain JavaScript on purpose: the daemon
 * runs from dist/ under plain node, without a TypeScript loader that would add its own memory.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

if (typeof process.send === "function") {
  // The histogram records the whole interval between two ticks of a RESOLUTION_MS timer; the lag is what
  // exceeds the resolution (the same correction as fastify's under-pressure).
  const RESOLUTION_MS = 10;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let cpuBase = process.cpuUsage();
  let wallBase = performance.now();
  let rssPeak = 0;
  let rssSum = 0;
  let rssSamples = 0;

  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > rssPeak) rssPeak = rss;
    rssSum += rss;
    rssSamples++;
  };
  sample();
  setInterval(sample, 200).unref();

  const report = () => {
    sample();
    const cpu = process.cpuUsage(cpuBase);
    const mem = process.memoryUsage();
    const lag = (ns) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : null);
    return {
      wallMs: performance.now() - wallBase,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      rss: mem.rss,
      rssPeak,
      rssMean: rssSum / rssSamples,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      lagMs: { p50: lag(delay.percentile(50)), p99: lag(delay.percentile(99)), max: lag(delay.max), mean: lag(delay.mean) },
    };
  };

  process.on("message", (msg) => {
    if (!msg || msg.probe !== true) return;
    if (msg.cmd === "mark") {
      delay.reset();
      cpuBase = process.cpuUsage();
      wallBase = performance.now();
      rssPeak = 0;
      rssSum = 0;
      rssSamples = 0;
    }
    process.send({ probe: true, id: msg.id, report: report() });
  });
  process.channel?.unref();
}
