/**
 * The store-and-forward outbox: uplinks wait here, on disk, until the cloud has them.
 *
 * Appends are coalesced into one transaction per short window (or per `maxBatch` items), and so are the deletes
 * that acknowledgements cause, because on flash every commit is an fsync. Delivery state (in flight) lives in
 * memory only: after a crash every stored entry is pending again, and its message id lets the cloud side
 * recognise a duplicate. The limits (size, age) and a refusing disk drop entries; each kind is counted and
 * logged once per episode.
 */
import type { Database, Statement } from "better-sqlite3";
import type { Logger } from "../ops/logger.js";
import { DropEpisode } from "./episode.js";
import type { OutboxEntry, OutboxItem, OutboxOptions, OutboxStats, TakeOptions, TakeResult } from "./outbox-types.js";
import { describeError } from "./sqlite-errors.js";

export type { OutboxEntry, OutboxItem, OutboxOptions, OutboxStats, TakeOptions, TakeResult } from "./outbox-types.js";

interface PendingRow {
  msgId: string;
  topic: string;
  payload: string;
  devices: string;
  createdAt: number;
  sampleTime: number;
  bytes: number;
}

interface Row extends PendingRow {
  seq: number;
}

interface WriteResult {
  lastSeq: number;
  insertedBytes: number;
  deletedCount: number;
  deletedBytes: number;
  evictedCount: number;
  evictedBytes: number;
}

export interface OutboxDeps {
  db: Database;
  logger: Logger;
  now?: () => number;
}

const MiB = 1024 * 1024;
/** A drop episode ends only once the outbox is clearly back under the limit, so a steady state at the limit is one episode. */
const HYSTERESIS = 0.9;

export class Outbox {
  private readonly db: Database;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly batchDelayMs: number;
  private readonly maxBatch: number;
  private readonly writeRetryMs: number;

  private readonly insertStmt: Statement<[string, string, string, string, number, number, number]>;
  private readonly deleteStmt: Statement<[number], { bytes: number }>;
  private readonly rangeStmt: Statement<[number, number, number], Row>;
  private readonly oldestStmt: Statement<[number, number], { seq: number; bytes: number }>;
  private readonly expiredStmt: Statement<[number], { seq: number; bytes: number }>;
  private readonly minSampleStmt: Statement<[], { t: number | null }>;
  private readonly writeTx: (rows: PendingRow[], deletes: number[]) => WriteResult;
  private readonly deleteTx: (seqs: number[]) => { count: number; bytes: number };

  private rowCount = 0;
  private rowBytes = 0;
  private last = 0;
  private pending: PendingRow[] = [];
  private pendingDeletes: number[] = [];
  /** seq → bytes of entries handed to the forwarder. */
  private readonly inFlight = new Map<number, number>();
  /** seq → bytes of acknowledged entries whose delete is not committed yet. */
  private readonly deleting = new Map<number, number>();
  private deletingBytes = 0;
  private blockedUntil = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private readonly expireTimer: NodeJS.Timeout;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  private appended = 0;
  private acked = 0;
  private droppedForSize = 0;
  private droppedForAge = 0;
  private droppedWriteFailed = 0;
  private readonly sizeEpisode: DropEpisode;
  private readonly ageEpisode: DropEpisode;
  private readonly writeEpisode: DropEpisode;
  private lastWriteError: ReturnType<typeof describeError> | undefined;

