/**
 * # Cloud emulator
 *
 * A local stand-in for Alibaba Cloud IoT Platform, as strict as the real one (alink.md), used by the tests
 * and by `fieldbridge demo`. It runs an in-process aedes MQTT broker on 127.0.0.1 (plain TCP, or TLS with
 * the test PKI in test/fixtures/tls) plus a small HTTPS file server that hosts pushed configs and firmware.
 *
 * ```ts
 * const emu = await CloudEmulator.start({ tls: true });         // emu.url = mqtts://127.0.0.1:PORT, trust emu.caPem
 * emu.addProduct("a1Sub", { tsl, dynamicRegistration: true });
 * emu.addDevice({ productKey: "a1Gw", deviceName: "gw-001", deviceSecret: "…", gateway: true });
 * const { deviceSecret } = emu.addDevice({ productKey: "a1Sub", deviceName: "meter-01" });
 * // … the gateway connects, adds topology, logs the sub-device in, posts properties …
 * await emu.waitFor(() => emu.accepted.properties.find((p) => p.identifier === "Voltage"), 5000);
 * const reply = await emu.setProperty("a1Sub/meter-01", { Setpoint: 21.5 });   // → {id, code, data, raw}
 * await emu.close();
 * ```
 *
 * ## What it enforces
 * - **CONNECT**: client id `id|securemode=…,signmethod=…,timestamp=…|` (id ≤ 64 characters); securemode 2
 *   on TLS and 3 on TCP; username `deviceName&productKey`; password = hex HMAC (any case) over the sorted
 *   name+value content of clientId/deviceName/productKey/timestamp, hmacmd5 when signmethod is absent;
 *   the device exists and is neither disabled nor deleted; keepalive 30..1200; no will. Refusals get
 *   CONNACK 4 "bad username or password" (credentials) or 5 "not authorized" (state, transport, keepalive).
 *   A newer connection of the same device closes the older one, and with it the sub-device sessions.
 * - **Topics**: a connection publishes and subscribes only under its own identity or its logged-in
 *   sub-devices; identity levels must be literal; no QoS 2, no retain (the publish closes the connection,
 *   the subscription gets 0x80). Sub-device subscriptions are refused until the sub-device has a session.
 *   A `/sys` publish under a sub-device without a session is answered on `/ext/error/{gpk}/{gdn}` with
 *   `{id, code: 520, data: {productKey, deviceName}}`. Devices never receive each other's messages.
 * - **Gateway requests** (alink.md section 3): `thing.sub.register` (dynamic registration switch → 401 when
 *   off, 6250 unknown product, 6402 self; creates unknown names), `thing.topo.add` (each item signed with
 *   that sub-device's secret → 401; 6100 unknown; 6402 self), `thing.topo.delete`, `thing.topo.get`,
 *   `combine/login` (exactly `{id, params}`; 460, 6100, 521, 522, 6287, 6401, 429 after 5 logins within
 *   60 s (option `loginsPerMinute`), 428 at the online cap), `combine/logout` (520 without a session).
 * - **Data** against the product TSL: property post drops invalid values silently (recorded in `rejected`)
 *   and answers 200, >200 properties → 6106; an invalid event post → 460; pack post fails as a whole on any
 *   invalid value, >200 properties (6106), >20 events or >20 sub-devices (460), or a sub-device that is not
 *   bound (6401) or not logged in (520). Value rules are in tsl-check.ts.
 * - **Sessions** die with the gateway's connection. Kick notices (`kick()`, disable, delete, a login from
 *   another gateway) go to `combine/logout_reply` (or `/ext/error` with `kickNoticeTopic: "ext_error"`)
 *   as `{id, code, message, data: {productKey, deviceName}}`.
 * - **Tags** (tags.ts): `thing.deviceinfo.update` / `delete` under the device's identity, 1..200 entries, keys
 *   `^[A-Za-z_][A-Za-z0-9_]*$` ≤ 100 bytes, string values; else 460 and no tag changes. `tags(device)` reads them.
 * - **Remote configuration** (config.ts): `setRemoteConfig(pk, file | "disabled" | null)` hosts a product's file
 *   (≤ 64 KB) on the HTTPS file server; `thing.config.get` is answered with its description (200), 6710 without
 *   a file, 6713 when switched off, 460 for params other than `{configScope: "product", getType: "file"}`;
 *   `pushRemoteConfig(device)` sends `thing.config.push`.
 *
 * ## Assertions
 * `connects`, `accepted.properties` / `accepted.events`, `rejected`, `logins`, `logouts`, `kicks`, `ota`,
 * `refusals`, `received(filter?)`, `topo(gateway)`, `onlineSessions(gateway?)`, `subscriptions(gateway)`,
 * `device(pk, dn)`, and `waitFor(predicate, timeoutMs)`. Every record is also emitted as a `record` event.
 *
 * ## Downlinks (each resolves with the device's reply, or rejects after a bounded timeout, or at once when
 * no connection subscribes the topic)
 * `pushConfig(gw, doc, {digest?, digestMethod?, viaParams?})`, `setProperty`, `getProperty`, `callService`
 * (RRPC for `callType: "sync"`), `notifyTopoAdd`, and `disable` / `enable` / `deleteDevice`, which change
 * the registry as the platform would and resolve null when the device is not subscribed. `kick(sub, code)`
 * and `otaUpgrade(gw, firmware)` send without a reply; OTA inform/progress/request land in `ota`.
 *
 * ## Faults and outages
 * `failNext(kind, code, {device?, count?})` answers the next matching request with `code` (kinds: connect,
 * register, topoAdd, topoDelete, topoGet, login, logout, propertyPost, eventPost, packPost, tags, configGet).
 * `outage()` drops every connection and closes the listener; `restore()` listens again on the same port.
 */
export { CloudEmulator } from "./emulator.js";
export type {
  CloudEmulatorOptions,
  ConfigPushResult,
  DeviceRef,
  DeviceView,
  EmulatorEvent,
  EmulatorEvents,
  PushConfigOptions,
  RegistryChangeOptions,
  RequestOptions,
  SessionView,
} from "./api-types.js";
export type { KickNoticeTopic } from "./context.js";
export type { FaultKind, FaultOptions } from "./faults.js";
export type { FirmwareInput, FirmwareOffer } from "./ota.js";
export type { DownlinkReply } from "./pending.js";
export type {
  AcceptedEvent,
  AcceptedProperty,
  ConnectRecord,
  KickRecord,
  OtaRecord,
  ReceivedMessage,
  RefusalRecord,
  Rejection,
  SessionRecord,
} from "./records.js";
export type { DeviceSpecInput, ProductOptions } from "./registry.js";
export { testPki, TEST_PKI_DIR, type ServerTlsMaterial, type TestPki } from "../tls-material.js";
export { checkValue } from "../tsl-check.js";
