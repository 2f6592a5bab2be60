#!/usr/bin/env node
/** fieldbridge command line (operator-interface.md): run, demo, check, status, --version, --help. */
import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { packageVersion } from "./ops/version.js";
import { PLATFORM_NAMES, type PlatformName } from "./cloud/platform.js";
import { loadBootstrapWithWarnings, prepareDataDir, ConfigError, type BootstrapConfig, type ConfigProblem } from "./config/bootstrap/load.js";

const DEFAULT_CONFIG = "/etc/fieldbridge/config.json";


const HELP = `fieldbridge — edge gateway: Modbus RTU/TCP and OPC UA devices to IoT clouds (Alibaba, Tencent, Huawei, Lierda)

Usage:
  fieldbridge run [--config <file>]                         run the daemon in the foreground
  fieldbridge check [--config <file>] [--gateway-config <file>]
                                                            validate a bootstrap config and, optionally, a
                                                            gateway config document, without connecting anywhere
  fieldbridge status [--config <file>]                      ask the running daemon (http.listen of the config) and
                                                            print its status; exit 0 healthy, 1 unhealthy,
                                                            2 daemon not reachable
  fieldbridge scan [--config <file>] --channel <serverId|serial port> [--units 1-247] [--report <productKey>]
                                                            probe the Modbus unit ids of one line (one request at
                                                            a time; --timeout ms, default 500; --gap ms, default 50;
                                                            serial: --baud, --parity) and print which answer and
                                                            how; --report hands them to the running daemon, which
                                                            reports them to the cloud (Alibaba)
  fieldbridge demo [--platform <name>] [--http <host:port>]  everything local: broker, the platform's cloud emulator
                                                            (aliyun, tencent, huawei, lierda; default aliyun),
                                                            Modbus TCP and OPC UA simulators; live data (Ctrl-C stops)
  fieldbridge --version                                     print the version
  fieldbridge --help                                        this text

--config defaults to $FIELDBRIDGE_CONFIG, else ${DEFAULT_CONFIG}.
Exit codes: 0 success; 1 invalid config or fatal error; 2 usage error (status: see above).
`;

interface Args {
  command: string | undefined;
  options: Record<string, string>;
  flags: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const options: Record<string, string> = {};
  const flags = new Set<string>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h" || a === "--version" || a === "-V") flags.add(a);
    else if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) options[a.slice(2, eq)] = a.slice(eq + 1);
      else {
        const v = argv[i + 1];
        if (v === undefined || v.startsWith("--")) throw new UsageError(`option ${a} needs a value`);
        options[a.slice(2)] = v;
        i++;
      }
    } else if (!command) command = a;
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  return { command, options, flags };
}

class UsageError extends Error {}

function configPath(args: Args): string {
  return args.options["config"] ?? process.env["FIELDBRIDGE_CONFIG"] ?? DEFAULT_CONFIG;
}

/** One line for a bootstrap config that cannot be loaded. */
function loadError(file: string, err: unknown): string {
  return err instanceof ConfigError ? `invalid config ${file}: ${err.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}` : (err as Error).message;
}

function allowOnly(args: Args, allowed: string[]): void {
  for (const k of Object.keys(args.options)) if (!allowed.includes(k)) throw new UsageError(`unknown option --${k} for ${args.command}`);
}

async function check(args: Args): Promise<number> {
  allowOnly(args, ["config", "gateway-config"]);
  const file = configPath(args);
  const gwFile = args.options["gateway-config"];
  let bootstrap: BootstrapConfig | undefined;
  let failed = false;
  // With only --gateway-config and no bootstrap file at the default place, the document is checked on its own.
  const explicit = args.options["config"] !== undefined || process.env["FIELDBRIDGE_CONFIG"] !== undefined;
  if (explicit || !gwFile || existsSync(file)) {
    try {
      const loaded = loadBootstrapWithWarnings(file);
      bootstrap = loaded.config;
      process.stdout.write(`${file}: valid bootstrap config for platform ${bootstrap.gateway.platform}\n`);
      for (const w of loaded.warnings) process.stdout.write(`${w.path}: warning: ${w.message}\n`);
      // Printed, not failed: a gateway on a closed plant network may serve its status openly on purpose.
      const { accessWarning } = await import("./ops/access.js");
      const warning = accessWarning(bootstrap.http);
      if (warning) process.stdout.write(`warning: ${warning}\n`);
    } catch (err) {
      failed = true;
      if (err instanceof ConfigError) for (const p of err.problems) process.stdout.write(`${p.path}: ${p.message}\n`);
      else process.stderr.write(`fieldbridge: ${(err as Error).message}\n`);
    }
  }
  if (gwFile) {
    const { checkGatewayConfigFile } = await import("./config/gateway/check.js");
    if (!(await checkGatewayConfigFile(gwFile, bootstrap, process.stdout))) failed = true;
  }
  return failed ? 1 : 0;
}

