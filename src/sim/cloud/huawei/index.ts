/**
 * # Huawei device management emulator
 *
 * A local stand-in for the device side of Huawei's IoT device management (OceanConnect generation), as strict
 * as huawei.md: an in-process aedes MQTT broker on 127.0.0.1 (plain TCP, or MQTTS with the test PKI) plus an
 * HTTPS file server hosting pushed gateway config documents. Its codec is its own (codec.ts), written from the
 * spec, never the gateway's.
 *
 * ```ts
 * const emu = await HuaweiEmulator.start({ tls: true });              // emu.url, trust emu.caPem
 * emu.addProduct("5f1e…a5b4", tsl);
 * const gw = emu.addDevice({ productId: "gwProd", nodeId: "gw-node", secret: "0123456789abcdef0123", gateway: true });
 * const dev = emu.addDevice({ productId: "5f1e…a5b4", nodeId: "mb-dev-02", secret: "8f3a1c5e7d9b2f4a6c0e" });
 * // … the gateway connects the gateway by gw.deviceId and each field device by its deviceId or nodeId …
 * const r = await emu.pushConfig(doc);                                // CONFIG_PUSH → {errcode, body, url, digest}
 * await emu.waitFor(() => emu.records.properties.find((p) => p.identifier === "temp_i16"), 5000);
 * await emu.setProperty("5f1e…a5b4/mb-dev-02", { sp_int: 345 });     // → {mid, errcode, body, problems}
 * await emu.close();
 * ```
 *
 * ## What it enforces
 * - **CONNECT** (section 2.2, 2.3): clientId `{id}_{authType}_{signType}_{YYYYMMDDHH}` split from the right,
 *   authType 0 (deviceId) or 2 (nodeId), signType 0 or 1, each field ≤ 256 characters, else CONNACK 2;
 *   username = `{id}`, password = HMAC-SHA256(key = the hour stamp, message = the secret) in the configured
 *   encoding (hex compared case-insensitively), the id known, and with signType 1 the stamp within one hour of the
 *   platform's clock, else CONNACK 4; a deleted device or a keepalive outside 30..1200 gets CONNACK 5. A newer
 *   connection of the same identity closes the older one.
 * - **Topics** (section 3.1): a connection publishes only on `/huawei/v1/devices/{id}/data/json` and subscribes
 *   only `/huawei/v1/devices/{id}/command/json` of its own `{id}`; anything else closes the connection (publish)
 *   or is refused (SUBACK 0x80); no QoS 2, no retain; devices never receive each other's messages.
 * - **Data** (sections 3.2, 5): `deviceReq` with 1..100 entries, ≤ 64 KiB, each `{serviceId, serviceData,
 *   eventTime}` with eventTime exactly `yyyyMMddTHHmmssZ`, entries in ascending time; anything else is recorded in
 *   `records.rejected` (whole message). Values of the product service are checked against the product's TSL
 *   (unknown identifiers and invalid values rejected one by one), events against the event's outputs.
 * - **Responses** (section 3.4): `deviceRsp` with mid 1..65535 and errcode 0/1; replies whose errcode does not fit
 *   the body code or a failure without a message carry `problems`.
 *
 * ## Records
 * `records.connects` (every CONNECT with its CONNACK code and reason), `records.properties` (device, identifier,
 * value, eventTime as sent and as epoch ms), `records.events`, `records.rejected`, `records.presence` (online /
 * offline, `graceful` for an MQTT DISCONNECT), `records.aclRefusals`, `records.replies`, `records.uplinks`;
 * `online(ref)`, `subscribed(ref)`, `device(ref)`, `waitFor(predicate, timeoutMs)`. A ref is `productId/nodeId`
 * or a deviceId.
 *
 * ## Downlinks (each resolves with the device's `deviceRsp`, or rejects after a bounded wait, or at once with
 * "100428 The device is not online" when the device has no subscribed connection)
 * `command(ref, {serviceId, cmd, paras, mid?})`, `setProperty`, `getProperty`, `callService`,
 * `pushConfig(doc, {digest?, digestMethod?, version?, paras?})` (CONFIG_PUSH of service Gateway to the gateway,
 * the document served over HTTPS), `removeDevice(target, {paras?})` (REMOVE), and `sendRaw(ref, payload, waitMs)`
 * for malformed commands (resolves with every response within `waitMs`).
 *
 * ## Faults
 * `failNext("connect", code, {device?, count?})`, `deleteDevice(ref)` (closes its connection; CONNACK 5 after),
 * `outage()` / `restore()` on the same port.
 */
export { HuaweiEmulator } from "./emulator.js";
export type { CommandInput, HuaweiEmulatorOptions, PushConfigOptions } from "./emulator.js";
export type { AcceptedEvent, AcceptedProperty, CommandReply, ConnectRecord, EmuDevice, PresenceRecord, RejectedUplink } from "./state.js";
