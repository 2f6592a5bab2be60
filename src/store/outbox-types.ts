/** The shapes exchanged with the outbox: what producers append and what the forwarder takes. */

export interface OutboxItem {
  topic: string;
  /** The serialized message, sent as is. */
  payload: string;
  /** The Alink id inside the payload, kept so that a duplicate after a crash can be recognised. */
  msgId: string;
  /** Sub-devices (`productKey/deviceName` or any key the readiness predicate understands) that must be online to send. */
  devices: string[];
  /** Epoch ms of the (oldest) sample in the message; the age limit applies to it. */
  sampleTime: number;
}

export interface OutboxEntry extends OutboxItem {
  /** Position in the outbox: increasing in append order, never reused. */
  seq: number;
  /** Epoch ms when the entry was appended. */
  createdAt: number;
  /** UTF-8 bytes of topic and payload; the size limit counts these. */
  bytes: number;
}

export interface OutboxOptions {
  /** Size limit over all entries, in bytes (default 256 MiB). Beyond it the oldest entries are dropped. */
  maxBytes?: number;
  /** Entries whose sample time is older than this are dropped (default 24). */
  maxAgeHours?: number;
  /** Appends within this window share one transaction (default 5 ms). */
  batchDelayMs?: number;
  /** A batch this large is committed at once, without waiting for the window (default 500). */
  maxBatch?: number;
  /** How often the age limit is applied (default 60 s). */
  expireIntervalMs?: number;
  /** After a failed write (disk full, read-only), new entries are dropped for this long before writing is tried again (default 5 s). */
  writeRetryMs?: number;
}

export interface TakeOptions {
  /** At most this many entries are returned (and marked in flight). */
  limit: number;
  /** Only entries with a larger seq (a scan cursor; default 0). */
  afterSeq?: number;
  /** Only entries with seq up to this (inclusive). */
  maxSeq?: number;
  /** Entries for which this returns false are skipped and stay pending. */
  accept?: (devices: readonly string[]) => boolean;
  /** Upper bound on rows examined per call, so a long run of skipped entries cannot stall the event loop (default 2,000). */
  scanLimit?: number;
}

export interface TakeResult {
  entries: OutboxEntry[];
  /** The last seq examined (the new cursor); equals `afterSeq` when nothing was examined. */
  lastSeq: number;
  /** True when the scan reached the end of the range: nothing past `lastSeq` is left in it. */
  exhausted: boolean;
}

export interface OutboxStats {
  /** Entries stored and not yet acknowledged (in flight included). */
  depth: number;
  bytes: number;
  /** Age of the oldest sample time in the outbox, ms (0 when empty). */
  oldestAgeMs: number;
  inFlight: number;
  /** Appended entries waiting for their batch to be committed. */
  pendingWrites: number;
  appended: number;
  acked: number;
  droppedForSize: number;
  droppedForAge: number;
  /** New entries dropped because the disk refused writes. */
  droppedWriteFailed: number;
  /** False while writes fail (entries are being dropped). */
  writable: boolean;
}
