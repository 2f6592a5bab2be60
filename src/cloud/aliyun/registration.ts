/** Dynamic registration (alink.md section 3.1): sub-devices without a secret get one, stored before it is used. */
import type { AlinkReply } from "./connection.js";
import { chunk, MINUTE, type SessionContext } from "./session-types.js";
import { topics } from "./topics.js";

export async function registerMissing(ctx: SessionContext): Promise<void> {
  const missing = [...ctx.devs.values()].filter((d) => ctx.wantsLogin(d) && !ctx.secretOf(d) && d.nextAttemptAt <= ctx.passNow());
  for (const batch of chunk(missing, ctx.limits.batchSize)) {
    let r: AlinkReply;
    try {
      r = await ctx.link.request(topics.subRegister(ctx.link.gateway), {
        version: "1.0", params: batch.map((d) => ({ productKey: d.productKey, deviceName: d.deviceName })), method: "thing.sub.register",
      });
    } catch (err) {
      for (const d of batch) ctx.backoff(d, 30_000, `registration failed: ${(err as Error).message}`);
      continue;
    }
    if (r.code !== 200 || !Array.isArray(r.data)) {
      for (const d of batch) {
        if (r.code === 460 || r.code === 6402) ctx.setStatus(d, "error", `registration refused (${r.code}${r.message ? ` ${r.message}` : ""})`);
        else ctx.backoff(d, r.code === 401 ? 10 * MINUTE : 60_000, `registration refused (${r.code})`);
      }
      ctx.logger.warn({ code: r.code, message: r.message, devices: batch.map((d) => d.key) }, "sub-device registration refused");
      continue;
    }
    for (const item of r.data as Array<Record<string, unknown>>) {
      const key = `${item["productKey"]}/${item["deviceName"]}`;
      const dev = ctx.devs.get(key);
      if (dev && typeof item["deviceSecret"] === "string") {
        // Stored durably before it is used (the platform issues it once).
        ctx.secrets.set(dev.productKey, dev.deviceName, item["deviceSecret"]);
        ctx.counters.registrations++;
        ctx.logger.info({ device: key }, "sub-device registered");
      }
    }
    for (const d of batch) if (!ctx.secretOf(d)) ctx.backoff(d, 60_000, "registration returned no secret");
  }
}
