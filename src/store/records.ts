/**
 * The store-and-forward outbox of neutral uplink records: they wait here, on disk, until the platform has them.
 *
 * What is stored is the whole delivery state: a record is deleted only once the platform acknowledged it (or it was
 * dropped), and a refusal's attempt count is written with the record, so after a crash every stored record is
 * pending again with its attempts. Only "in flight" lives in memory. Writes are batched by RecordStorage; this part
 * hands records out in seq order, settles them, and counts and logs (once per episode) the records the platform
 * refused or rejected and those of removed devices.
 */
import type { Database, Statement } from "better-sqlite3";
import type { DeviceKey, UplinkRecord } from "../cloud/platform.js";
import type { Logger } from "../ops/logger.js";
import { DropEpisode } from "./episode.js";
import { checkRecord, decodeRecord, encodeRecord, type EncodedRecord, type NewRecord, type RecordRow } from "./record-codec.js";
import { RecordStorage } from "./record-storage.js";
import type { RecordOutboxOptions, RecordOutboxStats, RecordTakeOptions, RecordTakeResult } from "./records-types.js";
import { describeError } from "./sqlite-errors.js";

export type { NewRecord } from "./record-codec.js";
export type { RecordOutboxOptions, RecordOutboxStats, RecordTakeOptions, RecordTakeResult } from "./records-types.js";

interface Held {
  bytes: number;
  device: DeviceKey;
  attempts: number;
}

/** A stored record kept in memory for the drain (see `tail`). */
interface TailEntry {
  record: NewRecord;
  bytes: number;
  /** Its stored attempt count (a refusal's count once committed). */
  attempts: number;
}

/** Live records kept in memory: beyond this many, the oldest are read from the database again when needed. */
const TAIL_MAX = 4_096;

type SeqBytes = { seq: number; bytes: number };
/** seq, device, kind, time, body, attempts, bytes (COLUMNS). */
type RawRow = [number, string, string, number, string, number, number];

export interface RecordOutboxDeps {
  db: Database;
  logger: Logger;
  now?: () => number;
}

const COLUMNS = "seq, device, kind, sample_time AS time, body, attempts, bytes";

export class RecordOutbox {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly storage: RecordStorage;

  /** Raw statements (rows as arrays in COLUMNS order): no object per row on the hottest read. */
  private readonly rangeStmt: Statement<[number, number, number], RawRow>;
  private readonly deviceRangeStmt: Statement<[string, number, number, number], RawRow>;
  private readonly deviceSeqStmt: Statement<[string, number, number, number], SeqBytes>;
  private readonly byDeviceStmt: Statement<[number], { device: string; n: number }>;
  private readonly countStmt: Statement<[number], { n: number }>;
  private readonly deviceCountStmt: Statement<[string, number], { n: number }>;

  private readonly inFlight = new Map<number, Held>();
  /** In-flight records of removed devices: dropped when they settle, unless delivered. */
  private readonly removedInFlight = new Set<number>();
  private readonly listeners = new Set<(devices: Set<DeviceKey>) => void>();
  /**
   * The records committed in this run, as appended, so that the drain takes live records without reading and
   * parsing their rows again: every stored record with a seq above `tailFloor` is here (in seq order) until it is
   * deleted. Deletes the outbox does not ask for (size and age limits) empty it, and so does growing past TAIL_MAX
   * (a connection that stays down): it starts again above the last stored seq, and older records come from the table.
   */
  private readonly tail = new Map<number, TailEntry>();
  private tailFloor: number;
  private closed = false;

  private readonly counters = { acked: 0, droppedRefused: 0, droppedRejected: 0, droppedRemoved: 0, droppedExpired: 0 };
  private readonly refusedEpisode: DropEpisode;
  private readonly rejectedEpisode: DropEpisode;
  private lastRefusal: { device: DeviceKey; seq: number; reason: string } | undefined;

