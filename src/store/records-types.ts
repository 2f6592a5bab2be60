/** The shapes exchanged with the record outbox: options, take, stats. */
import type { DeviceKey, UplinkRecord } from "../cloud/platform.js";

export type { NewRecord } from "./record-codec.js";

export interface RecordOutboxOptions {
  /** Size limit over all records, in bytes (default 256 MiB). Beyond it the oldest records are dropped. */
  maxBytes?: number;
  /** Records whose sample time is older than this are dropped (default 24). */
  maxAgeHours?: number;
  /** Appends within this window share one transaction (default 5 ms). */
  batchDelayMs?: number;
  /**
   * Deletes of acknowledged records and attempt counts, when no append is waiting, are committed within this window
   * (default 250 ms, at least `batchDelayMs`; an append's commit takes them along): a crash inside it sends those records once more and loses nothing.
   */
  settleDelayMs?: number;
  /** A batch this large is committed at once, without waiting for the window (default 500). */
  maxBatch?: number;
  /** How often the age limit is applied (default 60 s). */
  expireIntervalMs?: number;
  /** After a failed write (disk full, read-only), new records are dropped for this long before writing is tried again (default 5 s). */
  writeRetryMs?: number;
}

export interface RecordTakeOptions {
  /** Only records with a larger seq (a scan cursor). */
  afterSeq: number;
  /** Only records with seq up to this (inclusive). */
  maxSeq?: number;
  /** At most this many records are returned (and marked in flight). */
  limit: number;
  /** Only this device's records, read through the (device, seq) index. */
  device?: DeviceKey;
  /** Records for which this returns false are skipped and stay pending. */
  accept?: (device: DeviceKey) => boolean;
  /** Upper bound on rows examined per call, so a long run of skipped records cannot stall the event loop (default 2,000). */
  scanLimit?: number;
}

export interface RecordTakeResult {
  /** Oldest first. */
  records: UplinkRecord[];
  /** The last seq examined (the new cursor); equals `afterSeq` when nothing was examined. */
  lastSeq: number;
  /** True when the scan reached the end of the range: nothing past `lastSeq` is left in it. */
  exhausted: boolean;
}

export interface RecordOutboxStats {
  /** Records stored and not yet acknowledged or dropped (in flight included). */
  depth: number;
  bytes: number;
  /** Age of the oldest sample time in the outbox, ms (0 when empty). */
  oldestAgeMs: number;
  inFlight: number;
  /** Appended records waiting for their batch to be committed. */
  pendingWrites: number;
  appended: number;
  acked: number;
  droppedForSize: number;
  droppedForAge: number;
  /** New records dropped because the disk refused writes. */
  droppedWriteFailed: number;
  /** Refused by the platform `maxAttempts` times. */
  droppedRefused: number;
  /** Refused for good by the platform (invalid for it), or unreadable. */
  droppedRejected: number;
  /** Of devices removed from the config. */
  droppedRemoved: number;
  /** Too old for the platform (the adapter's replay limit or the platform's window). */
  droppedExpired: number;
  /** False while writes fail (records are being dropped). */
  writable: boolean;
}
