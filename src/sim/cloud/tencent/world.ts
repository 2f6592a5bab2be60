/**
 * The cloud world of Tencent IoT Explorer: the gateway connects with its device key; the field devices are
 * sub-devices bound in the console (no keys needed), and the document arrives by file management
 * `update_resource` of the FILE resource `gateway-config.json` (tencent.md section 7.2).
 */
import { TencentEmulator } from "./index.js";
import { testPki } from "../tls-material.js";
import { encryptOpcuaPassword } from "../../../config/gateway/crypto.js";
import type { TslDocument } from "../../../things/tsl-types.js";
import type { CloudWorld, WorldFactory, WorldNaming } from "../../world.js";

const GATEWAY = { productId: "FBGWPRD001", deviceName: "fb-gw-01", psk: "lDZ6Uqt+I9E0wW7rvDUs7Q==" };
/** The field products a world hands out, in order. */
const FIELD = [
  { productId: "FBMBPRD001", prefix: "mb-dev" },
  { productId: "FBUAPRD001", prefix: "ua-dev" },
];

export const createWorld: WorldFactory = async ({ tls }) => {
  const emu = await TencentEmulator.start({ ...GATEWAY, tls });
  const devices: string[] = [];
  const pki = testPki();

  const world: CloudWorld = {
    platform: "tencent",
    caPem: pki.ca,

    naming(count: number, product = 0): WorldNaming {
      const p = FIELD[product] ?? FIELD[0]!;
      return { product: p.productId, devices: Array.from({ length: count }, (_, i) => `${p.prefix}-${String(i + 1).padStart(2, "0")}`) };
    },

    async provision(naming: WorldNaming, tsl: TslDocument): Promise<void> {
      const identifiers = [...(tsl.properties ?? []).map((p) => p.identifier), ...(tsl.events ?? []).map((e) => e.identifier)];
      const keys = naming.devices.map((d) => `${naming.product}/${d}`);
      devices.push(...keys);
      for (const d of keys) emu.addDevice(d, { bound: true, identifiers });
    },

    // Section 7.3: the key is the device key's text.
    encryptPassword: (plain: string) => encryptOpcuaPassword(plain, GATEWAY.psk),

    bootstrap(opts = {}): Record<string, unknown> {
      return {
        gateway: { platform: "tencent", productId: GATEWAY.productId, deviceName: GATEWAY.deviceName, deviceSecret: opts.wrongSecret ? "MTIzNDU2Nzg5MGFiY2RlZg==" : GATEWAY.psk },
        mqtt: { host: "127.0.0.1", port: emu.port, tls, keepaliveSeconds: 120, reconnectMinSeconds: 1, reconnectMaxSeconds: 2, requestTimeoutSeconds: 5 },
        tencent: { publishesPerSecond: 100 },
        sessions: { loginsPerSecond: 100 },
        subDevices: [],
      };
    },

    async deliverDocument(doc: Buffer, timeoutMs: number) {
      const r = await emu.deliverDocument(doc, { timeoutMs });
      return { ok: r.result_code === "0", code: r.result_code, message: r.result_msg };
    },

    accepted() {
      return emu.accepted.filter((a) => a.kind === "property").map((a) => ({ device: a.device, identifier: a.identifier, value: a.value, time: a.time }));
    },

    async setProperty(device: string, values: Record<string, unknown>, timeoutMs: number) {
      const r = await emu.control(device, values, { timeoutMs });
      return { ok: r.code === 0, code: r.code };
    },

    allOnline: () => emu.gatewayOnline() && devices.every((d) => emu.online(d)),
    online: (device: string) => emu.online(device),
    refusedConnects: () => emu.connects.filter((c) => !c.accepted).map((c) => c.time),
    wentOffline: () => [
      ...emu.ops.filter((o) => o.type === "offline" && o.result === 0).map((o) => o.device),
      ...emu.gatewayClosed.map(() => `${GATEWAY.productId}/${GATEWAY.deviceName}`),
    ],
    outage: () => emu.outage(),
    restore: () => emu.restore(),
    close: () => emu.close(),
  };
  return world;
};