  constructor(deps: RecordOutboxDeps, options: RecordOutboxOptions = {}) {
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    const db = deps.db;
    this.rangeStmt = db.prepare<[number, number, number], RawRow>(`SELECT ${COLUMNS} FROM records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`).raw(true);
    this.deviceRangeStmt = db.prepare<[string, number, number, number], RawRow>(`SELECT ${COLUMNS} FROM records WHERE device = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`).raw(true);
    this.deviceSeqStmt = db.prepare("SELECT seq, bytes FROM records WHERE device = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?");
    this.byDeviceStmt = db.prepare("SELECT device, count(*) AS n FROM records WHERE seq <= ? GROUP BY device");
    this.countStmt = db.prepare("SELECT count(*) AS n FROM records WHERE seq <= ?");
    this.deviceCountStmt = db.prepare("SELECT count(*) AS n FROM records WHERE device = ? AND seq <= ?");
    this.refusedEpisode = new DropEpisode({
      started: () => this.log.warn({ ...this.lastRefusal }, "the platform kept refusing a record: dropped it after its last attempt"),
      ended: (n) => this.log.info({ dropped: n }, "records are accepted again; dropped after repeated refusals meanwhile"),
    });
    this.rejectedEpisode = new DropEpisode({
      started: () => this.log.warn({ ...this.lastRefusal }, "the platform rejected a record for good: dropped it"),
      ended: (n) => this.log.info({ dropped: n }, "records are accepted again; rejected meanwhile"),
    });
    this.storage = new RecordStorage(
      db,
      this.log,
      this.now,
      options,
      (seq) => this.inFlight.has(seq),
      (rows) => this.committed(rows),
      () => this.resetTail(),
    );
    this.tailFloor = this.storage.lastSeq;
  }

  /** Queues records for the current batch (see `flush`). A malformed record throws here, before anything is queued. */
  append(records: readonly NewRecord[]): void {
    if (this.closed) throw new Error("outbox is closed");
    if (records.length === 0) return;
    for (const r of records) checkRecord(r);
    const now = this.now();
    this.storage.append(records.map((r) => encodeRecord(r, now)));
  }

  /** Commits queued appends, deletes and attempt counts now (shutdown, tests). */
  flush(): void {
    this.storage.flush();
  }

  /** The oldest records in the range that are not in flight and pass `accept`, marked in flight. */
  take(o: RecordTakeOptions): RecordTakeResult {
    const records: UplinkRecord[] = [];
    let cursor = o.afterSeq;
    if (this.closed || o.limit <= 0) return { records, lastSeq: cursor, exhausted: false };
    const maxSeq = o.maxSeq ?? Number.MAX_SAFE_INTEGER;
    const scanLimit = o.scanLimit ?? 2_000;
    // Live records of the shared route come from memory; a device's lane and any backlog below the tail read the table.
    if (o.afterSeq >= this.tailFloor && o.device === undefined) return this.takeFromTail(o, maxSeq, scanLimit);
    // Rows are read in chunks of about what is asked for: in a backlog almost every row is taken, and reading
    // further than the limit would read the rest again on the next take.
    const chunk = Math.min(256, Math.max(16, o.limit));
    const deleting = this.storage.deleting;
    let scanned = 0;
    while (records.length < o.limit && scanned < scanLimit) {
      const n = Math.min(chunk, scanLimit - scanned);
      const rows = o.device === undefined ? this.rangeStmt.all(cursor, maxSeq, n) : this.deviceRangeStmt.all(o.device, cursor, maxSeq, n);
      for (const raw of rows) {
        scanned++;
        const seq = raw[0];
        cursor = seq;
        if (this.inFlight.has(seq) || deleting.has(seq)) continue;
        const device = raw[1];
        if (o.accept && !o.accept(device)) continue;
        const r: RecordRow = { seq, device, kind: raw[2], time: raw[3], body: raw[4], attempts: raw[5], bytes: raw[6] };
        const attempts = this.storage.pendingAttempts(seq) ?? r.attempts;
        let record: UplinkRecord;
        try {
          record = decodeRecord(r, attempts);
        } catch (err) {
          this.dropUnreadable(r, err);
          continue;
        }
        this.inFlight.set(seq, { bytes: r.bytes, device, attempts });
        records.push(record);
        if (records.length >= o.limit) break;
      }
      // A short chunk read to its end is the end of the range: no second query to find that out.
      if (rows.length < n && (rows.length === 0 || cursor === rows[rows.length - 1]![0])) return { records, lastSeq: cursor, exhausted: true };
    }
    return { records, lastSeq: cursor, exhausted: cursor >= maxSeq };
  }

