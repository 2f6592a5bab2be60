import fs from "node:fs"; import os from "node:os"; import path from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { openStore } from "../src/store/store.ts";
import { createLogger } from "../src/ops/logger.ts";
const drop = process.argv[2] ?? "";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fb-app-"));
const store = openStore(dir, { logger: createLogger("warn"), sync: "full", records: { maxBytes: 1 << 30 } });
const db = (store as any).db;
for (const ix of drop.split(",").filter(Boolean)) db.exec(`DROP INDEX ${ix}`);
const rec = (i: number) => { const time = Date.now() - 3600000 + i; return { device: `a1BenchProd/meter-${i % 20}`, kind: "properties" as const, time, values: [{ identifier: "Temperature", value: 21.5, time }, { identifier: "Humidity", value: 40 + (i % 7), time }, { identifier: "Pressure", value: 1013.25, time }, { identifier: "Voltage", value: 229.8, time }, { identifier: "Status", value: i % 3, time }] }; };
const items = Array.from({ length: 100000 }, (_, i) => rec(i));
const a = performance.now();
for (let i = 0; i < items.length; i++) { store.records.append([items[i]!]); if (i % 100 === 99) await yieldToLoop(); }
store.records.flush();
console.log(drop || "all indexes", Math.round(100000 / ((performance.now() - a) / 1000)));
store.close(); fs.rmSync(dir, { recursive: true });
