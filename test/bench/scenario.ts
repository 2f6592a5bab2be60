/**
 * Runs one benchmark scenario in this process and writes its result as JSON to the file named by
 * BENCH_RESULT_FILE (or prints it). run.ts starts one of these per scenario, so that every scenario gets a fresh
 * process and nothing of one (heap, sockets, timers) is measured in the next.
 *
 *   node --import tsx test/bench/scenario.ts <id>
 */
import fs from "node:fs";
import { pathToFileURL } from "node:url";
import type { ScenarioBody, ScenarioResult } from "./lib/result.js";

export const SCENARIOS: Record<string, { title: string; run: () => Promise<ScenarioBody> }> = {
  "poll-light": {
    title: "Poll throughput, 100 x 10 @ 100 ms",
    run: async () => (await import("./scenarios/poll.js")).pollScenario({ devices: 100, points: 10, periodMs: 100, perChannel: 100 }),
  },
  "poll-heavy": {
    title: "Poll throughput, 400 x 25 @ 100 ms",
    run: async () => (await import("./scenarios/poll.js")).pollScenario({ devices: 400, points: 25, periodMs: 100, perChannel: 100 }),
  },
  scale: {
    title: "Scale, 1500 sub-devices x 20 points @ 1 s",
    run: async () => (await import("./scenarios/scale.js")).scaleScenario(),
  },
  page: {
    title: "Status page, the cost of one open page (scale world)",
    run: async () => (await import("./scenarios/page.js")).pageScenario(),
  },
  "devices-huawei": {
    title: "Huawei, 1000 devices (one connection each) x 5 points @ 1 s",
    run: async () => (await import("./scenarios/devices.js")).devicesScenario("huawei"),
  },
  "devices-lierda": {
    title: "Lierda, 1000 devices (one connection each) x 5 points @ 1 s",
    run: async () => (await import("./scenarios/devices.js")).devicesScenario("lierda"),
  },
  "devices-tencent": {
    title: "Tencent, 1000 sub-devices behind one gateway connection x 5 points @ 1 s",
    run: async () => (await import("./scenarios/devices-tencent.js")).devicesTencentScenario(),
  },
  "light-10k": {
    title: "Light, 10,000 values/s against a bare script",
    run: async () => (await import("./scenarios/light.js")).lightScenario(100),
  },
  "light-50k": {
    title: "Light, 50,000 values/s against a bare script",
    run: async () => (await import("./scenarios/light.js")).lightScenario(500),
  },
  latency: {
    title: "Latency, register change → PUBLISH at the broker",
    run: async () => (await import("./scenarios/latency.js")).latencyScenario(),
  },
  outbox: {
    title: "Outbox append and replay",
    run: async () => (await import("./scenarios/outbox.js")).outboxScenario(),
  },
  startup: {
    title: "Startup, process start → first property post accepted",
    run: async () => (await import("./scenarios/startup.js")).startupScenario(),
  },
};

async function main(id: string): Promise<number> {
  const scenario = SCENARIOS[id];
  if (!scenario) {
    process.stderr.write(`unknown scenario "${id}"; one of: ${Object.keys(SCENARIOS).join(", ")}\n`);
    return 2;
  }
  const t0 = performance.now();
  let result: ScenarioResult;
  try {
    const body = await scenario.run();
    result = { id, ...body, durationMs: performance.now() - t0 };
  } catch (err) {
    result = {
      id, title: scenario.title, params: {}, metrics: {}, rows: [], notes: [],
      error: (err as Error).stack ?? String(err), durationMs: performance.now() - t0,
    };
  }
  const json = JSON.stringify(result, null, 2);
  const file = process.env["BENCH_RESULT_FILE"];
  if (file) fs.writeFileSync(file, json);
  else process.stdout.write(`${json}\n`);
  return result.error ? 1 : 0;
}

const id = process.argv[2];
// Only as the entry point: run.ts imports this module for the list of scenarios.
if (id !== undefined && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Exit explicitly: node-opcua and aedes leave handles open for a while after they are closed.
  main(id).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
