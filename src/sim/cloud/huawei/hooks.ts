/**
 * The aedes hooks that make the broker behave like the platform's MQTT access (huawei.md sections 2, 3.1):
 * CONNECT verification with the section 2.3 codes, one connection per identity (a newer one pushes the older
 * out), each connection publishing and subscribing only on its own two topics, no QoS 2, no retain, and no
 * device-to-device forwarding.
 */
import type { AedesOptions, AuthenticateError, Client } from "aedes";
import { parseTopic, passwordMatches, splitClientId, stampToMs, upTopic, downTopic, type Encoding } from "./codec.js";
import type { EmuDevice, Records, Registry } from "./state.js";

export const KEEPALIVE_MIN = 30;
export const KEEPALIVE_MAX = 1200;
const FIELD_MAX = 256;
const HOUR_MS = 3_600_000;

export interface ConnectFault {
  code: number;
  device?: string;
  remaining: number;
}

export interface HookContext {
  registry: Registry;
  records: Records;
  encoding: Encoding;
  now(): number;
  /** The next injected CONNACK code for a connect of `device` (or any), if one is armed. */
  takeConnectFault(device: string | undefined): number | undefined;
  accepted(client: Client, device: EmuDevice, identity: string): void;
  closed(client: Client): void;
  subscribed(client: Client, topic: string): void;
  /** The device and identity of an accepted client. */
  identityOf(client: Client): { device: EmuDevice; identity: string } | undefined;
  /** Handles an accepted data-topic message (before the PUBACK goes out). */
  uplink(client: Client, topic: string, payload: Buffer, qos: number): void;
  isDownlink(payload: unknown): boolean;
}

type Hooks = Required<Pick<AedesOptions, "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward">>;

interface ConnectInfo {
  clientId: string;
  keepalive: number;
  clean: boolean;
  will: boolean;
}

export function createHooks(ctx: HookContext): Hooks {
  const info = new WeakMap<Client, ConnectInfo>();
  const refuse = (code: number, reason: string): AuthenticateError => Object.assign(new Error(reason), { returnCode: code }) as AuthenticateError;

  return {
    preConnect(client, packet, callback) {
      info.set(client, { clientId: packet.clientId, keepalive: packet.keepalive ?? 0, clean: packet.clean !== false, will: !!packet.will });
      // Sessions are per identity, not per clientId (which carries the hour): the broker then closes an older
      // connection of the same identity when a newer one is accepted.
      const parts = splitClientId(packet.clientId);
      if (parts) packet.clientId = `hw:${parts.authType}:${parts.id}`;
      client.conn.once("close", () => ctx.closed(client));
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      const ci = info.get(client) ?? { clientId: client.id, keepalive: 0, clean: true, will: false };
      const parts = splitClientId(ci.clientId);
      const device = parts ? ctx.registry.byIdentity(parts.id, parts.authType) : undefined;
      const record = (returnCode: number, reason: string) =>
        ctx.records.push(ctx.records.connects, {
          clientId: ci.clientId,
          ...(parts ? { id: parts.id, authType: parts.authType, signType: parts.signType } : {}),
          ...(device ? { device: device.key } : {}),
          keepalive: ci.keepalive,
          clean: ci.clean,
          will: ci.will,
          accepted: returnCode === 0,
          returnCode,
          reason,
          time: ctx.now(),
        });
      const no = (code: number, reason: string) => {
        record(code, reason);
        done(refuse(code, reason), false);
      };
      const fault = ctx.takeConnectFault(device?.key);
      if (fault !== undefined) return no(fault, "injected refusal");
      if (!parts || !["0", "2"].includes(parts.authType) || !["0", "1"].includes(parts.signType) || ci.clientId.length > FIELD_MAX) {
        return no(2, "clientId is not {id}_{authType}_{signType}_{YYYYMMDDHH}");
      }
      const stampMs = stampToMs(parts.stamp);
      if (stampMs === undefined) return no(2, "clientId timestamp is not a UTC hour YYYYMMDDHH");
      if (!device) return no(4, `unknown ${parts.authType === "0" ? "deviceId" : "nodeId"}`);
      const pw = password?.toString("utf8") ?? "";
      if (username !== parts.id) return no(4, "username is not the clientId's identity");
      if ((username?.length ?? 0) > FIELD_MAX || pw.length > FIELD_MAX) return no(4, "username or password longer than 256 characters");
      if (parts.signType === "1") {
        const hourNow = Math.floor(ctx.now() / HOUR_MS) * HOUR_MS;
        if (Math.abs(stampMs - hourNow) > HOUR_MS) return no(4, "timestamp more than one hour away from the platform's time");
      }
      if (!passwordMatches(pw, parts.stamp, device.secret, ctx.encoding)) return no(4, "wrong password");
      if (device.deleted) return no(5, "device deleted");
      if (ci.keepalive < KEEPALIVE_MIN || ci.keepalive > KEEPALIVE_MAX) return no(5, `keepalive ${ci.keepalive} s outside ${KEEPALIVE_MIN}..${KEEPALIVE_MAX}`);
      record(0, "ok");
      ctx.accepted(client, device, parts.id);
      done(null, true);
    },

    authorizePublish(client, packet, callback) {
      if (!client) return callback(null);
      const who = ctx.identityOf(client);
      let reason: string | undefined;
      if (!who) reason = "not authenticated";
      else if (packet.qos === 2) reason = "QoS 2 is not supported";
      else if (packet.retain) reason = "retained messages are not supported";
      else if (packet.topic !== upTopic(who.identity)) reason = parseTopic(packet.topic) ? "not this device's data topic" : "unknown topic";
      if (reason) {
        ctx.records.push(ctx.records.aclRefusals, { ...(who ? { device: who.device.key } : {}), kind: "publish", topic: packet.topic, reason, at: ctx.now() });
        return callback(new Error(reason));
      }
      ctx.uplink(client, packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload), packet.qos);
      callback(null);
    },

    authorizeSubscribe(client, sub, callback) {
      const who = ctx.identityOf(client);
      let reason: string | undefined;
      if (!who) reason = "not authenticated";
      else if (sub.qos === 2) reason = "QoS 2 is not supported";
      else if (sub.topic !== downTopic(who.identity)) reason = "only the device's own command topic may be subscribed";
      if (reason) {
        ctx.records.push(ctx.records.aclRefusals, { ...(who ? { device: who.device.key } : {}), kind: "subscribe", topic: sub.topic, reason, at: ctx.now() });
        return callback(null, null);
      }
      ctx.subscribed(client, sub.topic);
      callback(null, sub);
    },

    authorizeForward(client, packet) {
      const who = ctx.identityOf(client);
      if (!who || !ctx.isDownlink(packet.payload) || packet.topic !== downTopic(who.identity)) return null;
      return packet;
    },
  };
}
