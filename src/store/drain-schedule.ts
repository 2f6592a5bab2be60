/**
 * When each route's drain runs. Routes with something to do (new records, a settled send, a wake) are marked; one
 * pass per turn of the event loop serves the marked routes in order, a bounded number at a time, so that a
 * thousand busy routes share the loop fairly. A paused route comes back when its pause ends; a route waiting for the
 * replay pace comes back when a token is due (acks on other routes do not make it scan again).
 */
import type { Route } from "./drains-types.js";

/** What serving a route achieved: nothing left, its window or the global cap is full, the pace holds it, or more to scan. */
export type Progress = "idle" | "full" | "global" | "tokens" | "more";

/** Routes served per pass, so that a thousand busy routes do not hold the event loop in one turn. */
const ROUTES_PER_PASS = 200;

export class DrainSchedule {
  private readonly dirty = new Set<Route>();
  private readonly paused = new Set<Route>();
  private readonly waitingTokens = new Set<Route>();
  private active = false;
  private queued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;

  constructor(
    private readonly serve: (r: Route) => Progress,
    private readonly globalFull: () => boolean,
    private readonly msUntilToken: () => number,
  ) {}

  start(routes: Iterable<Route>): void {
    this.active = true;
    for (const r of routes) this.dirty.add(r);
    this.schedule();
  }

  stop(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    this.paused.clear();
    this.waitingTokens.clear();
  }

  /** The route has something to do. */
  mark(r: Route): void {
    if (!this.active) return;
    this.dirty.add(r);
    this.schedule();
  }

  /** Ends the route's pause now. */
  resume(r: Route): void {
    r.pausedUntil = 0;
    this.paused.delete(r);
    this.mark(r);
  }

  forget(r: Route): void {
    this.dirty.delete(r);
    this.paused.delete(r);
    this.waitingTokens.delete(r);
  }

  private schedule(): void {
    if (this.queued || !this.active) return;
    this.queued = true;
    // Coalesces the acks and appends of one turn of the event loop into one pass.
    setImmediate(() => {
      this.queued = false;
      this.pass();
    });
  }

  private scheduleAt(delayMs: number): void {
    if (!this.active) return;
    const due = performance.now() + Math.max(1, delayMs);
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      // A timer may fire a little before its due time on this clock: what is still paused arms the next one.
      for (const r of this.paused) {
        if (r.pausedUntil <= now) this.resume(r);
        else this.scheduleAt(r.pausedUntil - now);
      }
      for (const r of this.waitingTokens) this.dirty.add(r);
      this.waitingTokens.clear();
      this.pass();
    }, Math.max(1, delayMs));
  }

  private pass(): void {
    if (!this.active) return;
    const now = performance.now();
    let again = this.dirty.size > ROUTES_PER_PASS;
    for (const r of [...this.dirty].slice(0, ROUTES_PER_PASS)) {
      if (this.globalFull()) return; // a settling send marks its route: the next pass comes then
      this.dirty.delete(r);
      if (r.down) continue;
      if (r.pausedUntil > now) {
        this.paused.add(r);
        this.scheduleAt(r.pausedUntil - now);
        continue;
      }
      const p = this.serve(r);
      if (p === "idle" || p === "full") continue;
      if (p === "tokens") {
        this.waitingTokens.add(r);
        this.scheduleAt(this.msUntilToken());
        continue;
      }
      this.dirty.add(r); // to the end: the other routes come first
      if (p === "more") again = true;
    }
    if (again) this.schedule();
  }
}
