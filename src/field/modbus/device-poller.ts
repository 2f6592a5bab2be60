/**
 * One Modbus device on a channel: runs its read plans on their periods, decodes samples, tracks whether
 * the device delivers data (and why not), probes a dead device until it is back, and executes writes to it.
 */
import type { Logger } from "pino";
import type { DeviceSpec, ModbusPointSpec } from "../../config/gateway/model.js";
import { FieldCode, FieldError, type FieldSink, type Sample } from "../driver.js";
import { encodeValue, isWritable, pointProblem } from "./codec.js";
import { isGatewayNoAnswer, WriteLedger, writeError, writeRequest } from "./device-writes.js";
import {
  ModbusAbandonedError,
  ModbusExceptionError,
  ModbusNotConnectedError,
  ModbusProtocolError,
  ModbusTimeoutError,
} from "./errors.js";
import type { ModbusRequest, ModbusResult } from "./pdu.js";
import { planPolls, splitRead, type PlannedRead, type PollPlan } from "./planner.js";
import { ProbePacer, type ProbePacing } from "./probe-pacer.js";
import { SampleDecoder } from "./sample-decoder.js";
import { Priority } from "./request-queue.js";
import { SlotTimer } from "./slot-timer.js";

/** What a device needs from its channel. */
export interface PollerContext {
  logger: Logger;
  sink: FieldSink;
  retries: number;
  maxGap: number;
  /** Requests of one device that may be on the link at once (1 on RTU). */
  concurrency: number;
  linkUp(): boolean;
  /** How a device found dead is probed: each poll period (TCP) or with a growing interval (RTU). */
  probePacing: ProbePacing;
  /** One transaction through the channel queue; `sentAt` is when it went on the link. */
  transact(owner: string, unit: number, req: ModbusRequest, priority: Priority): Promise<{ result: ModbusResult; sentAt: number }>;
  cycleDone(durationMs: number): void;
}

/** Consecutive cycles without any data before a device is reported offline. */
const OFFLINE_AFTER_FAILED_CYCLES = 3;

type Health = "unknown" | "online" | "offline";

/** What one pass over a plan's reads got back. */
interface CycleOutcome {
  /** At least one read returned data. */
  data: boolean;
  /** The first exception the device answered with (it is there, but refuses the reads). */
  refusal: ModbusExceptionError | undefined;
  /** Why the device did not answer (timeout, wrong transaction id, gateway exception 10/11). */
  silence: string | undefined;
  /** The link went down or the device was removed mid-cycle: says nothing about the device. */
  interrupted: boolean;
}

interface PlanState {
  plan: PollPlan;
  timer: SlotTimer;
  running: boolean;
}

export class DevicePoller {
  readonly key: string;
  readonly unit: number;
  /** Shared with the other devices of the same point list: read-only. */
  private readonly points: ReadonlyMap<string, ModbusPointSpec>;
  private readonly plans: PlanState[];
  private readonly log: Logger;
  private health: Health = "unknown";
  /** Why the device is offline: its own silence or refusals (probed), or the channel being down. */
  private offlineCause: "device" | "channel" | undefined;
  private failedCycles = 0;
  private readonly pacer: ProbePacer;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Probes go round the plans, so that one plan the device refuses cannot hide the others. */
  private probeCount = 0;
  /** Why the device is unhealthy, kept up to date by the probes. */
  private offlineReason = "";
  private active = false;
  private stopped = false;
  /** Exceptions already logged, per read (fc:address) -> exception code. */
  private readonly loggedExceptions = new Map<string, number>();
  private readonly writes = new WriteLedger();
  private readonly decoder: SampleDecoder;

  constructor(
    spec: DeviceSpec,
    private readonly ctx: PollerContext,
  ) {
    this.key = spec.key;
    this.unit = spec.modbus?.slaveId ?? 1;
    this.log = ctx.logger.child({ device: spec.key, unit: this.unit });
    this.decoder = new SampleDecoder(this.key, this.log, this.writes);
    const layout = layoutOf(spec.modbus?.points ?? [], ctx.maxGap);
    for (const { identifier, problem } of layout.disabled) this.log.warn({ identifier, problem }, "Modbus point disabled");
    this.points = layout.points;
    const usable = layout.usable;
    this.plans = layout.plans.map((plan) => {
      const state: PlanState = {
        plan,
        running: false,
        timer: new SlotTimer({ periodMs: plan.periodMs, onSlot: () => this.guard(this.runCycle(state)) }),
      };
      return state;
    });
    this.pacer = new ProbePacer(ctx.probePacing, this.plans.length ? Math.min(...this.plans.map((p) => p.plan.periodMs)) : undefined);
    this.log.debug(
      { points: usable.length, plans: this.plans.map((p) => ({ periodMs: p.plan.periodMs, requests: p.plan.reads.length })) },
      "Modbus device planned",
    );
  }

