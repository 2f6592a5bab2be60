/**
 * systemd notify protocol without a native addon: Node cannot send to a unix datagram socket, so each
 * notification is handed to `systemd-notify` (present wherever systemd runs; the unit sets NotifyAccess=all),
 * falling back to `socat`. Nothing happens when NOTIFY_SOCKET is not set.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import type { Logger } from "pino";

function which(cmd: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "/usr/bin:/bin").split(":")) {
    const p = `${dir}/${cmd}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

export class SystemdNotifier {
  private readonly socket = process.env["NOTIFY_SOCKET"];
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly sender: { cmd: string; args: (msg: string) => string[] } | undefined;
  private warned = false;

  constructor(private readonly logger: Logger) {
    if (!this.socket) return;
    const notify = which("systemd-notify");
    const socat = which("socat");
    if (notify) this.sender = { cmd: notify, args: (msg) => [`--pid=${process.pid}`, ...msg.split("\n")] };
    else if (socat && !this.socket.startsWith("@")) this.sender = { cmd: socat, args: () => ["-", `UNIX-SENDTO:${this.socket}`] };
    else logger.warn("NOTIFY_SOCKET is set but neither systemd-notify nor socat is available; readiness cannot be reported");
  }

  get enabled(): boolean {
    return this.sender !== undefined;
  }

  notify(msg: string): Promise<void> {
    const s = this.sender;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      const child = execFile(s.cmd, s.args(msg), { timeout: 5000 }, (err) => {
        if (err && !this.warned) {
          this.warned = true;
          this.logger.warn({ err: err.message }, "systemd notification failed");
        }
        resolve();
      });
      if (s.cmd.endsWith("socat")) child.stdin?.end(msg);
    });
  }

  ready(): Promise<void> {
    return this.notify("READY=1");
  }

  stopping(): Promise<void> {
    return this.notify("STOPPING=1");
  }

  /** Pings WATCHDOG=1 at half the interval systemd expects (WATCHDOG_USEC), while `healthy()` holds. */
  startWatchdog(healthy: () => boolean): void {
    const usec = Number(process.env["WATCHDOG_USEC"]);
    const pid = process.env["WATCHDOG_PID"];
    if (!this.sender || !Number.isFinite(usec) || usec <= 0 || (pid && Number(pid) !== process.pid)) return;
    const every = Math.max(100, Math.floor(usec / 1000 / 2));
    this.watchdogTimer = setInterval(() => {
      if (healthy()) void this.notify("WATCHDOG=1");
    }, every);
    this.watchdogTimer.unref();
    this.logger.info({ everyMs: every }, "systemd watchdog enabled");
  }

  stop(): void {
    clearInterval(this.watchdogTimer);
  }
}
