/**
 * Thing models from the cloud (alink.md section 3.18): for each product the applied document has no `tslList` entry
 * for, the TSL is asked of the platform through one of the product's devices that is online there, checked like a
 * pushed one (the document's mapping cross-checks and compileTsl, config/gateway/cloud-tsl.ts), cached in the
 * database and the document applied again with it. Until then the product's devices are held (not polled), so no
 * value is sampled against an unknown model. A refused template is logged once with its problems, shown in /status,
 * and asked again only after `refusedRetryMs`; the other products run.
 */
import type { Logger } from "pino";
import type { DeviceKey, TslFetch } from "../cloud/platform.js";
import type { GatewayConfig } from "../config/gateway/index.js";
import type { TslDocument } from "../things/tsl-types.js";
import type { TslCache } from "../store/tsl-cache.js";
import { Backoff } from "./backoff.js";

export const TSL_HOLD = "tsl";

export interface CloudTslOptions {
  cache: TslCache;
  logger: Logger;
  /** The adapter's `fetchTsl`; undefined on a platform that cannot fetch (nothing is ever pending there). */
  fetch: ((productKey: string, viaDevice: DeviceKey) => Promise<TslFetch>) | undefined;
  /** Devices of the product online on the platform now. */
  onlineDevices: (productKey: string) => DeviceKey[];
  hold: (device: DeviceKey, held: boolean) => Promise<void>;
  /** The problems a candidate brings with the running document (`path: message`); empty: usable. */
  check: (productKey: string, tsl: unknown) => string[];
  /** Applies the running document again (its parse takes the cached models). */
  reapply: () => Promise<void>;
  retryMinMs?: number;
  retryMaxMs?: number;
  refusedRetryMs?: number;
}

export interface CloudTslStatus {
  productKey: string;
  /** waiting: no device of the product online yet; fetching; failed: retried; refused: failed validation; cached: in use. */
  state: "waiting" | "fetching" | "failed" | "refused" | "cached";
  since: string | null;
  reason?: string;
  problems?: string[];
}

interface Pending {
  productKey: string;
  state: "waiting" | "fetching" | "failed" | "refused";
  since: number;
  reason?: string;
  problems?: string[];
  /** The refusal last logged (problems joined): logged once, again only when it changes. */
  logged?: string;
  dueAt: number;
  backoff: Backoff;
  /** Rotates through the online devices when one cannot give the model. */
  turn: number;
}