  /** The link is up: poll now (or probe now if the device was dead), then keep the schedule. */
  resume(): void {
    if (this.stopped) return;
    this.active = true;
    if (this.health === "offline" && this.offlineCause === "device") this.scheduleProbe(0);
    else this.startTimers();
  }

  /** The link went down: stop polling; a device that was reachable is not any more. */
  pause(reason: string): void {
    this.active = false;
    this.stopTimers();
    if (this.health !== "offline") this.setOffline("channel", `channel down: ${reason}`);
  }

  /** The channel stops: no polling until resume(), no health report (the channel is being shut down). */
  halt(): void {
    this.active = false;
    this.stopTimers();
  }

  /** The device is removed: for good. */
  stop(): void {
    this.stopped = true;
    this.halt();
  }

  /** A cycle or probe that throws is a bug; it must not become an unhandled rejection in the daemon. */
  private guard(work: Promise<void>): void {
    work.catch((err: unknown) => this.log.error({ err }, "Modbus poll failed unexpectedly"));
  }

  // ---- polling --------------------------------------------------------------------------------

  private startTimers(): void {
    this.clearProbe();
    const origin = performance.now();
    for (const p of this.plans) p.timer.start(origin);
  }

  private stopTimers(): void {
    this.clearProbe();
    for (const p of this.plans) p.timer.stop();
  }

  private async runCycle(state: PlanState): Promise<void> {
    // An overrunning cycle makes the next slot a skip, never a second concurrent cycle.
    if (state.running || !this.active || !this.ctx.linkUp()) return;
    const started = performance.now();
    const outcome = await this.readPlan(state, this.ctx.retries, Priority.poll);
    if (this.stopped) return;
    this.ctx.cycleDone(performance.now() - started);
    if (outcome.interrupted && !outcome.data && !outcome.refusal) return;
    this.afterAttempt(outcome);
  }

  /** Reads every request of a plan (`retries` after a timeout each), emits the samples, says what came back. */
  private async readPlan(state: PlanState, retries: number, priority: Priority): Promise<CycleOutcome> {
    state.running = true;
    const samples: Sample[] = [];
    const work = state.plan.reads.slice();
    const outcome: CycleOutcome = { data: false, refusal: undefined, silence: undefined, interrupted: false };
    let next = 0;

    const worker = async (): Promise<void> => {
      while (next < work.length && !outcome.interrupted) {
        // A device that has not answered the first request will not answer the rest either; the line is
        // worth more to the devices that do.
        if (outcome.silence && !outcome.data && !outcome.refusal) return;
        const read = work[next++]!;
        try {
          const { result, sentAt } = await this.transactWithRetries(read, retries, priority);
          outcome.data = true;
          if (this.loggedExceptions.size > 0) this.loggedExceptions.delete(`${read.fc}:${read.address}`);
          this.decoder.decode(read, result, sentAt, samples);
        } catch (err) {
          if (err instanceof ModbusAbandonedError || err instanceof ModbusNotConnectedError) {
            outcome.interrupted = true;
            return;
          }
          if (err instanceof ModbusExceptionError && !isGatewayNoAnswer(err)) {
            outcome.refusal ??= err;
            const pieces = this.onReadException(state, read, err);
            work.push(...pieces);
            continue;
          }
          outcome.silence = (err as Error)?.message || String(err);
        }
      }
    };
    try {
      // A probe sends one request at a time: a dead device costs one timeout, not one per slot.
      const slots = priority === Priority.probe ? 1 : this.ctx.concurrency;
      const workers = Math.max(1, Math.min(slots, work.length));
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      state.running = false;
    }
    if (!this.stopped) this.emit(samples);
    return outcome;
  }

