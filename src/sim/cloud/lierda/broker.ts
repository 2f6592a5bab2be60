/**
 * The aedes hooks that make the broker act as the X platform (lierda.md §3.3, §3.4, §3.6, §3.8, §5): CONNECT
 * checks of both connection kinds, per-connection publish and subscribe rules, and forwarding of the
 * platform's own downlinks only to the device they address.
 */
import type { AedesOptions, AuthenticateError, Client } from "aedes";
import { decryptPassword, HEX8, NODE_EUI } from "./codec.js";
import type { Registry } from "./registry.js";

export interface ConnInfo {
  kind: "auth" | "device";
  key: string;
  prefix: string;
  clientId: string;
}

export interface ConnectRecord {
  kind: "auth" | "device" | "unknown";
  device?: string;
  clientId: string;
  accepted: boolean;
  returnCode: number;
  reason: string;
  time: number;
}

export interface AclRefusal {
  device?: string;
  kind: "publish" | "subscribe";
  topic: string;
  reason: string;
  time: number;
}

export interface HookContext {
  registry: Registry;
  now(): number;
  /** A CONNACK fault for this device key, when one is armed. */
  connectFault(key: string | undefined): number | undefined;
  /** A SUBACK failure for this device key, when one is armed. */
  subscribeFault(key: string): boolean;
  connect(rec: ConnectRecord): void;
  accepted(client: Client, info: ConnInfo): void;
  closed(client: Client): void;
  refused(r: AclRefusal): void;
  info(client: Client): ConnInfo | undefined;
  isDownlink(payload: unknown): boolean;
}

type Hooks = Required<Pick<AedesOptions, "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward">>;

