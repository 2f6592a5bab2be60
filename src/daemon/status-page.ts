/** What the status endpoint serves for a running gateway: health, /status, /metrics and the status page's view. */
import type { Gateway } from "./gateway.js";
import { health, status } from "./status.js";
import { StatusHistory } from "../ops/history.js";
import type { LogRing } from "../ops/log-ring.js";
import type { OpsHandlers } from "../ops/http.js";
import { viewSource } from "../ops/status-view.js";

export interface StatusPage {
  handlers: OpsHandlers;
  history: StatusHistory;
  stop(): void;
}

/** Call after `gw.start()`: the history reads the parts at once. */
export function statusPage(gw: Gateway, unhealthyAfterMs: number, logs: LogRing, historyIntervalMs = 10_000): StatusPage {
  const history = new StatusHistory({
    outboxDepth: () => gw.store.outbox.stats().depth,
    valuesReported: () => gw.things.report.counters().reported,
    channels: () => gw.field.stats().map((s) => ({ serverId: s.serverId, requests: s.requests, errors: s.errors, timeouts: s.timeouts })),
  }, historyIntervalMs);
  history.start();
  const doc = () => status(gw);
  const now = () => ({ t: Date.now(), outboxDepth: gw.store.outbox.stats().depth, valuesPerSecond: history.valuesPerSecond() });
  return {
    history,
    handlers: {
      health: () => health(gw, unhealthyAfterMs),
      status: doc,
      metrics: () => gw.metrics.render(),
      // The hour's points and, last, the current one: the chart moves before the first point is taken.
      view: viewSource(doc, () => ({ history: [...history.history(), now()], rates: (id) => history.channelRates(id), logs: logs.records() })),
    },
    stop: () => history.stop(),
  };
}
