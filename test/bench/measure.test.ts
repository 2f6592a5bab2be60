/**
 * The measuring tools of the benchmark, checked against processes whose behaviour is known: the in-process probe
 * (CPU, RSS, event-loop lag, and that it never keeps a process alive), the bare-client ceiling against a real
 * simulator, and the percentile used for latencies.
 *
 *   node --import tsx --test test/bench/measure.test.ts
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";
import { cpuPercent, type ProbeReport } from "./lib/daemon.js";
import { runBareClient } from "./lib/measure.js";
import { percentile } from "./lib/stats.js";

const PROBE = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "lib", "probe.mjs")).href;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-bench-test-"));
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts `node --import probe.mjs <script>` with an IPC channel; the script's source is given inline. */
function withProbe(name: string, source: string): { child: ChildProcess; ask: (cmd: "mark" | "read") => Promise<ProbeReport>; exit: Promise<number | null> } {
  const file = path.join(dir, `${name}.mjs`);
  fs.writeFileSync(file, source);
  const child = spawn(process.execPath, ["--import", PROBE, file], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let seq = 0;
  const ask = (cmd: "mark" | "read") =>
    new Promise<ProbeReport>((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => reject(new Error(`probe ${cmd} not answered`)), 10_000);
      const onMessage = (m: { probe?: boolean; id?: number; report?: ProbeReport }) => {
        if (m?.probe && m.id === id && m.report) {
          clearTimeout(timer);
          child.off("message", onMessage);
          resolve(m.report);
        }
      };
      child.on("message", onMessage);
      child.send({ probe: true, id, cmd });
    });
  return { child, ask, exit };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the probe sees a process that blocks its event loop and grows its memory", async () => {
  // Blocks the loop for 120 ms every 250 ms, keeps 64 MB more, then runs for at most 20 s.
  const p = withProbe(
    "busy",
    `const keep = [];
     setInterval(() => { const end = Date.now() + 120; while (Date.now() < end); }, 250);
     setTimeout(() => keep.push(Buffer.alloc(64 * 1024 * 1024, 1)), 300);
     setTimeout(() => process.exit(0), 20000);`,
  );
  await p.ask("mark");
  await sleep(2000);
  const r = await p.ask("read");
  p.child.kill("SIGKILL");
  assert.ok(r.wallMs >= 1900, `window ${r.wallMs} ms`);
  assert.ok(cpuPercent(r) >= 10, `cpu ${cpuPercent(r)} %`);
  assert.ok((r.lagMs.max ?? 0) >= 90, `lag max ${r.lagMs.max} ms`);
  // A bare node process is about 40 MB; the 64 MB buffer comes on top.
  assert.ok(r.rssPeak >= 90 * 1024 * 1024, `rss peak ${r.rssPeak}`);
  assert.ok(r.rssPeak >= r.rssMean && r.rssMean > 0);
});

test("the probe reports a quiet process as quiet and does not keep it alive", async () => {
  const p = withProbe("idle", `setTimeout(() => {}, 1500);`);
  await p.ask("mark");
  await sleep(1000);
  const r = await p.ask("read");
  assert.ok(r.wallMs >= 900, `window ${r.wallMs} ms`);
  assert.ok(cpuPercent(r) < 50, `cpu ${cpuPercent(r)} %`);
  assert.ok((r.lagMs.p50 ?? 0) < 50, `lag p50 ${r.lagMs.p50} ms`);
  // The script's only timer ends at 1.5 s; the IPC channel and the sampling timer must not hold the process.
  const code = await Promise.race([p.exit, sleep(8000).then(() => "still running" as const)]);
  assert.equal(code, 0);
});

test("the bare-client ceiling reads every device once per period, and more when unpaced", async () => {
  const sim = await ModbusTcpSimulator.start({ units: [1, 2, 3], size: 64 });
  try {
    const plan = { host: "127.0.0.1", channels: [{ port: sim.port, units: [1, 2, 3] }], points: 10, periodMs: 100, paced: true, warmupMs: 300, seconds: 2 };
    const before = sim.requests;
    const paced = await runBareClient(plan);
    assert.equal(paced.errors, 0);
    // 2 s of 100 ms slots: at most 21 cycles of 3 reads in the window; scheduling may skip a few slots.
    assert.ok(paced.reads <= 63 && paced.reads >= 30, `paced reads ${paced.reads}`);
    assert.equal(paced.points, paced.reads * 10);
    assert.ok(sim.requests - before >= paced.reads, "every counted read reached the simulator");
    const flat = await runBareClient({ ...plan, paced: false, seconds: 1 });
    assert.equal(flat.errors, 0);
    assert.ok(flat.reads > paced.reads, `unpaced ${flat.reads} vs paced ${paced.reads}`);
  } finally {
    await sim.close();
  }
});

test("percentile is nearest-rank", () => {
  const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(v, 50), 5);
  assert.equal(percentile(v, 99), 10);
  assert.equal(percentile(v, 10), 1);
  assert.equal(percentile(v, 100), 10);
  assert.ok(Number.isNaN(percentile([], 50)));
});