  /** `take` over the in-memory tail: the same records in the same order as the table would give. */
  private takeFromTail(o: RecordTakeOptions, maxSeq: number, scanLimit: number): RecordTakeResult {
    const records: UplinkRecord[] = [];
    const deleting = this.storage.deleting;
    let cursor = o.afterSeq;
    let scanned = 0;
    for (const [seq, e] of this.tail) {
      if (seq <= o.afterSeq) continue;
      if (seq > maxSeq) return { records, lastSeq: cursor, exhausted: true };
      if (records.length >= o.limit || scanned >= scanLimit) return { records, lastSeq: cursor, exhausted: false };
      scanned++;
      cursor = seq;
      if (this.inFlight.has(seq) || deleting.has(seq)) continue;
      const r = e.record;
      if (o.accept && !o.accept(r.device)) continue;
      const attempts = this.storage.pendingAttempts(seq) ?? e.attempts;
      this.inFlight.set(seq, { bytes: e.bytes, device: r.device, attempts });
      records.push(stored(r, seq, attempts));
    }
    return { records, lastSeq: cursor, exhausted: true };
  }

  /** Delivered: deleted with the next batch. */
  ack(seq: number): void {
    const held = this.inFlight.get(seq);
    if (this.closed || !held) return;
    this.settle(seq, held);
    this.counters.acked++;
    this.refusedEpisode.end();
    this.rejectedEpisode.end();
  }

  /** Not delivered (connection lost, not ready): pending again, attempts unchanged. */
  release(seq: number): void {
    if (this.removedInFlight.has(seq)) return this.drop(seq, "removed", "");
    this.inFlight.delete(seq);
  }

  /**
   * Refused in a way a later attempt may fix: one more attempt is written with the next commit. When the attempts
   * reach `maxAttempts` the record is dropped instead. Returns whether it stays (pending again).
   */
  retry(seq: number, maxAttempts: number): boolean {
    const held = this.inFlight.get(seq);
    if (this.closed || !held) return false;
    if (this.removedInFlight.has(seq)) {
      this.drop(seq, "removed", "");
      return false;
    }
    const attempts = held.attempts + 1;
    if (attempts >= maxAttempts) {
      this.drop(seq, "refused", `refused ${attempts} times`);
      return false;
    }
    this.inFlight.delete(seq);
    this.storage.queueAttempts(seq, attempts);
    const e = this.tail.get(seq);
    if (e) e.attempts = attempts;
    return true;
  }

  /** Refused for good: dropped with the next batch, counted, logged once per episode with the reason. */
  reject(seq: number, reason: string): void {
    if (!this.closed) this.drop(seq, "rejected", reason);
  }

  /** Too old for the platform: dropped with the next batch and counted (the adapter logs it). */
  expired(seq: number): void {
    if (!this.closed) this.drop(seq, "expired", "");
  }

