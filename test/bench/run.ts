/**
 * The benchmark suite: `npm run bench` (builds first; the daemon under test is the built `dist/cli.js`).
 *
 * Every scenario runs in its own process (scenario.ts), which starts its own daemons, simulators and emulator,
 * so CPU and memory figures belong to one scenario only. Results go to test/bench/results/latest.json; the
 * markdown table goes to stdout, progress to stderr.
 *
 * Environment: BENCH_SECONDS (measurement window, default 10), BENCH_ONLY (comma-separated scenario ids),
 * BENCH_APPEND, BENCH_BACKLOG, BENCH_STARTUP_RUNS, BENCH_LOGIN_RATE, BENCH_SCALE_DEVICES, BENCH_DEVICES, BENCH_TLS=0 (see README.md).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BUILT_CLI, ROOT } from "./lib/daemon.js";
import { env } from "./lib/env.js";
import { describeMachine } from "./lib/machine.js";
import { markdown, type RunSummary } from "./lib/report.js";
import type { ScenarioResult } from "./lib/result.js";
import { SCENARIOS } from "./scenario.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(HERE, "results");
/** No scenario may take longer than this, whatever BENCH_SECONDS says. */
const SCENARIO_LIMIT_MS = 15 * 60_000;

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Copies dist/ (and package.json, which makes it an ES module package) under results/, so that every scenario
 * runs the same build even if dist/ is rebuilt while the suite runs. node_modules is still found from there.
 */
function snapshotBuild(): string {
  const target = path.join(RESULTS, "build");
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  fs.cpSync(path.dirname(BUILT_CLI), path.join(target, "dist"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(target, "package.json"));
  return path.join(target, "dist", "cli.js");
}

async function runScenario(id: string, logFile: string, cli: string): Promise<ScenarioResult> {
  const resultFile = path.join(os.tmpdir(), `fb-bench-${process.pid}-${id}.json`);
  const log = fs.openSync(logFile, "w");
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(HERE, "scenario.ts"), id], {
    env: { ...process.env, BENCH_RESULT_FILE: resultFile, BENCH_LOG_DIR: RESULTS, BENCH_CLI: cli },
    stdio: ["ignore", log, log],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), SCENARIO_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  fs.closeSync(log);
  try {
    const result = JSON.parse(fs.readFileSync(resultFile, "utf8")) as ScenarioResult;
    fs.rmSync(resultFile, { force: true });
    return result;
  } catch {
    const tail = fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join(" / ");
    return {
      id, title: SCENARIOS[id]?.title ?? id, params: {}, metrics: {}, rows: [], notes: [],
      error: `scenario process exited with ${code} without a result: ${tail}`, durationMs: performance.now() - t0,
    };
  }
}

async function main(): Promise<number> {
  if (!fs.existsSync(BUILT_CLI)) {
    progress(`${BUILT_CLI} not found: build first (npm run bench does)`);
    return 1;
  }
  const only = (process.env["BENCH_ONLY"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((id) => !SCENARIOS[id]);
  if (unknown.length) {
    progress(`unknown scenario(s) ${unknown.join(", ")}; known: ${Object.keys(SCENARIOS).join(", ")}`);
    return 2;
  }
  const ids = only.length ? only : Object.keys(SCENARIOS);
  fs.mkdirSync(RESULTS, { recursive: true });
  const cli = snapshotBuild();
  const knobs = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_")).map(([k, v]) => `${k}=${v}`);
  const command = `${knobs.length ? `${knobs.join(" ")} ` : ""}${process.env["npm_lifecycle_event"] === "bench" ? "npm run bench" : "node --import tsx test/bench/run.ts"}`;
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  progress(`fieldbridge bench: ${ids.join(", ")} (windows of ${env.seconds()} s); logs in ${path.relative(process.cwd(), RESULTS)}/`);
  const scenarios: ScenarioResult[] = [];
  for (const id of ids) {
    const began = performance.now();
    progress(`  ${id} …`);
    const result = await runScenario(id, path.join(RESULTS, `${id}.log`), cli);
    scenarios.push(result);
    const verdict = result.error ? `FAILED: ${result.error.split("\n")[0]}` : result.rows.map((r) => (r.met === false ? "missed" : r.met ? "met" : "–")).join(" ");
    progress(`  ${id} done in ${Math.round((performance.now() - began) / 1000)} s: ${verdict}`);
  }
  machine.loadAtEnd = Math.round(os.loadavg()[0]! * 100) / 100;
  const summary: RunSummary = { machine, command, startedAt, durationS: (performance.now() - t0) / 1000, seconds: env.seconds(), scenarios };
  const table = markdown(summary);
  fs.writeFileSync(path.join(RESULTS, "latest.json"), `${JSON.stringify(summary, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS, "latest.md"), `${table}\n`);
  process.stdout.write(`${table}\n`);
  return scenarios.some((s) => s.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    progress((err as Error).stack ?? String(err));
    process.exit(1);
  },
);
