/**
 * The channel's request queue: at most `concurrency` transactions on the link at once (1 on a
 * half-duplex RTU line, modbusTcpInFlight on TCP). Writes go before polls, polls before probes of dead
 * devices; within a priority the order is first come, first served, which is what bounds how long one slow
 * device can hold the others up.
 */
import { ModbusAbandonedError } from "./errors.js";

/** Probes of dead devices come last: a queued probe never goes before a waiting poll or write. */
export const Priority = { write: 0, poll: 1, probe: 2 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

interface Job {
  owner: string;
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class RequestQueue {
  private readonly lanes: [Job[], Job[], Job[]] = [[], [], []];
  private inFlight = 0;
  private probesInFlight = 0;
  private readonly inFlightByOwner = new Map<string, number>();
  private readonly idleWaiters = new Map<string, Array<() => void>>();

  constructor(private readonly concurrency: number) {}

  get pending(): number {
    return this.lanes[0].length + this.lanes[1].length + this.lanes[2].length;
  }

  push<T>(owner: string, priority: Priority, run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.lanes[priority].push({ owner, run, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  /** Rejects every queued job of `owner`; jobs already on the link finish on their own. */
  abandon(owner: string, reason: string): void {
    for (const lane of this.lanes) {
      for (let i = lane.length - 1; i >= 0; i--) {
        const job = lane[i]!;
        if (job.owner !== owner) continue;
        lane.splice(i, 1);
        job.reject(new ModbusAbandonedError(reason));
      }
    }
  }

  abandonAll(reason: string): void {
    for (const lane of this.lanes) {
      for (const job of lane.splice(0)) job.reject(new ModbusAbandonedError(reason));
    }
  }

  /** Resolves once `owner` has no job on the link. */
  idle(owner: string): Promise<void> {
    if (!this.inFlightByOwner.get(owner)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.idleWaiters.get(owner) ?? [];
      list.push(resolve);
      this.idleWaiters.set(owner, list);
    });
  }

  private pump(): void {
    while (this.inFlight < this.concurrency) {
      let job = this.lanes[0].shift() ?? this.lanes[1].shift();
      // Probes wait for timeouts most of the time: they never take the last free slot of a pipelined link.
      const probe = !job && this.probesInFlight < Math.max(1, this.concurrency - 1);
      if (probe) job = this.lanes[2].shift();
      if (!job) return;
      this.inFlight++;
      if (probe) this.probesInFlight++;
      this.inFlightByOwner.set(job.owner, (this.inFlightByOwner.get(job.owner) ?? 0) + 1);
      let settled: Promise<unknown>;
      try {
        settled = job.run();
      } catch (err) {
        settled = Promise.reject(err);
      }
      const j = job;
      // One reaction per job: settle it, then free its slot (which starts the next job).
      settled.then(
        (v) => {
          j.resolve(v);
          this.finished(j.owner, probe);
        },
        (err: Error) => {
          j.reject(err);
          this.finished(j.owner, probe);
        },
      );
    }
  }

  private finished(owner: string, probe: boolean): void {
    this.inFlight--;
    if (probe) this.probesInFlight--;
    const left = (this.inFlightByOwner.get(owner) ?? 1) - 1;
    if (left > 0) this.inFlightByOwner.set(owner, left);
    else {
      this.inFlightByOwner.delete(owner);
      const waiters = this.idleWaiters.get(owner);
      this.idleWaiters.delete(owner);
      waiters?.forEach((w) => w());
    }
    this.pump();
  }
}
