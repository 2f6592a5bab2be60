import Database from "better-sqlite3";
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
const f = path.join(os.tmpdir(), "raw-" + process.pid + ".db");
const db = new Database(f); db.pragma("journal_mode = WAL");
db.exec(`CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, kind TEXT NOT NULL, sample_time INTEGER NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX records_sample_time ON records (sample_time); CREATE INDEX records_device ON records (device, seq);`);
const body = JSON.stringify([["Temperature",21.5,1],["Humidity",41,1],["Pressure",1013.25,1],["Voltage",229.8,1],["Status",1,1]]);
const ins = db.prepare("INSERT INTO records (device, kind, sample_time, body, created_at, bytes) VALUES (?, ?, ?, ?, ?, ?)");
db.transaction(() => { for (let i = 0; i < 100000; i++) ins.run("a1BenchProd/meter-" + (i % 20), "properties", Date.now() + i, body, Date.now(), 300); })();
const st = db.prepare("SELECT seq, device, kind, sample_time AS time, body, attempts, bytes FROM records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?");
let a = performance.now(); let cur = 0, n = 0;
for (;;) { const rows = st.all(cur, 1e15, 20) as any[]; if (!rows.length) break; cur = rows[rows.length - 1].seq; n += rows.length; }
console.log("select 20s", n, (performance.now() - a).toFixed(0));
a = performance.now(); cur = 0; n = 0;
for (;;) { const rows = st.all(cur, 1e15, 20) as any[]; if (!rows.length) break; cur = rows[rows.length - 1].seq; n += rows.length; for (const r of rows) JSON.parse(r.body); }
console.log("select+parse", n, (performance.now() - a).toFixed(0));
const st2 = db.prepare("SELECT seq, device, kind, sample_time AS time, body, attempts, bytes FROM records WHERE seq > ? ORDER BY seq LIMIT ?");
a = performance.now(); cur = 0; n = 0;
for (;;) { const rows = st2.all(cur, 20) as any[]; if (!rows.length) break; cur = rows[rows.length - 1].seq; n += rows.length; }
console.log("select no max", n, (performance.now() - a).toFixed(0));
const st3 = st.raw(true);
a = performance.now(); cur = 0; n = 0;
for (;;) { const rows = st3.all(cur, 1e15, 20) as any[]; if (!rows.length) break; cur = rows[rows.length - 1][0]; n += rows.length; }
console.log("select raw", n, (performance.now() - a).toFixed(0));
db.close(); fs.rmSync(f); fs.rmSync(f + "-wal", { force: true }); fs.rmSync(f + "-shm", { force: true });
