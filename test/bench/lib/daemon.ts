/**
 * A benchmarked daemon: the shipped `node dist/cli.js run --config …`, optionally with the in-process probe
 * (probe.mjs) preloaded, its log written to a file, and its /metrics endpoint read over HTTP.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const BUILT_CLI = path.join(ROOT, "dist", "cli.js");
/** The CLI the daemons run: run.ts points BENCH_CLI at its snapshot of dist/, else the build itself. */
export const CLI = process.env["BENCH_CLI"] ?? BUILT_CLI;
const PROBE = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "probe.mjs")).href;

/** Daemons still running; a benchmark process that dies must not leave one behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface ProbeReport {
  wallMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  rss: number;
  rssPeak: number;
  rssMean: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  lagMs: { p50: number | null; p99: number | null; max: number | null; mean: number | null };
}

/** Share of one core, in percent, over the report's window. */
export function cpuPercent(r: ProbeReport): number {
  return ((r.cpuUserUs + r.cpuSystemUs) / 1000 / r.wallMs) * 100;
}

export interface DaemonOptions {
  configFile: string;
  logFile: string;
  /** Preload the probe and open an IPC channel to it. */
  probe?: boolean;
  /** Port of the daemon's status endpoint (`http.listen` in its config), for `metrics()`. */
  httpPort?: number;
}

export interface LogSummary {
  lines: number;
  warnings: number;
  errors: number;
  /** Lines that are not JSON log entries (Node's own warnings on stderr; anything else also counts as an error). */
  other: number;
  /** The first few distinct warning/error messages. */
  first: string[];
}

export class BenchDaemon {
  readonly child: ChildProcess;
  /** Date.now() and performance.now() just before the spawn. */
  readonly spawnedAt: number;
  readonly spawnedAtPerf: number;
  private readonly logFd: number;
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private seq = 0;
  private readonly waiting = new Map<number, (r: ProbeReport) => void>();

