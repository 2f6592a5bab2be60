/** Benchmark knobs, all from the environment so that `npm run bench` needs no arguments. */

function num(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  return v;
}

export const env = {
  /** Length of every measurement window, in seconds. */
  seconds: () => num("BENCH_SECONDS", 10, 1),
  /** Messages per outbox append run. */
  append: () => Math.floor(num("BENCH_APPEND", 100_000, 100)),
  /** Backlog the outbox replay starts from. */
  backlog: () => Math.floor(num("BENCH_BACKLOG", 100_000, 100)),
  /** Warm restarts per startup variant (the emulator allows 5 logins per sub-device per minute, so at most 4). */
  startupRuns: () => Math.min(4, Math.floor(num("BENCH_STARTUP_RUNS", 3, 1))),
  /** Sub-device logins per second during the scale ramp (gateway option sessions.loginsPerSecond). */
  loginRate: () => num("BENCH_LOGIN_RATE", 300, 1),
  /** Sub-devices in `scale` and `page` (1500 is the benchmark; fewer for a quick check). */
  scaleDevices: () => Math.floor(num("BENCH_SCALE_DEVICES", 1500, 1)),
  /** Field devices (one MQTT connection each) in the per-device platform scenarios. */
  devices: () => Math.floor(num("BENCH_DEVICES", 1000, 1)),
  /** MQTT over TLS, as against the real platform (default), or plain TCP. */
  tls: () => process.env["BENCH_TLS"] !== "0",
};
