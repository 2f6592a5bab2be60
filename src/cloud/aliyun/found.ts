/**
 * Discovery on Alibaba (alink.md sections 3.5 and 3.6): devices found on a line (`fieldbridge scan --report`) are
 * reported with `thing.list.found`; a cloud application picks some and the cloud answers `thing.topo.add.notify`.
 * A notified device that this gateway reported becomes one of its sub-devices (registration, topology and login as
 * for a document's device, and it stays so across restarts); it is polled once a gateway config document maps it.
 * A notified device this gateway never reported is left to the sub-device manager (which only rebinds configured
 * ones). Both lists are kept in the kv store.
 */
import type { Logger } from "pino";
import type { AlinkConnection, AlinkReply } from "./connection.js";
import { replyTopic, topics, type Identity } from "./topics.js";
import type { KvStore } from "../../store/kv.js";
import { deviceKey } from "../../core/device-key.js";
import { isObject } from "../../core/json.js";

const DEVICE_NAME = /^[A-Za-z0-9_@.:-]{4,32}$/;
/** Items per thing.list.found message (the seed states no limit; a bounded message is safer). */
const BATCH = 50;
/** Codes that a later attempt cannot change (alink.md 3.5). */
const FINAL = new Set([460, 6250, 6280]);
const KV_REPORTED = "aliyun/found/reported";
const KV_ADDED = "aliyun/found/added";

type Result = { ok: true } | { ok: false; retry: boolean; reason: string };

export class DiscoveredDevices {
  private readonly reported: Map<string, Identity>;
  private readonly added: Map<string, Identity>;

  constructor(
    private readonly link: AlinkConnection,
    private readonly kv: KvStore,
    private readonly logger: Logger,
  ) {
    const load = (key: string) => new Map((kv.get<Identity[]>(key) ?? []).map((d) => [deviceKey(d.productKey, d.deviceName), d] as const));
    this.reported = load(KV_REPORTED);
    this.added = load(KV_ADDED);
  }

  /** Sub-devices added by a notify, beyond those of the document. */
  addedDevices(): Identity[] {
    return [...this.added.values()];
  }

  async report(devices: ReadonlyArray<Identity>): Promise<Result> {
    const bad = devices.filter((d) => !DEVICE_NAME.test(d.deviceName) || !d.productKey);
    if (bad.length) return { ok: false, retry: false, reason: `device names break the platform's rules (4-32 of A-Z a-z 0-9 _ @ . : -): ${bad.map((d) => d.deviceName).join(", ")}` };
    if (!this.link.connected) return { ok: false, retry: true, reason: "not connected" };
    const gw = this.link.gateway;
    const topic = `/sys/${gw.productKey}/${gw.deviceName}/thing/list/found`;
    for (let i = 0; i < devices.length; i += BATCH) {
      const batch = devices.slice(i, i + BATCH).map((d) => ({ productKey: d.productKey, deviceName: d.deviceName }));
      let r: AlinkReply;
      try {
        await this.link.subscribe([replyTopic(topic)]);
        r = await this.link.request(topic, { version: "1.0", params: batch, method: "thing.list.found" });
      } catch (err) {
        return { ok: false, retry: true, reason: (err as Error).message };
      }
      if (r.code !== 200) {
        const reason = `thing.list.found refused ${r.code}${r.message ? `: ${r.message}` : ""}`;
        return { ok: false, retry: !FINAL.has(r.code), reason };
      }
      for (const d of batch) this.reported.set(deviceKey(d.productKey, d.deviceName), d);
      this.kv.set(KV_REPORTED, [...this.reported.values()]);
    }
    return { ok: true };
  }

  /**
   * A `thing.topo.add.notify` (seen before the sub-device manager answers it): the reported devices it names become
   * sub-devices of this gateway. Returns those newly added.
   */
  onNotify(topic: string, msg: Record<string, unknown> | null): Identity[] {
    if (topic !== topics.topoAddNotify(this.link.gateway) || !msg) return [];
    const params = msg["params"];
    const list = Array.isArray(params) ? params : isObject(params) ? [params] : [];
    const fresh: Identity[] = [];
    for (const p of list) {
      if (!isObject(p) || typeof p["productKey"] !== "string" || typeof p["deviceName"] !== "string") continue;
      const key = deviceKey(p["productKey"], p["deviceName"]);
      const known = this.reported.get(key);
      if (!known || this.added.has(key)) continue;
      this.added.set(key, known);
      fresh.push(known);
    }
    if (fresh.length) {
      this.kv.set(KV_ADDED, [...this.added.values()]);
      this.logger.info({ devices: fresh.map((d) => deviceKey(d.productKey, d.deviceName)) }, "discovered devices added by the cloud (topo add notify): registering and logging them in; polled once a gateway config maps them");
    }
    return fresh;
  }

  /** The cloud deleted the device: it is no longer added. */
  forget(key: string): void {
    if (this.added.delete(key)) this.kv.set(KV_ADDED, [...this.added.values()]);
  }
}
