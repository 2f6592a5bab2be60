/** What the status endpoint serves for a running gateway: health, /status, /metrics and the status page's view. */
import { health, status } from "./status.js";
import type { GatewayView } from "./view.js";
import type { Metrics } from "../ops/metrics.js";
import { StatusHistory } from "../ops/history.js";
import type { LogRing } from "../ops/log-ring.js";
import type { OpsHandlers } from "../ops/http.js";
import { viewSource } from "../ops/status-view.js";

export interface StatusPage {
  handlers: OpsHandlers;
  history: StatusHistory;
  stop(): void;
}

/** Call after the gateway started: the history reads the parts at once. */
export function statusPage(gw: GatewayView, metrics: Metrics, logs: LogRing, historyIntervalMs = 10_000): StatusPage {
  const history = new StatusHistory({
    outboxDepth: () => gw.outbox().depth,
    valuesReported: () => gw.thingsCounters().reported,
    channels: () => gw.channels().map((s) => ({ serverId: s.serverId, requests: s.requests, errors: s.errors, timeouts: s.timeouts })),
  }, historyIntervalMs);
  history.start();
  const doc = () => status(gw);
  const now = () => ({ t: Date.now(), outboxDepth: gw.outbox().depth, valuesPerSecond: history.valuesPerSecond() });
  return {
    history,
    handlers: {
      health: () => health(gw),
      status: doc,
      metrics: () => metrics.render(),
      // The hour's points and, last, the current one: the chart moves before the first point is taken.
      view: viewSource(doc, () => ({ history: [...history.history(), now()], rates: (id) => history.channelRates(id), logs: logs.records() })),
    },
    stop: () => history.stop(),
  };
}
