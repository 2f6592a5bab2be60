/**
 * The gateway's topology (alink.md sections 3.2-3.4): read once per connection, relations added (signed with each
 * sub-device's secret) for configured devices, deleted for devices no longer configured when pruning is on.
 */
import type { AlinkReply } from "./connection.js";
import { chunk, MINUTE, type Dev, type SessionContext } from "./session-types.js";
import { topoAddItem } from "./sign.js";
import { topics, type Identity } from "./topics.js";
import { deviceKey } from "../../core/device-key.js";

export class Topology {
  /** The relations reported at the last connect, for devices configured after it. */
  private boundAtConnect = new Set<string>();
  reconciled = false;

  constructor(private readonly ctx: SessionContext) {}

  /** Whether a device configured now was already bound at the last connect. */
  knownBound(key: string): boolean {
    return this.reconciled && this.boundAtConnect.has(key);
  }

  async reconcile(configKnown: boolean): Promise<void> {
    const ctx = this.ctx;
    const gw = ctx.link.gateway;
    const r = await ctx.link.request(topics.topoGet(gw), { version: "1.0", params: {}, method: "thing.topo.get" });
    if (r.code !== 200 || !Array.isArray(r.data)) {
      ctx.logger.warn({ code: r.code, message: r.message }, "topo get failed; assuming no sub-device is bound");
      for (const d of ctx.devs.values()) d.bound = false;
      this.reconciled = true;
      return;
    }
    const list = r.data as Identity[];
    this.boundAtConnect = new Set(list.map((d) => deviceKey(d.productKey, d.deviceName)));
    for (const d of ctx.devs.values()) d.bound = this.boundAtConnect.has(d.key);
    this.reconciled = true;
    if (!ctx.limits.pruneTopology || !configKnown) return;
    const extra = list.filter((d) => !ctx.devs.get(deviceKey(d.productKey, d.deviceName))?.configured);
    for (const batch of chunk(extra, ctx.limits.batchSize)) {
      if (await this.delete(batch)) ctx.logger.info({ devices: batch.map((d) => deviceKey(d.productKey, d.deviceName)) }, "topology pruned: devices no longer configured");
    }
  }

  async bindMissing(): Promise<void> {
    const ctx = this.ctx;
    const due = [...ctx.devs.values()].filter((d) => ctx.wantsLogin(d) && !d.bound && ctx.secretOf(d) && d.nextAttemptAt <= ctx.passNow());
    for (const batch of chunk(due, ctx.limits.batchSize)) {
      const ok = await this.add(batch);
      // The reply carries no per-device result: retry a failed batch one device at a time.
      if (!ok && batch.length > 1) for (const d of batch) await this.add([d]);
    }
  }

  /** Deletes the relations; true when the platform accepted (6100: already gone). */
  async delete(devices: Identity[]): Promise<boolean> {
    const ctx = this.ctx;
    try {
      const r = await ctx.link.request(topics.topoDelete(ctx.link.gateway), {
        version: "1.0", params: devices.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName })), method: "thing.topo.delete",
      });
      if (r.code === 200 || r.code === 6100) {
        ctx.counters.topoDeletes += devices.length;
        return true;
      }
      ctx.logger.warn({ devices: devices.map((d) => deviceKey(d.productKey, d.deviceName)), code: r.code, message: r.message }, "topo delete refused");
    } catch (err) {
      ctx.logger.warn({ devices: devices.map((d) => deviceKey(d.productKey, d.deviceName)), err: (err as Error).message }, "topo delete failed");
    }
    return false;
  }

  private async add(batch: Dev[]): Promise<boolean> {
    const ctx = this.ctx;
    const ts = String(ctx.now());
    let r: AlinkReply;
    try {
      r = await ctx.link.request(topics.topoAdd(ctx.link.gateway), {
        version: "1.0",
        params: batch.map((d) => topoAddItem({ productKey: d.productKey, deviceName: d.deviceName, deviceSecret: ctx.secretOf(d)! }, ts)),
        method: "thing.topo.add",
      });
    } catch (err) {
      for (const d of batch) ctx.backoff(d, 30_000, `topo add failed: ${(err as Error).message}`);
      return false;
    }
    if (r.code === 200) {
      for (const d of batch) d.bound = true;
      ctx.counters.topoAdds += batch.length;
      return true;
    }
    if (batch.length === 1) {
      const d = batch[0]!;
      if (r.code === 6402 || r.code === 460) ctx.setStatus(d, "error", `topo add refused (${r.code})`);
      else if (r.code === 401) ctx.backoff(d, 10 * MINUTE, "topo add refused: bad sub-device secret (401)");
      else ctx.backoff(d, 60_000, `topo add refused (${r.code})`);
      ctx.logger.warn({ device: d.key, code: r.code, message: r.message }, "topo add refused");
    }
    return false;
  }
}