async function run(args: Args): Promise<number> {
  allowOnly(args, ["config"]);
  const file = configPath(args);
  let cfg: BootstrapConfig;
  let warnings: ConfigProblem[];
  try {
    ({ config: cfg, warnings } = loadBootstrapWithWarnings(file));
    prepareDataDir(cfg.dataDir);
  } catch (err) {
    const msg = loadError(file, err);
    process.stderr.write(`fieldbridge: ${msg}\n`);
    return 1;
  }
  const { runDaemon } = await import("./daemon.js");
  return runDaemon(cfg, warnings);
}

async function status(args: Args): Promise<number> {
  allowOnly(args, ["config"]);
  const file = configPath(args);
  let cfg: BootstrapConfig;
  try {
    cfg = loadBootstrapWithWarnings(file).config;
  } catch (err) {
    const msg = loadError(file, err);
    process.stderr.write(`fieldbridge: ${msg}; cannot tell where the daemon listens\n`);
    return 2;
  }
  const { statusCommand } = await import("./ops/status-command.js");
  return statusCommand(cfg, file, process.stdout, process.stderr);
}

async function scan(args: Args): Promise<number> {
  allowOnly(args, ["config", "channel", "units", "report", "timeout", "gap", "baud", "parity", "name-prefix", "wait"]);
  const o = args.options;
  if (o["channel"] === undefined) throw new UsageError("scan needs --channel <serverId|serial port>");
  const file = configPath(args);
  let cfg: BootstrapConfig;
  try {
    cfg = loadBootstrapWithWarnings(file).config;
  } catch (err) {
    const msg = loadError(file, err);
    process.stderr.write(`fieldbridge: ${msg}\n`);
    return 1;
  }
  const { scanCommand, ScanUsageError } = await import("./ops/scan-command.js");
  try {
    return await scanCommand(cfg, {
      channel: o["channel"], units: o["units"], report: o["report"], timeoutMs: o["timeout"], gapMs: o["gap"],
      baud: o["baud"], parity: o["parity"], namePrefix: o["name-prefix"], waitSeconds: o["wait"],
    }, process.stdout);
  } catch (err) {
    if (err instanceof ScanUsageError) throw new UsageError(err.message);
    throw err;
  }
}

async function demo(args: Args): Promise<number> {
  allowOnly(args, ["http", "data-dir", "platform"]);
  const platform = args.options["platform"] ?? "aliyun";
  if (!(PLATFORM_NAMES as readonly string[]).includes(platform)) throw new UsageError(`--platform must be one of ${PLATFORM_NAMES.join(", ")}`);
  const { worldPlatforms } = await import("./sim/worlds.js");
  if (!worldPlatforms().includes(platform as PlatformName)) {
    process.stderr.write(`fieldbridge: no demo for platform ${platform} in this build (available: ${worldPlatforms().join(", ")})\n`);
    return 1;
  }
  const { runDemo } = await import("./sim/demo.js");
  return runDemo({ http: args.options["http"], dataDir: args.options["data-dir"], platform: platform as PlatformName });
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`fieldbridge: ${(err as Error).message}\n${HELP}`);
    return 2;
  }
  if (args.flags.has("--version") || args.flags.has("-V")) {
    process.stdout.write(`fieldbridge ${packageVersion()}\n`);
    return 0;
  }
  if (args.flags.has("--help") || args.flags.has("-h") || args.command === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    switch (args.command) {
      case "run":
        return await run(args);
      case "check":
        return await check(args);
      case "status":
        return await status(args);
      case "demo":
        return await demo(args);
      case "scan":
        return await scan(args);
      case undefined:
        process.stderr.write(HELP);
        return 2;
      default:
        throw new UsageError(`unknown command "${args.command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fieldbridge: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fieldbridge: fatal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
