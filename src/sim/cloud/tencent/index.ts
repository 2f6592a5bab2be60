/**
 * # Tencent IoT Explorer emulator
 *
 * A strict local stand-in for the platform of tencent.md: an in-process aedes broker on 127.0.0.1 (plain TCP, or
 * TLS with the test PKI) and an HTTPS file server (src/sim/files.ts) that hosts gateway config documents.
 *
 * ```ts
 * const emu = await TencentEmulator.start({ productId: "FBGWPRD001", deviceName: "fb-gw-01", psk: "…", tls: true });
 * emu.addDevice("FBMBPRD001/mb-dev-01", { bound: true });              // bound in the console
 * emu.addDevice("FBMBPRD001/mb-dev-02", { psk: "k3Jm…" });            // the gateway binds it with its key
 * await emu.waitFor(() => emu.online("FBMBPRD001/mb-dev-01"), 5000);
 * emu.accepted;                                                       // values with their wire timestamps
 * await emu.control("FBMBPRD001/mb-dev-01", { sp: 3 });               // → the control_reply
 * await emu.deliverDocument(doc, { wrongMd5: true });                 // → report_result progress
 * emu.failNext("report", 503);                                        // the next report gets report_reply 503
 * await emu.outage(); await emu.restore(); await emu.close();
 * ```
 *
 * ## What it enforces
 * - CONNECT (codec.ts): ClientId `{pid}{dn}` of the gateway (else 2; a sub-device's identity 5), UserName
 *   `{clientId};{sdkappid};{connid 5 alnum};{expiry}`, expiry not past, token = hex HMAC keyed with the base64-
 *   decoded PSK with the matching `;hmacsha256|;hmacsha1` suffix (else 4), keepalive 30..900 (else 5). A second
 *   connection pushes the first out. Every attempt lands in `connects`.
 * - Topics: the gateway publishes on its own up topics and subscribes its six exact filters; a sub-device's
 *   topics are allowed only while it is online on the current connection (refusals in `refusals`; a refused
 *   publish closes the connection, a refused subscription gets 0x80). No QoS 2, no retain, no device-to-device.
 * - Gateway operations: describe_sub_devices lists bound devices; bind checks the signature keyed with the PSK
 *   text (803 wrong, 804 method, 805 stale, 809 already bound, 802 unknown); online answers -1 when not bound.
 * - report / event_post: clientToken, integer timestamp within 24 h (else 405), params object (400), known
 *   identifiers when the device has `identifiers` (403); answered by report_reply / event_reply with the code.
 *
 * ## Downlinks, faults and records
 * `control`, `action`, `change`, `searchDevices`, `deliverDocument` resolve with the gateway's reply (bounded,
 * reject at once when nothing subscribes the topic); `send(topic, body)` publishes anything raw; `waitMessage`,
 * `waitFor`; `failNext(method, code, {device?, count?})` for report, event_post, bind, online, offline, unbind,
 * connect; `received`, `ops`, `accepted`, `refusals`, `connects`, `gatewayClosed`, `gatewayDisconnects` (clean MQTT
 * DISCONNECTs).
 */
export { TencentEmulator } from "./emulator.js";
export type { Accepted, ConnectRecord, OpRecord, Refusal, SimDevice, TencentEmulatorOptions } from "./types.js";
