/**
 * Runs the operator's install command on a verified firmware file. The command is an argv array from the
 * local bootstrap config with the file path appended; it is started with execFile, never through a shell,
 * so nothing received from the cloud can reach a command line.
 */
import { execFile, type ExecFileException } from "node:child_process";

export interface InstallOptions {
  /** `ota.installCommand`: program and its leading arguments. */
  command: readonly string[];
  file: string;
  timeoutMs: number;
  cwd: string;
}

export type InstallResult = { ok: true } | { ok: false; reason: string; output: string };

/** Keeps the tail of the installer's output for the log: the end usually says what went wrong. */
const OUTPUT_TAIL = 2000;

function tail(text: string): string {
  const t = text.trim();
  return t.length > OUTPUT_TAIL ? `…${t.slice(-OUTPUT_TAIL)}` : t;
}

export function runInstaller(o: InstallOptions): Promise<InstallResult> {
  const [program, ...args] = o.command;
  if (!program) return Promise.resolve({ ok: false, reason: "ota.installCommand is empty", output: "" });
  return new Promise((resolve) => {
    execFile(
      program,
      [...args, o.file],
      { cwd: o.cwd, timeout: o.timeoutMs, killSignal: "SIGKILL", maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (err: ExecFileException | null, stdout: string, stderr: string) => {
        if (!err) return resolve({ ok: true });
        const output = tail(`${stderr}\n${stdout}`);
        let reason: string;
        if (err.killed && err.signal === "SIGKILL") reason = `installer timed out after ${Math.round(o.timeoutMs / 1000)} s`;
        else if (typeof err.code === "number") reason = `installer exited with code ${err.code}`;
        else if (err.signal) reason = `installer ended by signal ${err.signal}`;
        else if (err.code === "ENOENT") reason = `installer ${program} not found`;
        else if (err.code === "EACCES") reason = `installer ${program} is not executable`;
        else reason = `installer could not run (${String(err.code ?? err.message)})`;
        resolve({ ok: false, reason, output });
      },
    );
  });
}
