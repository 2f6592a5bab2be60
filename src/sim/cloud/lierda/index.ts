/**
 * # Lierda X-platform emulator
 *
 * A local stand-in for the Lierda X platform (lierda.md), as strict as the spec: an in-process aedes broker on
 * 127.0.0.1 (plain TCP, or TLS with the test PKI) plus an HTTPS file server for gateway config documents. Its
 * codec is its own (src/sim/cloud/lierda/codec.ts): it checks a device password by decrypting it with the
 * DeviceSecret, never by sharing the client's encoder.
 *
 * ```ts
 * const emu = await LierdaEmulator.start({ tls: true, openId: "7ED01E2A" });
 * const { productKey } = emu.addProduct("B1C2D3E4", { authType: 0, tsl });     // secrets come from the auth
 * emu.addProduct("AA30C505", { productKey: "DB6F…", authType: 2 });
 * const { deviceSecret } = emu.addDevice("AA30C505", "FBGW0001");                // burned-in secret
 * await emu.waitFor(() => emu.online("AA30C505/FBGW0001"), 5000);
 * const ack = await emu.setProperty("B1C2D3E4/METER01", { sp_int: "345" });      // → {messageId, payload}
 * const cfg = await emu.pushConfig("AA30C505/FBGW0001", docBuffer);             // → config_report Payload
 * emu.records.values.filter((v) => v.via === 27);                                // history with sample times
 * await emu.close();
 * ```
 *
 * ## What it enforces
 * - **Auth connection** (§3.3): user `AUTH-${OpenID}-${ProductID}`, clientId `${ProductID}-${NodeEui}`, password
 *   the ProductKey exactly; publishes only `/sys/device/auth`, subscribes only its `P/downlink`. The auth request
 *   must be a 2.0 envelope (HeaderCtrl 1) naming the connection's own OpenID/ProductID/NodeEui and the product's
 *   Type (else Code 5); the reply on `P/downlink` carries Code 0 and a 32-hex DeviceSecret (type 0 registers an
 *   unknown NodeEui; type 1 needs a registered one, else Code 4; a disabled device gets Code 4).
 * - **Device connection** (§3.4): user `${OpenID}-${ProductID}-${NodeEui}`, clientId
 *   `V2_${ProductID}.${NodeEui}_${type}_${Timestamp}`, password uppercase hex that decrypts (AES-128-ECB, key =
 *   the DeviceSecret) to the content of its type; type 1 also needs Timestamp ≤ now and > the last offline
 *   second. Refusals: CONNACK 4 (credentials, unknown device, no secret yet), 5 (disabled, will or persistent
 *   session), 2 (clientId form). A newer connection of a device closes the older one.
 * - **Topics** (§3.8, §5): publishes only the gateway's uplink topics under its own `P`, QoS 1, not retained;
 *   subscribes only the seven filters of §3.8 with QoS 1 (anything else gets 0x80). Devices never see each
 *   other's messages; only the platform's own downlinks are forwarded.
 * - **Data** (§7): every uplink is an exact 2.0 envelope with an integer MessageId; 16 (flat map, stamped on
 *   arrival), 27 (one params group, properties items `{id: {value, time}}`, events items, ≤ 100 items) and 17
 *   are checked against the product's TSL (types, ranges, enum keys, float/double with a decimal point) and
 *   acked on `…_ack` with "200", or "4001" (recorded in `records.rejected`, nothing accepted).
 * - Time sync replies on `P/update_time_ack` (`clockSkewMs` shifts it); firmware reports are acked "200".
 *
 * ## Records
 * `records.connects` (kind auth/device, code, reason), `auths`, `values` ({device, identifier, value, time, via
 * 16|27, messageId}), `events`, `uplinks` (every valid uplink), `rejected`, `refusals` (ACL), `presence`
 * (online/offline per device). `waitFor(predicate, timeoutMs)` re-checks on every change.
 *
 * ## Downlinks (resolve with the device's reply Payload, reject after a bounded wait or when offline)
 * `setProperty`, `askProperty` (answered by a 16 with the same MessageId), `callService`, `pushConfig`
 * (document over HTTPS + down_config; resolves with the config_report), `askConfig`, `askFirmware`,
 * `otaNotify`, `passthrough`, `request(key, suffix, headerCtrl, payload, kind, {version, messageId})`, and
 * `sendRaw(key, suffix, bytes)` for malformed downlinks.
 *
 * ## Faults and availability
 * `failNext(kind, code, {device?, count?})`: `connect` (CONNACK code), `auth` (auth Code; 0 returns an 8-hex
 * secret; null: no reply), `report` (ack Code), `firmwareAck` (Code; null: no ack), `subscribe` (0x80).
 * `disable`/`enable`, `rotateSecret`, `kick`; `outage()` drops every connection and closes the listener,
 * `restore()` listens again on the same port.
 */
export { LierdaEmulator, type FaultKind, type LierdaEmulatorOptions, type Reply } from "./emulator.js";
export type { AcceptedEvent, AcceptedValue, AuthRecord, PresenceRecord, Rejection, Uplink } from "./records.js";
export type { AclRefusal, ConnectRecord } from "./broker.js";
export { decryptPassword } from "./codec.js";
