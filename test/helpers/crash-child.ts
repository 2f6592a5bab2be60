/**
 * Crash tests run their own file again as a child process (selected by an environment variable), wait for the
 * child's one-line JSON report on stdout, then kill it with SIGKILL and check what survived on disk.
 */
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

/** Spawns `script` under tsx with `env` added, resolves with its first stdout line parsed, then SIGKILLs it. */
export async function runAndKill<T>(t: TestContext, script: string, env: Record<string, string>): Promise<T> {
  const proc = spawn(process.execPath, ["--import", "tsx", script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  });
  let out = "";
  let err = "";
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const report = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child gave no report within 20 s: ${err}`)), 20_000);
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as T);
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code}): ${err}`));
    });
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on("exit", (_code, signal) => resolve(signal)));
  proc.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL");
  return report;
}
