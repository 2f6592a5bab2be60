/**
 * Read planner: turns a device's points into the fewest read requests per polling period. A serial line
 * spends most of each transaction on fixed costs (request frame, turnaround, t3.5), so one block read of
 * 10 registers costs about as much as one single read; merging is where the bus time is won.
 * Pure; plans are built once per device, never per poll.
 */
import type { ModbusPointSpec } from "../../config/gateway/model.js";
import { MAX_READ_BITS, MAX_READ_REGISTERS, pointWidth, readFunctionCode } from "./codec.js";

export interface PlannedItem {
  point: ModbusPointSpec;
  /** Offset of the point's first register (or bit) in the response. */
  offset: number;
}

export interface PlannedRead {
  fc: 1 | 2 | 3 | 4;
  address: number;
  /** Registers (FC3/4) or bits (FC1/2). */
  count: number;
  items: PlannedItem[];
}

export interface PollPlan {
  periodMs: number;
  reads: PlannedRead[];
}

export interface PlannerOptions {
  /** Unused registers a request may read through to join two ranges (alink.md: modbusMaxGap). */
  maxGap: number;
  /** Per-request caps; devices with smaller buffers can lower them. */
  maxRegisters?: number;
  maxBits?: number;
}

/**
 * A gap of N registers costs 2N bytes on the wire; a gap of 8N bits costs N bytes. Bits are cheap, so a
 * bit gap is measured in the same bytes as the register gap.
 */
const BITS_PER_GAP_REGISTER = 16;

/** Merges points that share a function code into contiguous requests, left to right. */
function mergeRuns(fc: PlannedRead["fc"], points: ModbusPointSpec[], options: PlannerOptions): PlannedRead[] {
  const bits = fc === 1 || fc === 2;
  const limit = bits ? (options.maxBits ?? MAX_READ_BITS) : (options.maxRegisters ?? MAX_READ_REGISTERS);
  const maxGap = Math.max(0, options.maxGap) * (bits ? BITS_PER_GAP_REGISTER : 1);
  const sorted = points
    .map((point) => ({ point, start: point.address, end: point.address + pointWidth(point) }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const reads: PlannedRead[] = [];
  let current: { start: number; end: number; members: typeof sorted } | undefined;
  const flush = (): void => {
    if (!current) return;
    reads.push({
      fc,
      address: current.start,
      count: current.end - current.start,
      items: current.members.map((m) => ({ point: m.point, offset: m.start - current!.start })),
    });
  };
  for (const span of sorted) {
    if (current) {
      const gap = span.start - current.end;
      const end = Math.max(current.end, span.end);
      if (gap <= maxGap && end - current.start <= limit) {
        current.end = end;
        current.members.push(span);
        continue;
      }
      flush();
    }
    current = { start: span.start, end: span.end, members: [span] };
  }
  flush();
  return reads;
}

/**
 * One plan per distinct polling period, each with the merged reads for every function code. Points of
 * different periods or function codes never share a request. Points are expected to be valid
 * (codec.pointProblem); a point wider than the per-request cap gets a request of its own.
 */
export function planPolls(points: readonly ModbusPointSpec[], options: PlannerOptions): PollPlan[] {
  const byPeriod = new Map<number, Map<PlannedRead["fc"], ModbusPointSpec[]>>();
  for (const point of points) {
    let byFc = byPeriod.get(point.pollingMs);
    if (!byFc) byPeriod.set(point.pollingMs, (byFc = new Map()));
    const fc = readFunctionCode(point.operateType);
    const list = byFc.get(fc) ?? [];
    list.push(point);
    byFc.set(fc, list);
  }
  return [...byPeriod.entries()]
    .sort(([a], [b]) => a - b)
    .map(([periodMs, byFc]) => ({
      periodMs,
      reads: [...byFc.entries()].sort(([a], [b]) => a - b).flatMap(([fc, pts]) => mergeRuns(fc, pts, options)),
    }));
}

/**
 * The smaller requests to fall back to when a merged read is refused (typically exception 2: some
 * devices reject any read that touches an unmapped register). First without read-through gaps, then
 * one request per point. Empty when the read cannot be split further.
 */
export function splitRead(read: PlannedRead): PlannedRead[] {
  if (read.items.length <= 1) return [];
  const points = read.items.map((i) => i.point);
  const contiguous = mergeRuns(read.fc, points, { maxGap: 0, maxRegisters: read.count, maxBits: read.count });
  if (contiguous.length > 1) return contiguous;
  return points.map((point) => ({
    fc: read.fc,
    address: point.address,
    count: pointWidth(point),
    items: [{ point, offset: 0 }],
  }));
}

/** Requests per cycle of a set of plans, for sizing and logs. */
export function requestsPerCycle(plans: readonly PollPlan[]): number {
  return plans.reduce((n, p) => n + p.reads.length, 0);
}