  constructor(deps: OutboxDeps, options: OutboxOptions = {}) {
    this.db = deps.db;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.maxBytes = positive("maxBytes", options.maxBytes ?? 256 * MiB);
    this.maxAgeMs = positive("maxAgeHours", options.maxAgeHours ?? 24) * 3_600_000;
    this.batchDelayMs = nonNegative("batchDelayMs", options.batchDelayMs ?? 5);
    this.maxBatch = positive("maxBatch", options.maxBatch ?? 500);
    this.writeRetryMs = nonNegative("writeRetryMs", options.writeRetryMs ?? 5_000);
    const expireIntervalMs = positive("expireIntervalMs", options.expireIntervalMs ?? 60_000);

    const db = this.db;
    this.insertStmt = db.prepare(
      "INSERT INTO outbox (msg_id, topic, payload, devices, created_at, sample_time, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.deleteStmt = db.prepare("DELETE FROM outbox WHERE seq = ? RETURNING bytes");
    this.rangeStmt = db.prepare(
      "SELECT seq, msg_id AS msgId, topic, payload, devices, created_at AS createdAt, sample_time AS sampleTime, bytes " +
        "FROM outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
    );
    this.oldestStmt = db.prepare("SELECT seq, bytes FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    this.expiredStmt = db.prepare("SELECT seq, bytes FROM outbox WHERE sample_time < ? ORDER BY seq");
    this.minSampleStmt = db.prepare("SELECT min(sample_time) AS t FROM outbox");
    this.writeTx = db.transaction((rows: PendingRow[], deletes: number[]) => this.write(rows, deletes));
    this.deleteTx = db.transaction((seqs: number[]) => this.deleteRows(seqs));

    const totals = db.prepare("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b, coalesce(max(seq), 0) AS last FROM outbox").get() as {
      n: number;
      b: number;
      last: number;
    };
    this.rowCount = totals.n;
    this.rowBytes = totals.b;
    this.last = totals.last;

    this.sizeEpisode = new DropEpisode({
      started: (n) => this.log.warn({ maxBytes: this.maxBytes, dropped: n }, "outbox reached its size limit: dropping the oldest entries"),
      ended: (n) => this.log.info({ maxBytes: this.maxBytes, dropped: n }, "outbox back under its size limit: stopped dropping"),
    });
    this.ageEpisode = new DropEpisode({
      started: (n) => this.log.warn({ maxAgeHours: this.maxAgeMs / 3_600_000, dropped: n }, "outbox entries exceed the age limit: dropping them"),
      ended: (n) => this.log.info({ maxAgeHours: this.maxAgeMs / 3_600_000, dropped: n }, "outbox back within its age limit: stopped dropping"),
    });
    this.writeEpisode = new DropEpisode({
      started: (n) =>
        this.log.error({ reason: this.lastWriteError, dropped: n }, "outbox cannot write (disk full, read-only or failing): dropping new entries until writes work again"),
      ended: (n) => this.log.info({ dropped: n }, "outbox writes work again"),
    });

    this.expire();
    this.expireTimer = setInterval(() => this.expire(), expireIntervalMs);
    this.expireTimer.unref();
  }

  /**
   * Queues entries; they are committed with the current batch (see `flush`). A malformed item throws here, before
   * anything is queued, so that it cannot fail a batch of good ones.
   */
  append(items: readonly OutboxItem[]): void {
    if (this.closed) throw new Error("outbox is closed");
    if (items.length === 0) return;
    for (const it of items) checkItem(it);
    const now = this.now();
    if (this.blockedUntil > now) {
      this.droppedWriteFailed += items.length;
      this.writeEpisode.record(items.length, now);
      return;
    }
    for (const it of items) {
      this.pending.push({
        msgId: it.msgId,
        topic: it.topic,
        payload: it.payload,
        devices: JSON.stringify(it.devices),
        createdAt: now,
        sampleTime: it.sampleTime,
        bytes: Buffer.byteLength(it.topic) + Buffer.byteLength(it.payload),
      });
    }
    if (this.pending.length >= this.maxBatch) this.commit();
    else this.scheduleCommit();
  }

  /** Commits queued appends and deletes now (shutdown, tests). */
  flush(): void {
    if (!this.closed) this.commit();
  }

  /** The oldest entries in the range that are not in flight and pass `accept`, marked in flight. */
  take(o: TakeOptions): TakeResult {
    const entries: OutboxEntry[] = [];
    let cursor = o.afterSeq ?? 0;
    if (this.closed || o.limit <= 0) return { entries, lastSeq: cursor, exhausted: false };
    const maxSeq = o.maxSeq ?? Number.MAX_SAFE_INTEGER;
    const scanLimit = o.scanLimit ?? 2_000;
    const chunk = Math.min(256, Math.max(32, o.limit * 2));
    let scanned = 0;
    while (entries.length < o.limit && scanned < scanLimit) {
      const rows = this.rangeStmt.all(cursor, maxSeq, Math.min(chunk, scanLimit - scanned));
      if (rows.length === 0) return { entries, lastSeq: cursor, exhausted: true };
      for (const r of rows) {
        scanned++;
        cursor = r.seq;
        if (this.inFlight.has(r.seq) || this.deleting.has(r.seq)) continue;
        const devices = JSON.parse(r.devices) as string[];
        if (o.accept && !o.accept(devices)) continue;
        this.inFlight.set(r.seq, r.bytes);
        entries.push({ ...r, devices });
        if (entries.length >= o.limit) break;
      }
    }
    return { entries, lastSeq: cursor, exhausted: cursor >= maxSeq };
  }

  /** Delivered: the entry is deleted with the next batch. */
  ack(seq: number): void {
    if (this.closed || this.deleting.has(seq)) return;
    const bytes = this.inFlight.get(seq) ?? 0;
    this.inFlight.delete(seq);
    this.deleting.set(seq, bytes);
    this.deletingBytes += bytes;
    this.pendingDeletes.push(seq);
    this.acked++;
    this.scheduleCommit();
  }

  /** Not delivered (the connection dropped before the acknowledgement): pending again, same seq and message id. */
  release(seq: number): void {
    this.inFlight.delete(seq);
  }

  /** Highest committed seq (0 when nothing was ever stored). */
  get lastSeq(): number {
    return this.last;
  }

  /** Called after each commit that stored new entries. Returns the unsubscribe function. */
  onAppended(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies the age limit now (also runs on a timer). Returns how many entries were dropped. */
  expire(): number {
    if (this.closed) return 0;
    const now = this.now();
    let dropped = 0;
    try {
      const victims = this.expiredStmt.all(now - this.maxAgeMs).filter((r) => !this.inFlight.has(r.seq) && !this.deleting.has(r.seq));
      for (let i = 0; i < victims.length; i += 1_000) {
        // Chunked so that a long outage's worth of expiry does not hold one huge transaction.
        const r = this.deleteTx(victims.slice(i, i + 1_000).map((v) => v.seq));
        this.rowCount -= r.count;
        this.rowBytes -= r.bytes;
        dropped += r.count;
      }
    } catch (err) {
      this.writeFailed(err, 0, now);
    }
    if (dropped > 0) {
      this.droppedForAge += dropped;
      this.ageEpisode.record(dropped, now);
    }
    if (this.ageEpisode.active) {
      const oldest = this.minSampleStmt.get()?.t ?? null;
      if (oldest === null || now - oldest <= this.maxAgeMs * HYSTERESIS) this.ageEpisode.end();
    }
    this.checkSizeEpisode();
    return dropped;
  }

  stats(): OutboxStats {
    const oldest = this.closed ? null : (this.minSampleStmt.get()?.t ?? null);
    return {
      depth: this.rowCount - this.deleting.size,
      bytes: this.rowBytes - this.deletingBytes,
      oldestAgeMs: oldest === null ? 0 : Math.max(0, this.now() - oldest),
      inFlight: this.inFlight.size,
      pendingWrites: this.pending.length,
      appended: this.appended,
      acked: this.acked,
      droppedForSize: this.droppedForSize,
      droppedForAge: this.droppedForAge,
      droppedWriteFailed: this.droppedWriteFailed,
      writable: !this.writeEpisode.active,
    };
  }

  /** Commits what is queued and stops the timers; the database itself is closed by its owner. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.expireTimer);
    this.commit();
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.closed = true;
    this.listeners.clear();
  }

  private scheduleCommit(): void {
    if (this.batchTimer || this.closed) return;
    const wait = Math.max(this.batchDelayMs, this.blockedUntil - this.now());
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      this.commit();
    }, wait);
  }

  private commit(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.pending.length === 0 && this.pendingDeletes.length === 0) return;
    const rows = this.pending;
    const deletes = this.pendingDeletes;
    this.pending = [];
    this.pendingDeletes = [];
    const now = this.now();
    let r: WriteResult;
    try {
      r = this.writeTx(rows, deletes);
    } catch (err) {
      // Deletes free space and stop duplicates; try them on their own before giving up on the batch.
      let deletesDone = false;
      if (deletes.length > 0) {
        try {
          this.settleDeletes(deletes, this.deleteTx(deletes));
          deletesDone = true;
        } catch {
          this.pendingDeletes = deletes.concat(this.pendingDeletes);
        }
      }
      if (rows.length > 0 || !deletesDone) this.writeFailed(err, rows.length, now);
      if (this.pendingDeletes.length > 0) this.scheduleCommit();
      return;
    }
    this.settleDeletes(deletes, { count: r.deletedCount, bytes: r.deletedBytes });
    this.rowCount += rows.length - r.evictedCount;
    this.rowBytes += r.insertedBytes - r.evictedBytes;
    this.last = r.lastSeq;
    this.appended += rows.length;
    if (rows.length > 0) {
      // Only a stored append proves the disk takes new data again; deletes alone may fit into freed pages.
      this.blockedUntil = 0;
      this.writeEpisode.end();
    }
    if (r.evictedCount > 0) {
      this.droppedForSize += r.evictedCount;
      this.sizeEpisode.record(r.evictedCount, now);
    }
    this.checkSizeEpisode();
    if (rows.length > 0) for (const l of this.listeners) l();
  }

  /** Runs inside the write transaction. */
  private write(rows: PendingRow[], deletes: number[]): WriteResult {
    let lastSeq = this.last;
    let insertedBytes = 0;
    for (const p of rows) {
      lastSeq = Number(this.insertStmt.run(p.msgId, p.topic, p.payload, p.devices, p.createdAt, p.sampleTime, p.bytes).lastInsertRowid);
      insertedBytes += p.bytes;
    }
    const d = this.deleteRows(deletes);
    const excess = this.rowBytes + insertedBytes - d.bytes - this.maxBytes;
    const e = excess > 0 ? this.evict(excess) : { count: 0, bytes: 0 };
    return { lastSeq, insertedBytes, deletedCount: d.count, deletedBytes: d.bytes, evictedCount: e.count, evictedBytes: e.bytes };
  }

  private deleteRows(seqs: number[]): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const seq of seqs) {
      const row = this.deleteStmt.get(seq);
      if (row) {
        count++;
        bytes += row.bytes;
      }
    }
    return { count, bytes };
  }

  /** Drops the oldest entries that are not in flight until `excess` bytes are freed (inside the write transaction). */
  private evict(excess: number): { count: number; bytes: number } {
    let after = 0;
    let count = 0;
    let bytes = 0;
    while (bytes < excess) {
      const rows = this.oldestStmt.all(after, 256);
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.seq;
        if (this.inFlight.has(r.seq) || this.deleting.has(r.seq)) continue;
        this.deleteStmt.get(r.seq);
        count++;
        bytes += r.bytes;
        if (bytes >= excess) break;
      }
    }
    return { count, bytes };
  }

