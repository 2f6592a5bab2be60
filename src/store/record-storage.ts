/**
 * The `records` table and its batched writes. Appends, deletes and attempt counts are coalesced into one transaction
 * per short window (or per `maxBatch` records), because on flash every commit is an fsync. The size and age limits
 * and a refusing disk drop records here; each kind is counted and logged once per episode. Which records are in
 * flight is the outbox's business: it tells this part through `busy(seq)`, and busy records are never evicted.
 */
import type { Database, Statement } from "better-sqlite3";
import type { DeviceKey } from "../cloud/platform.js";
import type { Logger } from "../ops/logger.js";
import { DropEpisode } from "./episode.js";
import type { EncodedRecord } from "./record-codec.js";
import type { RecordOutboxOptions } from "./records-types.js";
import { describeError } from "./sqlite-errors.js";

type SeqBytes = { seq: number; bytes: number };
type Counted = { count: number; bytes: number };

const MiB = 1024 * 1024;
/** A drop episode ends only once the outbox is clearly back under the limit, so a steady state at the limit is one episode. */
const HYSTERESIS = 0.9;

export class RecordStorage {
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly batchDelayMs: number;
  private readonly settleDelayMs: number;
  private readonly maxBatch: number;
  private readonly writeRetryMs: number;

  private readonly insertStmt: Statement<[string, string, number, string, number, number]>;
  private readonly deleteStmt: Statement<[number], { bytes: number }>;
  /** Deletes a run of consecutive seqs; plucked: the bytes of each row deleted. */
  private readonly deleteRangeStmt: Statement<[number, number], number>;
  private readonly attemptsStmt: Statement<[number, number]>;
  private readonly oldestStmt: Statement<[number, number], SeqBytes>;
  private readonly expiredStmt: Statement<[number], SeqBytes>;
  private readonly minSampleStmt: Statement<[], { t: number | null }>;
  private readonly writeTx: (rows: EncodedRecord[], deletes: number[], attempts: Map<number, number>) => { lastSeq: number; inserted: number; deleted: Counted; evicted: Counted };
  private readonly deleteTx: (seqs: number[]) => Counted;

  private rowCount = 0;
  private rowBytes = 0;
  private last = 0;
  private pending: EncodedRecord[] = [];
  private pendingDeletes: number[] = [];
  /** Attempt counts not committed yet (seq → attempts). */
  private attemptUpdates = new Map<number, number>();
  /** Records whose delete is not committed yet. */
  readonly deleting = new Map<number, { bytes: number; device: DeviceKey }>();
  private deletingBytes = 0;
  private blockedUntil = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  /** When the scheduled commit runs (performance.now() ms). */
  private batchDue = 0;
  private readonly expireTimer: NodeJS.Timeout;
  private closed = false;

