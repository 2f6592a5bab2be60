/**
 * The aedes hooks that make the broker behave like the platform: CONNECT verification (with injected
 * CONNACK failures), per-connection publish/subscribe rules, no QoS 2, no retain, and no device-to-device
 * forwarding (only the platform's own downlinks reach devices, and only under identities the connection
 * serves).
 *
 * The broker keys MQTT sessions by device (`pk/dn`), not by the client id string: the client id carries a
 * fresh timestamp on every connect, and the platform keeps one session per device, so a `clean: false`
 * reconnect finds its session and a second connection of the device takes over the first.
 */
import { TLSSocket } from "node:tls";
import type { AedesOptions, AuthenticateError, Client } from "aedes";
import { mayPublish, maySubscribe, topicScope } from "./acl.js";
import { verifyConnect } from "./connect-auth.js";
import type { Faults } from "./faults.js";
import type { Records } from "./records.js";
import { type DeviceState, keyOf, type Registry } from "./registry.js";

export interface HookContext {
  registry: Registry;
  records: Records;
  faults: Faults;
  now(): number;
  /** The connection of `client` was accepted as `device`. */
  connected(client: Client, device: DeviceState): void;
  /** The socket of `client` closed (whether or not it was accepted). */
  closed(client: Client): void;
  /** A subscription was granted. */
  subscribed(client: Client, filter: string): void;
  /** `pk/dn` of the device an accepted client authenticated as. */
  deviceOf(client: Client): string | undefined;
  /** Whether a payload was published by the platform itself (a downlink), not by a device. */
  isDownlink(payload: unknown): boolean;
}

type Hooks = Required<Pick<AedesOptions, "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward">>;

export interface BrokerHooks {
  hooks: Hooks;
  /** The client id as the device sent it (the broker's own `client.id` is the device key). */
  mqttClientId(client: Client): string;
}

export function createBrokerHooks(ctx: HookContext): BrokerHooks {
  const connectInfo = new WeakMap<Client, { keepalive: number; hasWill: boolean; clientId: string }>();
  const mqttClientId = (client: Client) => connectInfo.get(client)?.clientId ?? client.id;

  const authError = (code: number, reason: string): AuthenticateError =>
    Object.assign(new Error(reason), { returnCode: code }) as AuthenticateError;

  const subject = (client: Client) => {
    const ownKey = ctx.deviceOf(client) ?? "";
    return {
      ownKey,
      hasSession: (key: string) => {
        const d = ctx.registry.get(key);
        return !!d?.online && d.online.client === client && d.online.gatewayKey === ownKey;
      },
    };
  };

  const refuse = (client: Client, kind: "publish" | "subscribe", topic: string, reason: string) => {
    const from = ctx.deviceOf(client);
    ctx.records.add("refusals", { clientId: mqttClientId(client), ...(from ? { from } : {}), kind, topic, reason, time: ctx.now() });
  };

  const hooks: Hooks = {
    preConnect(client, packet, callback) {
      connectInfo.set(client, { keepalive: packet.keepalive ?? 0, hasWill: !!packet.will, clientId: packet.clientId });
      const named = /^([^&]+)&([^&]+)$/.exec(packet.username ?? "");
      if (named) packet.clientId = keyOf(named[2]!, named[1]!);
      client.conn.once("close", () => ctx.closed(client));
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      const info = connectInfo.get(client) ?? { keepalive: 0, hasWill: false, clientId: client.id };
      const tls = client.conn instanceof TLSSocket;
      const transport: "tls" | "tcp" = tls ? "tls" : "tcp";
      const named = /^([^&]+)&([^&]+)$/.exec(username ?? "");
      const namedKey = named ? keyOf(named[2]!, named[1]!) : undefined;
      const record = (accepted: boolean, returnCode: number, reason: string) =>
        ctx.records.add("connects", {
          clientId: info.clientId,
          accepted,
          reason,
          returnCode,
          ...(namedKey ? { deviceKey: namedKey } : {}),
          transport,
          time: ctx.now(),
        });

      const fault = ctx.faults.take("connect", namedKey ? [namedKey] : []);
      if (fault) {
        record(false, fault.code, fault.message);
        return done(authError(fault.code, fault.message), false);
      }
      const verdict = verifyConnect(
        { mqttClientId: info.clientId, username, password, keepalive: info.keepalive, tls, hasWill: info.hasWill },
        (pk, dn) => ctx.registry.find(pk, dn),
      );
      if (!verdict.ok) {
        record(false, verdict.returnCode, verdict.reason);
        return done(authError(verdict.returnCode, verdict.reason), false);
      }
      const device = ctx.registry.find(verdict.productKey, verdict.deviceName)!;
      record(true, 0, "ok");
      ctx.connected(client, device);
      done(null, true);
    },

    authorizePublish(client, packet, callback) {
      if (!client) return callback(null);
      let reason: string | undefined;
      if (packet.qos === 2) reason = "QoS 2 is not supported";
      else if (packet.retain) reason = "retained messages are not supported";
      else {
        const verdict = mayPublish(packet.topic, subject(client));
        if (!verdict.ok) reason = verdict.reason;
      }
      if (reason) {
        refuse(client, "publish", packet.topic, reason);
        return callback(new Error(reason));
      }
      callback(null);
    },

    authorizeSubscribe(client, sub, callback) {
      let reason: string | undefined;
      if (sub.qos === 2) reason = "QoS 2 is not supported";
      else {
        const verdict = maySubscribe(sub.topic, subject(client));
        if (!verdict.ok) reason = verdict.reason;
      }
      if (reason) {
        refuse(client, "subscribe", sub.topic, reason);
        return callback(null, null);
      }
      ctx.subscribed(client, sub.topic);
      callback(null, sub);
    },

    authorizeForward(client, packet) {
      // Device uplinks are for the platform only; devices never see each other's messages.
      if ((packet as { clientId?: string }).clientId || !ctx.isDownlink(packet.payload)) return null;
      const scope = topicScope(packet.topic);
      const own = ctx.deviceOf(client);
      if (!scope || !own) return null;
      const key = keyOf(scope.productKey, scope.deviceName);
      if (key === own) return packet;
      return ctx.registry.get(key)?.topoParent === own ? packet : null;
    },
  };
  return { hooks, mqttClientId };
}