  /**
   * One read, `retries` more times after a timeout or a garbled answer. Not an async function: the first attempt's
   * promise is the channel's own, and a retry chains on it only when it fails.
   */
  private transactWithRetries(read: PlannedRead, retries: number, priority: Priority, attempt = 0): Promise<{ result: ModbusResult; sentAt: number }> {
    // The planned read is itself a read request (fc, address, count): no copy per transaction.
    const req: ModbusRequest = read;
    const sent = this.ctx.transact(this.key, this.unit, req, priority);
    if (attempt >= retries) return sent;
    return sent.catch((err: unknown) => {
      // Retries go to the back of the queue: other devices' requests that waited meanwhile go first.
      const retryable = err instanceof ModbusTimeoutError || err instanceof ModbusProtocolError;
      if (!retryable) throw err;
      return this.transactWithRetries(read, retries, priority, attempt + 1);
    });
  }

  private onReadException(state: PlanState, read: PlannedRead, err: ModbusExceptionError): PlannedRead[] {
    const pieces = err.exceptionCode === 2 ? splitRead(read) : [];
    if (pieces.length > 0) {
      // Some devices refuse a block that touches an unmapped register: fall back to smaller reads for good.
      // The plan may be shared with other devices of the same model: this device gets its own copy.
      const reads = state.plan.reads.slice();
      const at = reads.indexOf(read);
      if (at >= 0) reads.splice(at, 1, ...pieces);
      state.plan = { periodMs: state.plan.periodMs, reads };
      this.log.info(
        { fc: read.fc, address: read.address, count: read.count, exceptionCode: err.exceptionCode, into: pieces.length },
        "Modbus read refused as a block; reading its parts separately",
      );
      return pieces;
    }
    const key = `${read.fc}:${read.address}`;
    if (this.loggedExceptions.get(key) !== err.exceptionCode) {
      this.loggedExceptions.set(key, err.exceptionCode);
      this.log.warn(
        {
          fc: read.fc,
          address: read.address,
          count: read.count,
          exceptionCode: err.exceptionCode,
          identifiers: read.items.map((i) => i.point.identifier),
        },
        `Modbus read answered with ${err.message}`,
      );
    }
    return [];
  }

  private emit(samples: Sample[]): void {
    if (samples.length === 0) return;
    try {
      this.ctx.sink.samples(samples);
    } catch (err) {
      this.log.error({ err }, "sample sink failed");
    }
  }

  // ---- health ---------------------------------------------------------------------------------

  /** Why a cycle without data failed: the device refuses every read, or it does not answer. */
  private unhealthyReason(outcome: CycleOutcome): string {
    if (outcome.refusal) return `unit ${this.unit} refuses every read: ${outcome.refusal.message}`;
    return `no response from unit ${this.unit}: ${outcome.silence ?? "no answer"}`;
  }

  private afterAttempt(outcome: CycleOutcome): void {
    if (outcome.data) {
      this.failedCycles = 0;
      if (this.health !== "online") this.setOnline();
      return;
    }
    this.failedCycles++;
    if (this.failedCycles >= OFFLINE_AFTER_FAILED_CYCLES && this.health !== "offline") {
      this.setOffline("device", this.unhealthyReason(outcome));
    }
  }

  private setOnline(): void {
    const wasOffline = this.health === "offline";
    this.health = "online";
    this.offlineCause = undefined;
    this.offlineReason = "";
    this.log.info("Modbus device online");
    this.report(true);
    // Back from probing: poll everything now and pick the schedule up again.
    if (wasOffline && this.active && !this.plans.some((p) => p.timer.running)) this.startTimers();
  }

  private setOffline(cause: "device" | "channel", reason: string): void {
    this.health = "offline";
    this.offlineCause = cause;
    this.offlineReason = reason;
    this.failedCycles = 0;
    this.log.warn({ reason }, "Modbus device offline");
    this.report(false, reason);
    if (cause === "device") {
      this.stopTimers();
      this.scheduleProbe(this.pacer.first());
    }
  }

  /** Offline always comes with a reason: /status shows it, and "null" tells an operator nothing. */
  private report(online: true): void;
  private report(online: false, reason: string): void;
  private report(online: boolean, reason?: string): void {
    try {
      if (online) this.ctx.sink.deviceHealth(this.key, true);
      else this.ctx.sink.deviceHealth(this.key, false, reason || `unit ${this.unit} unhealthy`);
    } catch (err) {
      this.log.error({ err }, "device health sink failed");
    }
  }

