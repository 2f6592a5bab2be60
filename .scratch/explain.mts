import Database from "better-sqlite3";
const db = new Database(":memory:");
db.exec(`CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, kind TEXT NOT NULL, sample_time INTEGER NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX records_sample_time ON records (sample_time); CREATE INDEX records_device ON records (device, seq);`);
for (const q of ["SELECT seq FROM records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?", "SELECT seq FROM records WHERE device = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"]) console.log(q, db.prepare("EXPLAIN QUERY PLAN " + q).all(...(q.includes("device") ? ["x", 1, 2, 3] : [1, 2, 3])).map((r: any) => r.detail));