  private settleDeletes(seqs: number[], done: { count: number; bytes: number }): void {
    for (const seq of seqs) {
      this.deletingBytes -= this.deleting.get(seq) ?? 0;
      this.deleting.delete(seq);
    }
    this.rowCount -= done.count;
    this.rowBytes -= done.bytes;
  }

  private writeFailed(err: unknown, dropped: number, now: number): void {
    this.lastWriteError = describeError(err);
    this.droppedWriteFailed += dropped;
    this.blockedUntil = now + this.writeRetryMs;
    this.writeEpisode.record(dropped, now);
  }

  private checkSizeEpisode(): void {
    if (this.sizeEpisode.active && this.rowBytes <= this.maxBytes * HYSTERESIS) this.sizeEpisode.end();
  }
}

function checkItem(it: OutboxItem): void {
  const ok =
    typeof it.topic === "string" &&
    it.topic.length > 0 &&
    typeof it.payload === "string" &&
    typeof it.msgId === "string" &&
    Array.isArray(it.devices) &&
    it.devices.every((d) => typeof d === "string") &&
    Number.isFinite(it.sampleTime);
  if (!ok) throw new TypeError(`invalid outbox item (topic ${String(it.topic)}, msgId ${String(it.msgId)})`);
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`outbox option ${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new Error(`outbox option ${name} must be a non-negative number, got ${v}`);
  return v;
}
