/**
 * A virtual serial line for RTU tests: socat joins two ptys and links them as `<dir>/server` and
 * `<dir>/client` in a fresh temp dir. `unplug()`/`plugIn()` stop and restart socat on the same paths,
 * which to both ends looks like a USB adapter being pulled and plugged back.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const SOCAT = "/usr/bin/socat";

export interface PtyPair {
  dir: string;
  server: string;
  client: string;
  /** Stops socat: both pty ends vanish. */
  unplug(): Promise<void>;
  /** Starts socat again on the same link paths. */
  plugIn(): Promise<void>;
  /** Stops socat and removes the temp dir. */
  stop(): Promise<void>;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function startPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), "fieldbridge-pty-"));
  const server = join(dir, "server");
  const client = join(dir, "client");
  let child: ChildProcess | undefined;

  const plugIn = async (): Promise<void> => {
    if (child) return;
    const proc = spawn(SOCAT, [`pty,raw,echo=0,link=${server}`, `pty,raw,echo=0,link=${client}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new Error(`socat exited early (${code}): ${stderr.trim()}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitFor(() => existsSync(server) && existsSync(client), 5000, "socat pty links"), exited]);
  };

  const unplug = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    // an unref'd guard: a pending timer must not keep the test process alive after socat is gone
    await Promise.race([gone, sleep(3000, undefined, { ref: false })]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await waitFor(() => !existsSync(server) && !existsSync(client), 3000, "socat pty links to disappear").catch(() => undefined);
  };

  await plugIn();
  return {
    dir,
    server,
    client,
    unplug,
    plugIn,
    stop: async () => {
      await unplug();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