  private scheduleProbe(delayMs: number): void {
    this.clearProbe();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.guard(this.probe());
    }, Math.max(0, delayMs));
  }

  private clearProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  /**
   * One pass over one plan without retries: a dead device costs one timeout per probe (the first silent
   * read ends the pass). Data brings the device back; a refusal or silence keeps it offline.
   */
  private async probe(): Promise<void> {
    const state = this.plans[this.probeCount++ % this.plans.length];
    // Inactive or link down: resume() probes again when the link is back.
    if (!state || !this.active || !this.ctx.linkUp()) return;
    const started = performance.now();
    if (state.running) {
      // A cycle from before the device was found dead is still on the line: it will tell.
      this.scheduleProbe(this.pacer.next(started));
      return;
    }
    const outcome = await this.readPlan(state, 0, Priority.probe);
    if (this.stopped || !this.active || this.health !== "offline" || this.offlineCause !== "device") return;
    if (outcome.data) {
      this.setOnline();
      return;
    }
    if (outcome.interrupted && !outcome.refusal) return;
    const reason = this.unhealthyReason(outcome);
    if (reason !== this.offlineReason) {
      this.offlineReason = reason;
      this.log.info({ reason }, "Modbus device still offline");
    }
    this.scheduleProbe(this.pacer.next(started));
  }

  // ---- writes ---------------------------------------------------------------------------------

  /** Validates and encodes every value first, so that a bad one rejects before anything is written. */
  async write(values: Record<string, unknown>): Promise<void> {
    const ops = Object.entries(values).map(([identifier, value]) => {
      const point = this.points.get(identifier);
      if (!point) throw new FieldError(FieldCode.badRequest, `${identifier}: no Modbus mapping on device ${this.key}`);
      if (!isWritable(point.operateType)) {
        throw new FieldError(FieldCode.readOnly, `${identifier}: ${point.operateType} is read-only`);
      }
      return { point, req: writeRequest(point, encodeValue(point, value)) };
    });
    for (const { point, req } of ops) await this.writeOne(point, req);
  }

  private async writeOne(point: ModbusPointSpec, req: ModbusRequest): Promise<void> {
    if (!this.ctx.linkUp()) throw new FieldError(FieldCode.notConnected, `channel not connected (device ${this.key})`);
    const id = point.identifier;
    this.writes.begin(id);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.ctx.transact(this.key, this.unit, req, Priority.write);
          this.writeAnswered();
          return;
        } catch (err) {
          // FC5/6/16 set absolute values, so repeating one after a lost answer is harmless.
          if (err instanceof ModbusTimeoutError && attempt < this.ctx.retries) continue;
          throw writeError(point, this.unit, err);
        }
      }
    } finally {
      this.writes.end(id);
    }
  }

  private writeAnswered(): void {
    if (this.health === "offline" && this.offlineCause === "device" && this.active) this.setOnline();
  }
}

interface PointLayout {
  /** Usable points by identifier (the first of a repeated identifier). */
  points: Map<string, ModbusPointSpec>;
  usable: ModbusPointSpec[];
  disabled: Array<{ identifier: string; problem: string }>;
  plans: PollPlan[];
}

/**
 * Devices of one model with the same polling time share their point list (config/gateway/devices.ts), and so share
 * what is derived from it: the point table and the read plans (a device that splits a refused block copies its plan
 * first). Kept while the list is in use.
 */
const layouts = new WeakMap<readonly ModbusPointSpec[], Map<number, PointLayout>>();

function layoutOf(list: readonly ModbusPointSpec[], maxGap: number): PointLayout {
  let byGap = layouts.get(list);
  if (!byGap) layouts.set(list, (byGap = new Map()));
  let layout = byGap.get(maxGap);
  if (layout) return layout;
  layout = { points: new Map(), usable: [], disabled: [], plans: [] };
  for (const point of list) {
    const problem = pointProblem(point);
    if (problem) {
      layout.disabled.push({ identifier: point.identifier, problem });
      continue;
    }
    if (!layout.points.has(point.identifier)) layout.points.set(point.identifier, point);
    layout.usable.push(point);
  }
  layout.plans = planPolls(layout.usable, { maxGap });
  byGap.set(maxGap, layout);
  return layout;
}
