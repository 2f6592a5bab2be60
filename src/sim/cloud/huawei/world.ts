/**
 * The cloud world of Huawei device management (OceanConnect): the gateway and every field device are directly
 * connected devices with their own secrets (subDevices entries; every other device connects by deviceId, the
 * rest by nodeId), and the document arrives by the command CONFIG_PUSH of service Gateway on the gateway's own
 * device (huawei.md section 6.1).
 */
import { createHash } from "node:crypto";
import { HuaweiEmulator } from "./index.js";
import { testPki } from "../tls-material.js";
import { encryptOpcuaPassword } from "../../../config/gateway/crypto.js";
import type { TslDocument } from "../../../things/tsl-types.js";
import type { CloudWorld, WorldFactory, WorldNaming } from "../../world.js";

const GATEWAY = { productId: "5f1e2d3c4b5a69788796a000", nodeId: "fb-gateway-01", deviceId: "d0c2a7e4-5b1f-4c3a-9e8d-7f6a5b4c3d2e", secret: "0123456789abcdef0123" };
/** The field products a world hands out, in order. */
const FIELD = [
  { productId: "5f1e2d3c4b5a69788796a5b4", prefix: "mb-dev" },
  { productId: "5f1e2d3c4b5a69788796a5b5", prefix: "ua-dev" },
];

export const createWorld: WorldFactory = async ({ tls }) => {
  const emu = await HuaweiEmulator.start({ tls });
  emu.addDevice({ productId: GATEWAY.productId, nodeId: GATEWAY.nodeId, deviceId: GATEWAY.deviceId, secret: GATEWAY.secret, gateway: true });
  const subDevices: { productKey: string; deviceName: string; deviceSecret: string; deviceId?: string }[] = [];
  const devices: string[] = [];
  const pki = testPki();

  const world: CloudWorld = {
    platform: "huawei",
    caPem: pki.ca,

    naming(count: number, product = 0): WorldNaming {
      const p = FIELD[product] ?? FIELD[0]!;
      return { product: p.productId, devices: Array.from({ length: count }, (_, i) => `${p.prefix}-${String(i + 1).padStart(3, "0")}`) };
    },

    async provision(naming: WorldNaming, tsl: TslDocument): Promise<void> {
      emu.addProduct(naming.product, tsl);
      naming.devices.forEach((nodeId, i) => {
        const byId = i % 2 === 0;
        const d = emu.addDevice({ productId: naming.product, nodeId });
        subDevices.push({ productKey: naming.product, deviceName: nodeId, deviceSecret: d.secret, ...(byId ? { deviceId: d.deviceId } : {}) });
      });
      devices.push(...naming.devices.map((d) => `${naming.product}/${d}`));
    },

    // Section 6.1: the AES key is the first 32 characters of the hex SHA-256 of the gateway's secret.
    encryptPassword: (plain: string) => encryptOpcuaPassword(plain, createHash("sha256").update(GATEWAY.secret, "utf8").digest("hex").slice(0, 32)),

    bootstrap(opts = {}): Record<string, unknown> {
      return {
        gateway: { platform: "huawei", deviceId: GATEWAY.deviceId, deviceSecret: opts.wrongSecret ? "fedcba9876543210fedc" : GATEWAY.secret },
        mqtt: { host: emu.host, port: emu.port, tls, keepaliveSeconds: 120, reconnectMinSeconds: 1, reconnectMaxSeconds: 2 },
        huawei: { connectsPerSecond: 50 },
        subDevices,
      };
    },

    async deliverDocument(doc: Buffer, timeoutMs: number) {
      const r = await emu.pushConfig(doc, { timeoutMs });
      return { ok: r.errcode === 0, code: r.body.code, message: typeof r.body.message === "string" ? r.body.message : "" };
    },

    accepted() {
      return emu.records.properties.map((p) => ({ device: p.device, identifier: p.identifier, value: p.value, time: p.time }));
    },

    async setProperty(device: string, values: Record<string, unknown>, timeoutMs: number) {
      const r = await emu.setProperty(device, values, timeoutMs);
      return { ok: r.errcode === 0, code: r.body.code };
    },

    allOnline(): boolean {
      return emu.online(GATEWAY.deviceId) && devices.every((d) => emu.online(d));
    },

    online(device: string): boolean {
      return emu.online(device);
    },

    refusedConnects(): number[] {
      // Only CONNECTs naming a registered device: a stray client of another process on a reused port is not ours.
      return emu.records.connects.filter((c) => !c.accepted && c.device !== undefined).map((c) => c.time);
    },

    wentOffline(): string[] {
      return emu.records.presence.filter((p) => !p.online && p.graceful).map((p) => p.device);
    },

    outage: () => emu.outage(),
    restore: () => emu.restore(),
    close: () => emu.close(),
  };
  return world;
};
