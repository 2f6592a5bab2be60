import fs from "node:fs"; import os from "node:os"; import path from "node:path";
import { openStore } from "../src/store/store.ts";
import { createLogger } from "../src/ops/logger.ts";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-take-"));
const store = openStore(dir, { logger: createLogger("warn"), sync: "full", records: { maxBytes: 1 << 30 } });
const rec = (i: number) => { const time = Date.now() - 3600000 + i; return { device: `a1BenchProd/meter-${i % 20}`, kind: "properties" as const, time, values: [{ identifier: "Temperature", value: 21.5, time }, { identifier: "Humidity", value: 40 + (i % 7), time }, { identifier: "Pressure", value: 1013.25, time }, { identifier: "Voltage", value: 229.8, time }, { identifier: "Status", value: i % 3, time }] }; };
for (let i = 0; i < 100000; i += 1000) store.records.append(Array.from({ length: 1000 }, (_, k) => rec(i + k)));
store.records.flush();
let cursor = 0, n = 0; const a = performance.now();
for (;;) { const t = store.records.take({ afterSeq: cursor, limit: 20 }); cursor = t.lastSeq; n += t.records.length; for (const r of t.records) store.records.ack(r.seq); if (t.exhausted) break; }
console.log("take+ack", n, (performance.now() - a).toFixed(0), "ms");
const b = performance.now(); store.records.flush(); console.log("flush", (performance.now() - b).toFixed(0));
store.close(); fs.rmSync(dir, { recursive: true });
{
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-take-"));
const store = openStore(dir, { logger: createLogger("warn"), sync: "full", records: { maxBytes: 1 << 30 } });
for (let i = 0; i < 100000; i += 1000) store.records.append(Array.from({ length: 1000 }, (_, k) => rec(i + k)));
store.records.flush();
let cursor = 0, n = 0; const a = performance.now(); const seqs: number[] = [];
for (;;) { const t = store.records.take({ afterSeq: cursor, limit: 20 }); cursor = t.lastSeq; n += t.records.length; for (const r of t.records) seqs.push(r.seq); if (t.exhausted) break; }
console.log("take only", n, (performance.now() - a).toFixed(0), "ms");
const c = performance.now(); for (const s of seqs) store.records.ack(s); console.log("ack only", (performance.now() - c).toFixed(0));
const b = performance.now(); store.records.flush(); console.log("flush", (performance.now() - b).toFixed(0));
const st = (store as any).db ?? null;
store.close(); fs.rmSync(dir, { recursive: true });
}