  /** Drops every record of a device removed from the config; in-flight ones go when they settle. Returns the count dropped now. */
  dropDevice(device: DeviceKey): number {
    if (this.closed) return 0;
    let dropped = this.storage.dropPending(device);
    let later = 0;
    for (let after = 0; ; ) {
      const rows = this.deviceSeqStmt.all(device, after, Number.MAX_SAFE_INTEGER, 1_000);
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.seq;
        if (this.storage.deleting.has(r.seq)) continue;
        if (this.inFlight.has(r.seq)) {
          this.removedInFlight.add(r.seq);
          later++;
        } else {
          this.storage.queueDelete(r.seq, r.bytes, device);
          this.tail.delete(r.seq);
          dropped++;
        }
      }
    }
    this.counters.droppedRemoved += dropped;
    if (dropped + later > 0) this.log.info({ device, dropped, inFlight: later }, "dropping the waiting records of a removed device");
    return dropped;
  }

  /** Whether `device` has a record with seq <= maxSeq that is neither in flight nor settled (read through the device index). */
  hasWaiting(device: DeviceKey, maxSeq: number): boolean {
    if (this.closed) return false;
    for (let after = 0; ; ) {
      const rows = this.deviceSeqStmt.all(device, after, maxSeq, 64);
      for (const r of rows) {
        if (!this.inFlight.has(r.seq) && !this.storage.deleting.has(r.seq)) return true;
        after = r.seq;
      }
      if (rows.length < 64) return false;
    }
  }

  /** Stored records with seq <= maxSeq, per device (in flight included, settled ones not). */
  backlogByDevice(maxSeq: number): Map<DeviceKey, number> {
    const out = new Map<DeviceKey, number>();
    if (this.closed) return out;
    for (const r of this.byDeviceStmt.all(maxSeq)) out.set(r.device, r.n);
    for (const [seq, d] of this.storage.deleting) {
      const n = out.get(d.device);
      if (seq > maxSeq || n === undefined) continue;
      if (n <= 1) out.delete(d.device);
      else out.set(d.device, n - 1);
    }
    return out;
  }

  /** Stored records with seq <= maxSeq (of one device when given), in flight included. */
  countUpTo(maxSeq: number, device?: DeviceKey): number {
    if (this.closed) return 0;
    return (device === undefined ? this.countStmt.get(maxSeq) : this.deviceCountStmt.get(device, maxSeq))?.n ?? 0;
  }

  /** Highest committed seq (0 when nothing was ever stored). */
  get lastSeq(): number {
    return this.storage.lastSeq;
  }

  /** Called after each commit that stored new records, with their devices. Returns the unsubscribe function. */
  onAppended(listener: (devices: Set<DeviceKey>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies the age limit now (also runs on a timer). Returns how many records were dropped. */
  expire(): number {
    return this.closed ? 0 : this.storage.expire();
  }

  stats(): RecordOutboxStats {
    const oldest = this.storage.oldestSampleTime();
    const d = this.storage.depth;
    return {
      depth: d.count,
      bytes: d.bytes,
      oldestAgeMs: oldest === null ? 0 : Math.max(0, this.now() - oldest),
      inFlight: this.inFlight.size,
      pendingWrites: d.pendingWrites,
      appended: this.storage.counters.appended,
      acked: this.counters.acked,
      droppedForSize: this.storage.counters.droppedForSize,
      droppedForAge: this.storage.counters.droppedForAge,
      droppedWriteFailed: this.storage.counters.droppedWriteFailed,
      droppedRefused: this.counters.droppedRefused,
      droppedRejected: this.counters.droppedRejected,
      droppedRemoved: this.counters.droppedRemoved,
      droppedExpired: this.counters.droppedExpired,
      writable: this.storage.writable,
    };
  }

  /** Commits what is queued and stops the timers; the database itself is closed by its owner. */
  close(): void {
    if (this.closed) return;
    this.storage.close();
    this.closed = true;
    this.listeners.clear();
    this.tail.clear();
  }

  private settle(seq: number, held: Held): void {
    this.inFlight.delete(seq);
    this.removedInFlight.delete(seq);
    this.storage.queueDelete(seq, held.bytes, held.device);
    this.tail.delete(seq);
  }

  private committed(rows: readonly EncodedRecord[]): void {
    const devices = new Set<DeviceKey>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      devices.add(row.device);
      if (row.seq > this.tailFloor) this.tail.set(row.seq, { record: row.source, bytes: row.bytes, attempts: 0 });
    }
    if (this.tail.size > TAIL_MAX) this.resetTail();
    this.notify(devices);
  }

  /** Empties the tail: from now on it holds what is stored after the last seq stored so far. */
  private resetTail(): void {
    this.tail.clear();
    // The storage's own first expiry runs while it is being built: the floor is set after it.
    if (this.storage) this.tailFloor = this.storage.lastSeq;
  }

  private drop(seq: number, kind: "refused" | "rejected" | "removed" | "expired", reason: string): void {
    const held = this.inFlight.get(seq);
    if (!held) return;
    this.settle(seq, held);
    if (kind === "removed") {
      this.counters.droppedRemoved++;
      return;
    }
    if (kind === "expired") {
      this.counters.droppedExpired++;
      return;
    }
    this.lastRefusal = { device: held.device, seq, reason };
    if (kind === "refused") {
      this.counters.droppedRefused++;
      this.refusedEpisode.record(1, this.now());
    } else {
      this.counters.droppedRejected++;
      this.rejectedEpisode.record(1, this.now());
    }
  }

  private dropUnreadable(r: RecordRow, err: unknown): void {
    this.inFlight.set(r.seq, { bytes: r.bytes, device: r.device, attempts: r.attempts });
    this.drop(r.seq, "rejected", describeError(err).message);
  }

  private notify(devices: Set<DeviceKey>): void {
    for (const l of this.listeners) {
      try {
        l(devices);
      } catch (err) {
        this.log.error({ err: describeError(err) }, "an outbox listener failed");
      }
    }
  }
}

/** The record handed out: the appended one with its position and attempts (the shape `decodeRecord` gives). */
function stored(r: NewRecord, seq: number, attempts: number): UplinkRecord {
  switch (r.kind) {
    case "properties":
      return { seq, device: r.device, time: r.time, attempts, kind: "properties", values: r.values };
    case "event":
      return { seq, device: r.device, time: r.time, attempts, kind: "event", identifier: r.identifier, outputs: r.outputs };
    case "wire":
      return { seq, device: r.device, time: r.time, attempts, kind: "wire", platform: r.platform, topic: r.topic, payload: r.payload, devices: r.devices };
  }
}
