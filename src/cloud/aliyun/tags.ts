/**
 * Device tags (alink.md 3.17, limits 4.4/4.5): the gateway tags itself (fieldbridge version, OS platform, Node
 * version, hostname, and the operator's `aliyun.tags`) on each connect, and each sub-device (channel, protocol,
 * Modbus unit id or OPC UA path) after its login, with `thing.deviceinfo.update`; tags no longer wanted are removed
 * with `thing.deviceinfo.delete`. What the platform acknowledged is remembered in the kv store, so nothing is sent
 * again while nothing changed (also across restarts). Tags are checked locally first (key `^[A-Za-z_][A-Za-z0-9_]*$`,
 * at most 100 bytes; value a string of at most 128 characters; at most 200 per message): a tag that breaks a rule is
 * not sent and is logged once; the others still are. Requests go one at a time, so 1,500 logins do not flood the link.
 * Replies: 200 remembered; 460 logged, the same set not sent again until it changes; 6100 logged and dropped; no
 * reply or a lost connection: tried again at the next login or connect.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { KvStore } from "../../store/kv.js";
import type { PlatformDevice } from "../platform.js";
import { AlinkRequestError, type AlinkConnection } from "./connection.js";
import { topics, type Identity } from "./topics.js";
import { deviceKey } from "../../core/device-key.js";
import { MAX_TAGS_PER_MESSAGE, tagProblem, type Tags } from "./tag-rules.js";

export type { Tags } from "./tag-rules.js";

/** The gateway's own tags. */
export function gatewayTags(version: string, extra: Tags = {}): Tags {
  return {
    fbVersion: version,
    fbOsPlatform: `${process.platform}-${process.arch}`,
    fbNodeVersion: process.version,
    fbHostname: hostname(),
    ...extra,
  };
}

/** A sub-device's tags: where it sits on the field side. */
export function deviceTags(d: PlatformDevice): Tags {
  const t: Tags = { fbChannel: d.spec.serverId };
  if (d.spec.modbus) Object.assign(t, { fbProtocol: "modbus", fbUnitId: String(d.spec.modbus.slaveId) });
  else if (d.spec.opcua) Object.assign(t, { fbProtocol: "opcua", fbOpcuaPath: d.spec.opcua.displayNamePath });
  return t;
}

const KV_PREFIX = "aliyun.tags/";

export interface DeviceTagsOptions {
  link: AlinkConnection;
  kv: KvStore;
  gateway: Identity;
  gatewayTags: Tags;
  /** Whether a sub-device is logged in (its topics are subscribed). */
  online: (key: string) => boolean;
  logger: Logger;
}

export class DeviceTags {
  private readonly wanted = new Map<string, { id: Identity; tags: Tags }>();
  private readonly queue = new Set<string>();
  /** Sets the platform refused (460, 6100), per device: not sent again until they change. */
  private readonly refused = new Map<string, string>();
  private readonly loggedInvalid = new Set<string>();
  private pumping = false;
  private readonly gwKey: string;
  readonly counters = { updates: 0, deletes: 0, refused: 0, invalid: 0 };

  constructor(private readonly o: DeviceTagsOptions) {
    this.gwKey = deviceKey(o.gateway.productKey, o.gateway.deviceName);
    this.wanted.set(this.gwKey, { id: o.gateway, tags: o.gatewayTags });
    o.link.on("connected", () => this.enqueue(this.gwKey));
  }

  /** The applied document's devices: their tags are sent at login, and again now when they changed. */
  setDevices(devices: readonly PlatformDevice[]): void {
    const keep = new Set([this.gwKey]);
    for (const d of devices) {
      keep.add(d.key);
      const before = this.wanted.get(d.key);
      const tags = deviceTags(d);
      this.wanted.set(d.key, { id: { productKey: d.productKey, deviceName: d.deviceName }, tags });
      if (before && JSON.stringify(before.tags) !== JSON.stringify(tags) && this.o.online(d.key)) this.enqueue(d.key);
    }
    for (const key of [...this.wanted.keys()]) {
      if (keep.has(key)) continue;
      this.wanted.delete(key);
      // Forgotten with the device: it gets its tags again should it come back.
      this.o.kv.delete(KV_PREFIX + key);
    }
  }