const UPLINK_SUFFIX =
  /^(model\/property\/report|model\/history\/data\/report|model\/event\/[^/+#]+\/report|model\/property\/set_ack|model\/service\/[^/+#]+\/ack|config_report|update_time|firmware_report|ota_notify_ack|downlink_ack)$/;
const FILTERS = ["+", "model/property/set", "model/property/ask", "model/service/+", "model/property/report_ack", "model/history/data/report_ack", "model/event/+/report_ack"];

export function createHooks(ctx: HookContext): Hooks {
  const pre = new WeakMap<Client, { clientId: string; will: boolean; clean: boolean }>();
  const err = (code: number, reason: string) => Object.assign(new Error(reason), { returnCode: code }) as AuthenticateError;

  return {
    preConnect(client, packet, cb) {
      pre.set(client, { clientId: packet.clientId, will: !!packet.will, clean: packet.clean !== false });
      client.conn.once("close", () => ctx.closed(client));
      cb(null, true);
    },

    authenticate(client, username, password, done) {
      const p = pre.get(client) ?? { clientId: client.id, will: false, clean: true };
      const pw = password ? password.toString("utf8") : "";
      const user = username ?? "";
      const reg = ctx.registry;
      const refuse = (kind: ConnectRecord["kind"], code: number, reason: string, device?: string) => {
        ctx.connect({ kind, ...(device ? { device } : {}), clientId: p.clientId, accepted: false, returnCode: code, reason, time: ctx.now() });
        done(err(code, reason), false);
      };
      const auth = /^AUTH-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})$/.exec(user);
      if (auth) {
        const [, openId, pid] = auth;
        const cid = /^([0-9A-Fa-f]{8})-([A-Za-z0-9]{4,32})$/.exec(p.clientId);
        const key = cid ? `${cid[1]}/${cid[2]}` : undefined;
        const fault = ctx.connectFault(key);
        if (fault !== undefined) return refuse("auth", fault, "injected", key);
        const product = reg.products.get(pid!);
        if (openId !== reg.openId || !product) return refuse("auth", 4, "unknown OpenID/ProductID", key);
        if (!cid || cid[1] !== pid) return refuse("auth", 2, "auth clientId must be ProductID-NodeEui", key);
        if (pw !== product.productKey) return refuse("auth", 4, "ProductKey does not match", key);
        if (p.will || !p.clean) return refuse("auth", 5, "will or persistent session not allowed", key);
        const prefix = `/sys/${openId}/${pid}/${cid[2]}`;
        ctx.connect({ kind: "auth", device: key!, clientId: p.clientId, accepted: true, returnCode: 0, reason: "ok", time: ctx.now() });
        ctx.accepted(client, { kind: "auth", key: key!, prefix, clientId: p.clientId });
        return done(null, true);
      }
      const dev = /^([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-([A-Za-z0-9]{4,32})$/.exec(user);
      if (!dev) return refuse("unknown", 4, "user name is neither AUTH-OpenID-ProductID nor OpenID-ProductID-NodeEui");
      const [, openId, pid, eui] = dev;
      const key = `${pid}/${eui}`;
      const fault = ctx.connectFault(key);
      if (fault !== undefined) return refuse("device", fault, "injected", key);
      const cid = /^V2_([0-9A-Fa-f]{8})\.([A-Za-z0-9]{4,32})_([01])_(\d{1,12})$/.exec(p.clientId);
      if (!cid || cid[1] !== pid || cid[2] !== eui) return refuse("device", 2, "clientId must be V2_ProductID.NodeEui_type_Timestamp of the user", key);
      const product = reg.products.get(pid!);
      const d = reg.get(key);
      if (openId !== reg.openId || !product || !d) return refuse("device", 4, "unknown device", key);
      if (!d.secret) return refuse("device", 4, "device has no DeviceSecret yet (auth first)", key);
      const type = Number(cid[3]);
      const ts = Number(cid[4]);
      const base = `${pid}.${eui}_${product.productKey}`;
      const expected = type === 1 ? `${base}_${ts}` : base;
      const content = decryptPassword(d.secret, pw);
      if (content !== expected) return refuse("device", 4, "password does not decrypt to the expected content", key);
      if (type === 1) {
        const nowS = Math.floor(ctx.now() / 1000);
        if (ts > nowS) return refuse("device", 4, "timestamp is in the future", key);
        if (d.lastOfflineS !== undefined && ts <= d.lastOfflineS) return refuse("device", 4, "timestamp not after the last offline time", key);
      }
      if (d.disabled) return refuse("device", 5, "device disabled", key);
      if (p.will || !p.clean) return refuse("device", 5, "will or persistent session not allowed", key);
      if (!HEX8.test(pid!) || !NODE_EUI.test(eui!)) return refuse("device", 2, "identifier format", key);
      ctx.connect({ kind: "device", device: key, clientId: p.clientId, accepted: true, returnCode: 0, reason: "ok", time: ctx.now() });
      ctx.accepted(client, { kind: "device", key, prefix: `/sys/${openId}/${pid}/${eui}`, clientId: p.clientId });
      done(null, true);
    },

    authorizePublish(client, packet, cb) {
      if (!client) return cb(null);
      const info = ctx.info(client);
      let reason: string | undefined;
      if (!info) reason = "not authenticated";
      else if (packet.qos !== 1) reason = `QoS ${packet.qos}: the gateway publishes with QoS 1`;
      else if (packet.retain) reason = "retained messages are not allowed";
      else if (info.kind === "auth") reason = packet.topic === "/sys/device/auth" ? undefined : "an auth connection publishes only /sys/device/auth";
      else if (!packet.topic.startsWith(`${info.prefix}/`) || !UPLINK_SUFFIX.test(packet.topic.slice(info.prefix.length + 1))) {
        reason = "topic not allowed for this device";
      }
      if (reason) {
        ctx.refused({ ...(info ? { device: info.key } : {}), kind: "publish", topic: packet.topic, reason, time: ctx.now() });
        return cb(new Error(reason));
      }
      cb(null);
    },

    authorizeSubscribe(client, sub, cb) {
      const info = ctx.info(client);
      let reason: string | undefined;
      if (!info) reason = "not authenticated";
      else if (sub.qos !== 1) reason = `QoS ${sub.qos}: subscriptions are QoS 1`;
      else if (info.kind === "auth") reason = sub.topic === `${info.prefix}/downlink` ? undefined : "an auth connection subscribes only P/downlink";
      else if (!FILTERS.some((f) => `${info.prefix}/${f}` === sub.topic)) reason = "filter not allowed for this device";
      else if (ctx.subscribeFault(info.key)) reason = "injected";
      if (reason) {
        ctx.refused({ ...(info ? { device: info.key } : {}), kind: "subscribe", topic: sub.topic, reason, time: ctx.now() });
        return cb(null, null);
      }
      cb(null, sub);
    },

    authorizeForward(client, packet) {
      if (!ctx.isDownlink(packet.payload)) return null;
      const info = ctx.info(client);
      if (!info || !packet.topic.startsWith(`${info.prefix}/`)) return null;
      if (info.kind === "auth" && packet.topic !== `${info.prefix}/downlink`) return null;
      return packet;
    },
  };
}
