/**
 * systemd notify protocol without a native addon: Node cannot send to a unix datagram socket, so each
 * notification is handed to `systemd-notify` (present wherever systemd runs; the unit sets NotifyAccess=all),
 * falling back to `socat`. Nothing happens when NOTIFY_SOCKET is not set.
 *
 * systemd-notify (v246+) waits until the service manager has read the message, so the message is attributed
 * to the unit even though its sender exits right away; socat has no such wait and is only a fallback.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import type { Logger } from "pino";

interface Sender {
  kind: "systemd-notify" | "socat";
  cmd: string;
  args(msg: string): string[];
  /** socat reads the datagram from stdin. */
  stdin: boolean;
}

function which(cmd: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? "/usr/bin:/bin").split(":")) {
    if (!dir) continue;
    const p = `${dir}/${cmd}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export class SystemdNotifier {
  private readonly socket: string | undefined;
  private readonly watchdogUsec: number;
  private readonly watchdogPid: number | undefined;
  private readonly sender: Sender | undefined;
  private readonly childEnv: NodeJS.ProcessEnv;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private watchdogBusy = false;
  private warned = false;

  /**
   * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` and removes them from it, so that programs
   * the daemon starts later (an OTA install command, …) cannot send notifications in the daemon's name.
   */
  constructor(private readonly logger: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.socket = env["NOTIFY_SOCKET"] || undefined;
    this.watchdogUsec = Number(env["WATCHDOG_USEC"]);
    this.watchdogPid = env["WATCHDOG_PID"] ? Number(env["WATCHDOG_PID"]) : undefined;
    delete env["NOTIFY_SOCKET"];
    delete env["WATCHDOG_USEC"];
    delete env["WATCHDOG_PID"];
    this.childEnv = { ...env };
    if (!this.socket) return;
    this.childEnv["NOTIFY_SOCKET"] = this.socket;
    const notify = which("systemd-notify", env["PATH"]);
    const socat = which("socat", env["PATH"]);
    if (notify) {
      // --pid: the message speaks for the daemon (MAINPID=), not for the short-lived helper.
      this.sender = { kind: "systemd-notify", cmd: notify, args: (msg) => [`--pid=${process.pid}`, ...msg.split("\n")], stdin: false };
    } else if (socat) {
      // An abstract socket name starts with "@" in NOTIFY_SOCKET. socat lingers for its half-close timeout
      // (-t) after sending: the service manager finds the unit of a message by the sender's pid, which must
      // still exist when the message is read.
      const address = this.socket.startsWith("@") ? `ABSTRACT-SENDTO:${this.socket.slice(1)}` : `UNIX-SENDTO:${this.socket}`;
      this.sender = { kind: "socat", cmd: socat, args: () => ["-t", "0.3", "-", address], stdin: true };
    } else {
      logger.warn("NOTIFY_SOCKET is set but neither systemd-notify nor socat is available; readiness cannot be reported");
    }
  }

  get enabled(): boolean {
    return this.sender !== undefined;
  }

  /** Which helper carries the notifications, if any. */
  get via(): Sender["kind"] | undefined {
    return this.sender?.kind;
  }

  /** Sends one notification (`KEY=value` lines). Never rejects; the first failure is logged once. */
  notify(msg: string): Promise<void> {
    const s = this.sender;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      const child = execFile(s.cmd, s.args(msg), { timeout: 5000, env: this.childEnv }, (err) => {
        if (err && !this.warned) {
          this.warned = true;
          this.logger.warn({ via: s.kind, err: err.message }, "systemd notification failed");
        }
        resolve();
      });
      if (s.stdin) child.stdin?.end(msg);
      else child.stdin?.end();
    });
  }

  ready(): Promise<void> {
    return this.notify("READY=1");
  }

  stopping(): Promise<void> {
    return this.notify("STOPPING=1");
  }

  /** A one-line status shown by `systemctl status`. */
  status(text: string): Promise<void> {
    return this.notify(`STATUS=${text.replace(/\n/g, " ")}`);
  }

  /**
   * Pings WATCHDOG=1 at half the interval systemd expects (WATCHDOG_USEC) while `healthy()` holds. The ping comes
   * from a timer, so a blocked event loop stops it and systemd restarts the service.
   */
  startWatchdog(healthy: () => boolean): void {
    const usec = this.watchdogUsec;
    if (!this.sender || !Number.isFinite(usec) || usec <= 0) return;
    if (this.watchdogPid !== undefined && this.watchdogPid !== process.pid) return;
    if (this.watchdogTimer) return;
    const every = Math.max(100, Math.floor(usec / 1000 / 2));
    this.watchdogTimer = setInterval(() => {
      // One ping at a time: a helper that hangs must not pile up processes.
      if (this.watchdogBusy || !healthy()) return;
      this.watchdogBusy = true;
      void this.notify("WATCHDOG=1").finally(() => (this.watchdogBusy = false));
    }, every);
    this.watchdogTimer.unref();
    this.logger.info({ everyMs: every, via: this.sender.kind }, "systemd watchdog enabled");
  }

  stop(): void {
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }
}