  constructor(private readonly o: DaemonOptions) {
    this.logFd = fs.openSync(o.logFile, "a");
    // BENCH_DAEMON_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", goes to the daemon's node only.
    // The daemon runs with the node options of the shipped systemd unit (its heap cap), unless overridden.
    const nodeArgs = (process.env["BENCH_DAEMON_NODE_ARGS"] ?? unitNodeOptions()).split(" ").filter(Boolean);
    const args = [...nodeArgs, ...(o.probe ? ["--import", PROBE] : []), CLI, "run", "--config", o.configFile];
    this.spawnedAt = Date.now();
    this.spawnedAtPerf = performance.now();
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, FIELDBRIDGE_CONFIG: undefined, NOTIFY_SOCKET: undefined },
      stdio: ["ignore", this.logFd, this.logFd, ...(o.probe ? (["ipc"] as const) : [])],
    });
    this.exit = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.child.on("message", (m: { probe?: boolean; id?: number; report?: ProbeReport }) => {
      if (m?.probe && typeof m.id === "number" && m.report) {
        this.waiting.get(m.id)?.(m.report);
        this.waiting.delete(m.id);
      }
    });
    live.add(this.child);
    this.child.once("exit", () => live.delete(this.child));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts a new measurement window in the daemon ("mark") or reads the current one ("read"). */
  probe(cmd: "mark" | "read", timeoutMs = 10_000): Promise<ProbeReport> {
    if (!this.o.probe) return Promise.reject(new Error("daemon started without the probe"));
    const id = ++this.seq;
    return new Promise<ProbeReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`probe ${cmd} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.send({ probe: true, id, cmd });
    });
  }

  /** The daemon's /metrics, summed over labels: name → value. */
  async metrics(timeoutMs = 10_000): Promise<Map<string, number>> {
    if (!this.o.httpPort) throw new Error("daemon has no status endpoint configured");
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port: this.o.httpPort, path: "/metrics", timeout: timeoutMs }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      });
      req.on("timeout", () => req.destroy(new Error("/metrics timed out")));
      req.on("error", reject);
    });
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[3]));
    }
    return out;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit and how long the shutdown took. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = performance.now();
    if (this.running) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
      const r = await this.exit;
      clearTimeout(timer);
      fs.closeSync(this.logFd);
      return { ...r, ms: performance.now() - t0 };
    }
    const r = await this.exit;
    fs.closeSync(this.logFd);
    return { ...r, ms: 0 };
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }

  /** Counts warnings and errors in the daemon's log (JSON lines). */
  logSummary(): LogSummary {
    const text = fs.existsSync(this.o.logFile) ? fs.readFileSync(this.o.logFile, "utf8") : "";
    const summary: LogSummary = { lines: 0, warnings: 0, errors: 0, other: 0, first: [] };
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      summary.lines++;
      let entry: { level?: string; msg?: string } | undefined;
      try {
        entry = JSON.parse(line) as { level?: string; msg?: string };
      } catch {
        // Not a log entry: Node's own warnings ("(node:PID) …Warning: …" and its "(Use `node --trace-…" hint),
        // or anything else written to stderr.
        summary.other++;
        const nodeWarning = /^\(node:\d+\) \[?\w*\]? ?\w*Warning|^\(Use `node --trace-/.test(line);
        if (/^\(Use `node --trace-/.test(line)) continue;
        entry = { level: nodeWarning ? "node" : "stderr", msg: line.replace(/^\(node:\d+\) /, "").slice(0, 200) };
      }
      if (entry.level === "warn") summary.warnings++;
      else if (entry.level === "error" || entry.level === "fatal" || entry.level === "stderr") summary.errors++;
      else if (entry.level !== "node") continue;
      const text = `${entry.level}: ${entry.msg ?? ""}`;
      if (summary.first.length < 5 && !summary.first.includes(text)) summary.first.push(text);
    }
    return summary;
  }

  /** The last `n` log messages as "level component msg", for error reports. */
  logTail(n: number): string[] {
    const text = fs.existsSync(this.o.logFile) ? fs.readFileSync(this.o.logFile, "utf8") : "";
    return text
      .split("\n")
      .filter((l) => l.trim())
      .slice(-n)
      .map((line) => {
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          const ctx = e["device"] ?? e["channel"] ?? e["serverId"] ?? "";
          return `${String(e["level"])} ${String(e["component"] ?? "")} ${String(e["msg"])} ${String(ctx)}`.trim();
        } catch {
          return line.slice(0, 200);
        }
      });
  }

  /** The last log line with this message, parsed (for timestamps); the log file may hold earlier runs. */
  findLog(msg: string): Record<string, unknown> | undefined {
    const text = fs.existsSync(this.o.logFile) ? fs.readFileSync(this.o.logFile, "utf8") : "";
    for (const line of text.split("\n").reverse()) {
      if (!line.includes(msg)) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry["msg"] === msg) return entry;
      } catch {
        /* not a log line */
      }
    }
    return undefined;
  }
}

/** The node options of `systemd/fieldbridge.service`, as installed: NODE_OPTIONS and the flags before the script in ExecStart. */
export function unitNodeOptions(): string {
  const unit = fs.readFileSync(path.join(ROOT, "systemd", "fieldbridge.service"), "utf8");
  // Environment=NODE_OPTIONS=… or, with spaces in the value, Environment="NODE_OPTIONS=…"
  const m = /^Environment=(?:"NODE_OPTIONS=([^"]*)"|NODE_OPTIONS=(.*))$/m.exec(unit);
  const env = (m?.[1] ?? m?.[2] ?? "").trim();
  // ExecStart=/usr/bin/node --flag … /opt/fieldbridge/dist/cli.js run …
  const exec = /^ExecStart=\S+((?: --\S+)*) \S+cli\.js /m.exec(unit);
  return `${env} ${(exec?.[1] ?? "").trim()}`.trim();
}