export class CloudTslManager {
  private readonly pending = new Map<string, Pending>();
  private held = new Set<DeviceKey>();
  private fetched: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly o: CloudTslOptions) {}

  /** What the parse needs: whether missing models are fetched, and the cached ones. */
  parseContext(): { fetchTsl: boolean; cloudTsls: Record<string, TslDocument> } {
    return { fetchTsl: this.o.fetch !== undefined, cloudTsls: this.o.fetch ? this.o.cache.all() : {} };
  }

  /** Before the field side applies `next`: holds the devices of pending products (a held device is never started). */
  async beforeApply(next: GatewayConfig): Promise<void> {
    const pending = new Set(next.cloudTsl?.pending ?? []);
    for (const pk of [...this.pending.keys()]) if (!pending.has(pk)) this.pending.delete(pk);
    for (const pk of pending) {
      const known = this.pending.get(pk);
      // A new document may have changed the mapping a refused template failed: ask again at once.
      if (known?.state === "refused") known.dueAt = 0;
      if (!known) {
        this.pending.set(pk, { productKey: pk, state: "waiting", since: Date.now(), dueAt: 0, turn: 0, backoff: new Backoff(this.o.retryMinMs ?? 2000, this.o.retryMaxMs ?? 300_000) });
        this.o.logger.info({ product: pk }, "no tslList entry for the product: its TSL is fetched from the cloud; its devices are not polled until then");
      }
    }
    for (const d of next.devices) {
      if (pending.has(d.productKey) && !this.held.has(d.key)) {
        this.held.add(d.key);
        await this.o.hold(d.key, true);
      }
    }
    this.fetched = [...(next.cloudTsl?.fetched ?? [])];
    this.schedule(0);
  }

  /** After `next` is applied: releases the devices whose product's model is now known (or that left the document). */
  async afterApply(next: GatewayConfig): Promise<void> {
    const stillHeld = new Set(next.devices.filter((d) => this.pending.has(d.productKey)).map((d) => d.key));
    for (const key of [...this.held]) {
      if (stillHeld.has(key)) continue;
      this.held.delete(key);
      await this.o.hold(key, false);
    }
  }

  /** A device came online on the platform: a pending product may be fetched through it now. */
  wake(): void {
    if (this.pending.size) this.schedule(0);
  }

  status(): CloudTslStatus[] {
    const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
    const out: CloudTslStatus[] = [...this.pending.values()].map((p) => ({
      productKey: p.productKey, state: p.state, since: iso(p.since),
      ...(p.reason ? { reason: p.reason } : {}), ...(p.problems ? { problems: p.problems } : {}),
    }));
    for (const pk of this.fetched) out.push({ productKey: pk, state: "cached", since: iso(this.o.cache.fetchedAt(pk)) });
    return out;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped || this.pending.size === 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pass(), Math.max(0, ms));
    this.timer.unref?.();
  }

  private async pass(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const p of [...this.pending.values()]) {
        if (this.stopped) return;
        if (p.dueAt <= Date.now() && this.pending.get(p.productKey) === p) await this.attempt(p);
      }
    } finally {
      this.running = false;
    }
    const due = Math.min(...[...this.pending.values()].map((p) => p.dueAt));
    // Re-checked now and then: a device of a waiting product may come online without a wake.
    if (Number.isFinite(due)) this.schedule(Math.min(5000, Math.max(200, due - Date.now())));
  }

  private async attempt(p: Pending): Promise<void> {
    const online = this.o.onlineDevices(p.productKey);
    if (online.length === 0) {
      this.set(p, "waiting", "no device of the product is online on the platform yet");
      p.dueAt = Date.now() + 1000;
      return;
    }
    const via = online[p.turn++ % online.length]!;
    this.set(p, "fetching", `through ${via}`);
    const r = await this.o.fetch!(p.productKey, via);
    if (this.pending.get(p.productKey) !== p) return;
    if (!r.ok) {
      p.dueAt = Date.now() + (r.otherDevice && online.length > 1 ? 0 : p.backoff.next());
      this.set(p, "failed", r.reason);
      this.o.logger.warn({ product: p.productKey, via, reason: r.reason }, "fetching the product's TSL from the cloud failed; retrying");
      return;
    }
    const problems = this.o.check(p.productKey, r.tsl);
    if (problems.length) {
      p.problems = problems;
      p.dueAt = Date.now() + (this.o.refusedRetryMs ?? 600_000);
      this.set(p, "refused", `the template fails validation (${problems.length} problem${problems.length === 1 ? "" : "s"})`);
      const key = problems.join("\n");
      if (p.logged !== key) {
        p.logged = key;
        this.o.logger.error({ product: p.productKey, via, problems }, "TSL template from the cloud refused: its devices stay unpolled");
      }
      return;
    }
    this.o.cache.put(p.productKey, r.tsl as TslDocument);
    this.o.logger.info({ product: p.productKey, via }, "TSL fetched from the cloud, validated and cached; applying the gateway config with it");
    p.backoff.reset();
    p.dueAt = Date.now() + 5000;
    try {
      await this.o.reapply();
    } catch (err) {
      this.o.logger.error({ product: p.productKey, err: (err as Error).message }, "applying the gateway config with the fetched TSL failed");
    }
  }

  private set(p: Pending, state: Pending["state"], reason: string): void {
    if (p.state !== state) p.since = Date.now();
    p.state = state;
    p.reason = reason;
    if (state !== "refused") delete p.problems;
  }
}
