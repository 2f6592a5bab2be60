/**
 * Gateway operations on `$gateway/operation/{gw}` (tencent.md 4.1): there is no token, so a reply is matched by
 * its `type` and each device pair; at most `batchSize` devices per message, paced by `loginsPerSecond` devices
 * per second. A request without a reply within the timeout fails for all its devices (result undefined).
 */
import { TokenBucket } from "../../core/token-bucket.js";
import type { MqttLink } from "../mqtt/link.js";
import type { DevicePair } from "./downlink.js";
import { tencentTopics } from "./topics.js";

export type OpType = "bind" | "unbind" | "online" | "offline";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class GatewayOps {
  private readonly waiting = new Map<string, (result: number) => void>();
  private describeWaiter: ((pairs: string[] | undefined) => void) | undefined;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly link: MqttLink,
    private readonly gw: string,
    private readonly batchSize: number,
    loginsPerSecond: number,
    private readonly timeoutMs: number,
  ) {
    this.bucket = new TokenBucket(loginsPerSecond, Math.max(batchSize, Math.ceil(loginsPerSecond)));
  }

  /** `describe_sub_devices`: the bound pairs, or undefined without a reply in time. */
  async describe(): Promise<string[] | undefined> {
    const reply = new Promise<string[] | undefined>((resolve) => {
      const t = setTimeout(() => { this.describeWaiter = undefined; resolve(undefined); }, this.timeoutMs);
      this.describeWaiter = (pairs) => { clearTimeout(t); this.describeWaiter = undefined; resolve(pairs); };
    });
    try {
      await this.link.publish(tencentTopics.gatewayOp(this.gw), JSON.stringify({ type: "describe_sub_devices" }));
    } catch {
      this.describeWaiter?.(undefined);
      return undefined;
    }
    return reply;
  }

  /** Runs `type` for every entry (batched and paced); resolves with the result per pair (undefined: no reply). */
  async run(type: OpType, entries: ReadonlyArray<DevicePair>, paced = true): Promise<Map<string, number | undefined>> {
    const results = new Map<string, number | undefined>();
    const batches: Array<Promise<void>> = [];
    for (let i = 0; i < entries.length; i += this.batchSize) {
      const batch = entries.slice(i, i + this.batchSize);
      if (paced) {
        while (this.bucket.available() < Math.min(batch.length, this.batchSize)) await sleep(Math.max(10, this.bucket.msUntilToken()));
        this.bucket.consume(batch.length);
      }
      batches.push(this.one(type, batch, results));
    }
    await Promise.all(batches);
    return results;
  }

  private async one(type: OpType, batch: ReadonlyArray<DevicePair>, results: Map<string, number | undefined>): Promise<void> {
    const waits = batch.map((e) => {
      const key = `${type}|${e.product_id}/${e.device_name}`;
      return new Promise<void>((resolve) => {
        const t = setTimeout(() => { this.waiting.delete(key); results.set(`${e.product_id}/${e.device_name}`, undefined); resolve(); }, this.timeoutMs);
        this.waiting.set(key, (r) => { clearTimeout(t); this.waiting.delete(key); results.set(`${e.product_id}/${e.device_name}`, r); resolve(); });
      });
    });
    try {
      await this.link.publish(tencentTopics.gatewayOp(this.gw), JSON.stringify({ type, payload: { devices: batch } }));
    } catch {
      for (const e of batch) this.waiting.get(`${type}|${e.product_id}/${e.device_name}`)?.(Number.NaN);
    }
    await Promise.all(waits);
    for (const [k, v] of results) if (Number.isNaN(v)) results.set(k, undefined);
  }

  /** A reply on the result topic; true when it answered one of ours. */
  onReply(type: string, devices: ReadonlyArray<DevicePair & { result: number }>): boolean {
    if (type === "describe_sub_devices") {
      if (!this.describeWaiter) return false;
      this.describeWaiter(devices.map((d) => `${d.product_id}/${d.device_name}`));
      return true;
    }
    let matched = false;
    for (const d of devices) {
      const w = this.waiting.get(`${type}|${d.product_id}/${d.device_name}`);
      if (w) { w(d.result); matched = true; }
    }
    return matched;
  }

  /** Fails every waiting request at once (connection lost). */
  failAll(): void {
    for (const w of [...this.waiting.values()]) w(Number.NaN);
    this.describeWaiter?.(undefined);
  }
}
