/** `fieldbridge run`: the daemon in the foreground, with signals, systemd notify and the status endpoint. */
import type { BootstrapConfig, ConfigProblem } from "./config/bootstrap/load.js";
import { createLogger } from "./ops/logger.js";
import { OpsServer } from "./ops/http.js";
import { SystemdNotifier } from "./ops/systemd.js";
import { Gateway } from "./core/gateway.js";
import { statusPage } from "./core/status-page.js";
import { LogRing } from "./ops/log-ring.js";
import { accessWarning } from "./ops/access.js";

/** Runs until SIGTERM/SIGINT; resolves with the exit code. A second signal exits at once. */
export async function runDaemon(cfg: BootstrapConfig, configWarnings: ConfigProblem[] = []): Promise<number> {
  // The last warnings and errors, for the status page.
  const logRing = new LogRing(50);
  const logger = createLogger(cfg.log.level, undefined, logRing);
  for (const w of configWarnings) logger.warn({ key: w.path }, `bootstrap config: ${w.message}`);
  const notifier = new SystemdNotifier(logger);
  const gw = new Gateway(cfg, logger);
  let ops: OpsServer | undefined;
  let stopping = false;

  const done = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, "second signal; exiting at once");
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, "shutting down");
      // Hard limit: whatever happens, exit within 10 s.
      setTimeout(() => {
        logger.error("shutdown took too long; exiting");
        process.exit(1);
      }, 9500).unref();
      const t0 = Date.now();
      void (async () => {
        await notifier.stopping();
        notifier.stop();
        // An open page's event stream must not hold the stop: the status endpoint gets half a second.
        await Promise.race([ops?.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
        // The gateway's steps get 8 s from the signal, less what the above took: 1.5 s stay for what cannot be
        // raced (the last commit, closing the database).
        await gw.stop(Math.max(1000, 8000 - (Date.now() - t0)));
        resolve(0);
      })();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });

  process.on("unhandledRejection", (reason) => {
    logger.error({ err: (reason as Error)?.message ?? String(reason) }, "unhandled rejection (daemon keeps running)");
  });

  try {
    await gw.start(() => void notifier.ready());
  } catch (err) {
    process.stderr.write(`fieldbridge: ${(err as Error).message}\n`);
    await gw.stop(3000).catch(() => undefined);
    return 1;
  }
  notifier.startWatchdog(() => gw.cloud !== undefined);
  if (cfg.http.listen) {
    const warning = accessWarning(cfg.http);
    if (warning) logger.warn({ listen: cfg.http.listen }, warning);
    ops = new OpsServer(cfg.http.listen, statusPage(gw, gw.metrics, logRing).handlers, logger, { token: cfg.http.token });
    try {
      await ops.start();
    } catch (err) {
      logger.error({ listen: cfg.http.listen, err: (err as Error).message }, "status endpoint could not listen; continuing without it");
      ops = undefined;
    }
  }
  return done;
}