  /** Devices whose tags wait to be compared and sent (after a first start: every device, one request at a time). */
  get pending(): number {
    return this.queue.size + (this.pumping ? 1 : 0);
  }

  /** A sub-device logged in. */
  online(key: string): void {
    this.enqueue(key);
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.size && this.o.link.connected) {
        const key = this.queue.values().next().value as string;
        this.queue.delete(key);
        await this.sync(key).catch((err: Error) => this.o.logger.warn({ device: key, err: err.message }, "tags not sent"));
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Sends what differs from what the platform last acknowledged. */
  private async sync(key: string): Promise<void> {
    const w = this.wanted.get(key);
    if (!w || (key !== this.gwKey && !this.o.online(key))) return;
    const tags = this.valid(key, w.tags);
    const sent = this.o.kv.get<Tags>(KV_PREFIX + key) ?? {};
    const update = Object.entries(tags).filter(([k, v]) => sent[k] !== v);
    const remove = Object.keys(sent).filter((k) => !(k in tags));
    if (!update.length && !remove.length) return;
    const fingerprint = JSON.stringify([update, remove]);
    if (this.refused.get(key) === fingerprint) return;
    for (let i = 0; i < update.length; i += MAX_TAGS_PER_MESSAGE) {
      const part = update.slice(i, i + MAX_TAGS_PER_MESSAGE);
      const params = part.map(([attrKey, attrValue]) => ({ attrKey, attrValue }));
      if (!(await this.request(key, fingerprint, topics.tagsUpdate(w.id), "thing.deviceinfo.update", params))) return;
      this.counters.updates++;
      Object.assign(sent, Object.fromEntries(part));
      this.o.kv.set(KV_PREFIX + key, sent);
    }
    for (let i = 0; i < remove.length; i += MAX_TAGS_PER_MESSAGE) {
      const part = remove.slice(i, i + MAX_TAGS_PER_MESSAGE);
      if (!(await this.request(key, fingerprint, topics.tagsDelete(w.id), "thing.deviceinfo.delete", part.map((attrKey) => ({ attrKey }))))) return;
      this.counters.deletes++;
      for (const k of part) delete sent[k];
      this.o.kv.set(KV_PREFIX + key, sent);
    }
    this.o.logger.debug({ device: key, updated: update.map(([k]) => k), deleted: remove }, "tags sent");
  }

  /** Tags that pass the platform's rules; each one that does not is logged once. */
  private valid(key: string, tags: Tags): Tags {
    const out: Tags = {};
    for (const [k, v] of Object.entries(tags)) {
      const problem = tagProblem(k, v);
      if (!problem) {
        out[k] = v;
        continue;
      }
      const once = `${key}\u0000${k}`;
      if (this.loggedInvalid.has(once)) continue;
      this.loggedInvalid.add(once);
      this.counters.invalid++;
      this.o.logger.warn({ device: key, tag: k, problem }, "tag not sent: it breaks the platform's tag rules");
    }
    return out;
  }

  /** One request; true when acknowledged. */
  private async request(key: string, fingerprint: string, topic: string, method: string, params: unknown[]): Promise<boolean> {
    let reply;
    try {
      reply = await this.o.link.request(topic, { version: "1.0", params, method });
    } catch (err) {
      const kind = err instanceof AlinkRequestError ? err.kind : "publish";
      this.o.logger.debug({ device: key, kind }, "tags not acknowledged; sent again at the next login");
      return false;
    }
    if (reply.code === 200) return true;
    this.counters.refused++;
    const final = reply.code === 460 || reply.code === 6100;
    if (final) this.refused.set(key, fingerprint);
    const what = reply.code === 6100 ? "the platform does not know the device" : reply.code === 460 ? "the platform refused the tags as invalid" : "tags refused";
    this.o.logger.warn({ device: key, code: reply.code, message: reply.message, method }, `${what}; ${final ? "not sent again until they change" : "sent again at the next login"}`);
    return false;
  }

  status(): DeviceTags["counters"] {
    return { ...this.counters };
  }
}