  readonly counters = { appended: 0, droppedForSize: 0, droppedForAge: 0, droppedWriteFailed: 0 };
  private readonly episodes: Record<"size" | "age" | "write", DropEpisode>;
  private lastWriteError: ReturnType<typeof describeError> | undefined;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly now: () => number,
    options: RecordOutboxOptions,
    private readonly busy: (seq: number) => boolean,
    private readonly committed: (rows: readonly EncodedRecord[]) => void,
    /** Rows deleted here without the outbox asking (size and age limits). */
    private readonly deletedHere: () => void,
  ) {
    this.maxBytes = positive("maxBytes", options.maxBytes ?? 256 * MiB);
    this.maxAgeMs = positive("maxAgeHours", options.maxAgeHours ?? 24) * 3_600_000;
    this.batchDelayMs = nonNegative("batchDelayMs", options.batchDelayMs ?? 5);
    this.settleDelayMs = Math.max(this.batchDelayMs, nonNegative("settleDelayMs", options.settleDelayMs ?? 250));
    this.maxBatch = positive("maxBatch", options.maxBatch ?? 500);
    this.writeRetryMs = nonNegative("writeRetryMs", options.writeRetryMs ?? 5_000);
    const expireIntervalMs = positive("expireIntervalMs", options.expireIntervalMs ?? 60_000);

    this.insertStmt = db.prepare("INSERT INTO records (device, kind, sample_time, body, created_at, bytes) VALUES (?, ?, ?, ?, ?, ?)");
    this.deleteStmt = db.prepare("DELETE FROM records WHERE seq = ? RETURNING bytes");
    this.deleteRangeStmt = db.prepare<[number, number], number>("DELETE FROM records WHERE seq >= ? AND seq <= ? RETURNING bytes").pluck(true);
    this.attemptsStmt = db.prepare("UPDATE records SET attempts = ? WHERE seq = ?");
    this.oldestStmt = db.prepare("SELECT seq, bytes FROM records WHERE seq > ? ORDER BY seq LIMIT ?");
    this.expiredStmt = db.prepare("SELECT seq, bytes FROM records WHERE sample_time < ? ORDER BY seq");
    this.minSampleStmt = db.prepare("SELECT min(sample_time) AS t FROM records");
    this.writeTx = db.transaction((rows: EncodedRecord[], deletes: number[], attempts: Map<number, number>) => this.write(rows, deletes, attempts));
    this.deleteTx = db.transaction((seqs: number[]) => this.deleteRows(seqs));

    const totals = db.prepare("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b, coalesce(max(seq), 0) AS last FROM records").get() as { n: number; b: number; last: number };
    this.rowCount = totals.n;
    this.rowBytes = totals.b;
    this.last = totals.last;

    const hours = (): number => this.maxAgeMs / 3_600_000;
    this.episodes = {
      size: new DropEpisode({
        started: (n) => this.log.warn({ maxBytes: this.maxBytes, dropped: n }, "outbox reached its size limit: dropping the oldest records"),
        ended: (n) => this.log.info({ maxBytes: this.maxBytes, dropped: n }, "outbox back under its size limit: stopped dropping"),
      }),
      age: new DropEpisode({
        started: (n) => this.log.warn({ maxAgeHours: hours(), dropped: n }, "outbox records exceed the age limit: dropping them"),
        ended: (n) => this.log.info({ maxAgeHours: hours(), dropped: n }, "outbox back within its age limit: stopped dropping"),
      }),
      write: new DropEpisode({
        started: (n) => this.log.error({ reason: this.lastWriteError, dropped: n }, "outbox cannot write (disk full, read-only or failing): dropping new records until writes work again"),
        ended: (n) => this.log.info({ dropped: n }, "outbox writes work again"),
      }),
    };

    this.expire();
    this.expireTimer = setInterval(() => this.expire(), expireIntervalMs);
    this.expireTimer.unref();
  }

  get lastSeq(): number {
    return this.last;
  }

  get writable(): boolean {
    return !this.episodes.write.active;
  }

  /** Records stored and not deleted, and their bytes; appends not committed yet are not counted. */
  get depth(): { count: number; bytes: number; pendingWrites: number } {
    return { count: this.rowCount - this.deleting.size, bytes: this.rowBytes - this.deletingBytes, pendingWrites: this.pending.length };
  }

  oldestSampleTime(): number | null {
    return this.closed ? null : (this.minSampleStmt.get()?.t ?? null);
  }

  append(records: readonly EncodedRecord[]): void {
    const now = this.now();
    if (this.blockedUntil > now) {
      this.counters.droppedWriteFailed += records.length;
      this.episodes.write.record(records.length, now);
      return;
    }
    for (const r of records) this.pending.push(r);
    if (this.pending.length >= this.maxBatch) this.commit();
    else this.scheduleCommit();
  }

  /** Removes queued, uncommitted appends of a device; returns how many. */
  dropPending(device: DeviceKey): number {
    const before = this.pending.length;
    this.pending = this.pending.filter((p) => p.device !== device);
    return before - this.pending.length;
  }

  /** Deleted with the next commit; from now on it no longer counts and is never handed out again. */
  queueDelete(seq: number, bytes: number, device: DeviceKey): void {
    if (this.deleting.has(seq)) return;
    this.attemptUpdates.delete(seq);
    this.deleting.set(seq, { bytes, device });
    this.deletingBytes += bytes;
    this.pendingDeletes.push(seq);
    this.scheduleCommit(this.settleDelayMs);
  }

  queueAttempts(seq: number, attempts: number): void {
    this.attemptUpdates.set(seq, attempts);
    this.scheduleCommit(this.settleDelayMs);
  }

  /** The attempt count of `seq` waiting for the next commit, if any. */
  pendingAttempts(seq: number): number | undefined {
    return this.attemptUpdates.get(seq);
  }

  /** Commits queued appends, deletes and attempt counts now. */
  flush(): void {
    if (!this.closed) this.commit();
  }

  /** Applies the age limit now (also runs on a timer). Returns how many records were dropped. */
  expire(): number {
    if (this.closed) return 0;
    const now = this.now();
    let dropped = 0;
    try {
      const victims = this.expiredStmt.all(now - this.maxAgeMs).filter((r) => !this.busy(r.seq) && !this.deleting.has(r.seq));
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
      this.deletedHere();
      this.counters.droppedForAge += dropped;
      this.episodes.age.record(dropped, now);
    }
    if (this.episodes.age.active) {
      const oldest = this.oldestSampleTime();
      if (oldest === null || now - oldest <= this.maxAgeMs * HYSTERESIS) this.episodes.age.end();
    }
    this.checkSizeEpisode();
    return dropped;
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.expireTimer);
    this.commit();
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.closed = true;
  }

  /**
   * Commits within `delayMs` (appends: `batchDelayMs`). Deletes and attempt counts alone wait longer
   * (`settleDelayMs`): losing them in a crash sends a record once more, it loses nothing, and one fsync then
   * settles the acknowledgements of many sends. An append due sooner brings a waiting commit forward.
   */
  private scheduleCommit(delayMs = this.batchDelayMs): void {
    if (this.closed) return;
    const wait = Math.max(delayMs, this.blockedUntil - this.now());
    const due = performance.now() + wait;
    if (this.batchTimer) {
      if (this.batchDue <= due) return;
      clearTimeout(this.batchTimer);
    }
    this.batchDue = due;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      this.commit();
    }, wait);
  }

  private commit(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.pending.length === 0 && this.pendingDeletes.length === 0 && this.attemptUpdates.size === 0) return;
    const rows = this.pending;
    const deletes = this.pendingDeletes;
    const attempts = this.attemptUpdates;
    this.pending = [];
    this.pendingDeletes = [];
    this.attemptUpdates = new Map();
    const now = this.now();
    let r: ReturnType<typeof this.writeTx>;
    try {
      r = this.writeTx(rows, deletes, attempts);
    } catch (err) {
      // Attempt counts must not be lost: they wait for the next commit (newer counts win).
      for (const [seq, n] of attempts) if (!this.attemptUpdates.has(seq) && !this.deleting.has(seq)) this.attemptUpdates.set(seq, n);
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
      if (this.pendingDeletes.length > 0 || this.attemptUpdates.size > 0) this.scheduleCommit();
      return;
    }
    this.settleDeletes(deletes, r.deleted);
    this.rowCount += rows.length - r.evicted.count;
    this.rowBytes += r.inserted - r.evicted.bytes;
    this.last = r.lastSeq;
    this.counters.appended += rows.length;
    if (rows.length > 0) {
      // Only a stored append proves the disk takes new data again; deletes alone may fit into freed pages.
      this.blockedUntil = 0;
      this.episodes.write.end();
    }
    if (r.evicted.count > 0) {
      this.counters.droppedForSize += r.evicted.count;
      this.episodes.size.record(r.evicted.count, now);
    }
    this.checkSizeEpisode();
    if (r.evicted.count > 0) this.deletedHere();
    if (rows.length > 0) this.committed(rows);
  }

  /** Runs inside the write transaction. */
  private write(rows: EncodedRecord[], deletes: number[], attempts: Map<number, number>) {
    let lastSeq = this.last;
    let inserted = 0;
    for (const p of rows) {
      lastSeq = Number(this.insertStmt.run(p.device, p.kind, p.sampleTime, p.body, p.createdAt, p.bytes).lastInsertRowid);
      p.seq = lastSeq;
      inserted += p.bytes;
    }
    for (const [seq, n] of attempts) this.attemptsStmt.run(n, seq);
    const deleted = this.deleteRows(deletes);
    const excess = this.rowBytes + inserted - deleted.bytes - this.maxBytes;
    const evicted = excess > 0 ? this.evict(excess) : { count: 0, bytes: 0 };
    return { lastSeq, inserted, deleted, evicted };
  }

  /**
   * Deletes the rows of `seqs` (in any order, each once). Acknowledgements mostly come in seq order, so the seqs are
   * sorted and each run of consecutive ones is one statement; a run covers exactly its own seqs.
   */
  private deleteRows(seqs: readonly number[]): Counted {
    let count = 0;
    let bytes = 0;
    const sorted = Float64Array.from(seqs).sort();
    for (let i = 0; i < sorted.length; ) {
      let j = i;
      while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
      const deleted = this.deleteRangeStmt.all(sorted[i]!, sorted[j]!);
      for (let k = 0; k < deleted.length; k++) bytes += deleted[k]!;
      count += deleted.length;
      i = j + 1;
    }
    return { count, bytes };
  }

  /** Drops the oldest records that are not in flight until `excess` bytes are freed (inside the write transaction). */
  private evict(excess: number): Counted {
    let after = 0;
    let count = 0;
    let bytes = 0;
    while (bytes < excess) {
      const rows = this.oldestStmt.all(after, 256);
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.seq;
        if (this.busy(r.seq) || this.deleting.has(r.seq)) continue;
        this.deleteStmt.get(r.seq);
        this.attemptUpdates.delete(r.seq);
        count++;
        bytes += r.bytes;
        if (bytes >= excess) break;
      }
    }
    return { count, bytes };
  }

  private settleDeletes(seqs: number[], done: Counted): void {
    for (const seq of seqs) {
      this.deletingBytes -= this.deleting.get(seq)?.bytes ?? 0;
      this.deleting.delete(seq);
    }
    this.rowCount -= done.count;
    this.rowBytes -= done.bytes;
  }

  private writeFailed(err: unknown, dropped: number, now: number): void {
    this.lastWriteError = describeError(err);
    this.counters.droppedWriteFailed += dropped;
    this.blockedUntil = now + this.writeRetryMs;
    this.episodes.write.record(dropped, now);
  }

  private checkSizeEpisode(): void {
    if (this.episodes.size.active && this.rowBytes <= this.maxBytes * HYSTERESIS) this.episodes.size.end();
  }
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`outbox option ${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new Error(`outbox option ${name} must be a non-negative number, got ${v}`);
  return v;
}
