/**
 * The outbox part of the benchmark on its own (the full suite is `npm run bench`):
 *
 *   node --import tsx test/bench/outbox.bench.ts            prints {"appendFull":…,"appendNormal":…,"replay":…}
 *
 * Environment: BENCH_APPEND (messages per append run, default 100000), BENCH_BACKLOG (default 100000).
 */
import { env } from "./lib/env.js";
import { appendRate, replayRate } from "./scenarios/outbox.js";

const appendFull = await appendRate("full", env.append());
const appendNormal = await appendRate("normal", env.append());
const replay = await replayRate(env.backlog());
console.log(JSON.stringify({ appendFull: Math.round(appendFull), appendNormal: Math.round(appendNormal), replay: Math.round(replay) }));
