/**
 * The cloud world of the Lierda X platform: the gateway is a type-2 device (burned-in secret), the field devices
 * belong to type-0 products (their secrets come from the auth exchange, §3.3), and the document arrives by
 * down_config on the gateway's own device (§8.1).
 */
import { LierdaEmulator } from "./index.js";
import { testPki } from "../tls-material.js";
import { encryptOpcuaPassword } from "../../../config/gateway/crypto.js";
import type { TslDocument } from "../../../things/tsl-types.js";
import type { CloudWorld, WorldFactory, WorldNaming } from "../../world.js";

const OPEN_ID = "7ED01E2A";
const GATEWAY = { productId: "AA30C505", nodeEui: "FBGW0001", productKey: "DB6FACEF35BEBA0517712F0E4BE32936", secret: "326086233FAB8A96566796551EB1DFF8" };
/** The field products a world hands out, in order. */
const FIELD = [
  { productId: "B1C2D3E4", productKey: "00112233445566778899AABBCCDDEEFF", prefix: "FBMTR" },
  { productId: "C5D6E7F8", productKey: "FFEEDDCCBBAA99887766554433221100", prefix: "FBBLR" },
];
const GW_KEY = `${GATEWAY.productId}/${GATEWAY.nodeEui}`;

export const createWorld: WorldFactory = async ({ tls }) => {
  const emu = await LierdaEmulator.start({ tls, openId: OPEN_ID });
  emu.addProduct(GATEWAY.productId, { productKey: GATEWAY.productKey, authType: 2 });
  emu.addDevice(GATEWAY.productId, GATEWAY.nodeEui, { secret: GATEWAY.secret });
  const devices: string[] = [];
  const products: Record<string, { productKey: string; authType: 0 }> = {};
  const pki = testPki();

  const world: CloudWorld = {
    platform: "lierda",
    caPem: pki.ca,

    naming(count: number, product = 0): WorldNaming {
      const p = FIELD[product] ?? FIELD[0]!;
      return { product: p.productId, devices: Array.from({ length: count }, (_, i) => `${p.prefix}${String(i + 1).padStart(4, "0")}`) };
    },

    async provision(naming: WorldNaming, tsl: TslDocument): Promise<void> {
      const p = FIELD.find((f) => f.productId === naming.product) ?? FIELD[0]!;
      emu.addProduct(naming.product, { productKey: p.productKey, authType: 0, tsl });
      products[naming.product] = { productKey: p.productKey, authType: 0 };
      devices.push(...naming.devices.map((d) => `${naming.product}/${d}`));
    },

    encryptPassword: (plain: string) => encryptOpcuaPassword(plain, GATEWAY.secret),

    bootstrap(opts = {}): Record<string, unknown> {
      return {
        gateway: {
          platform: "lierda",
          openId: OPEN_ID,
          productId: GATEWAY.productId,
          nodeEui: GATEWAY.nodeEui,
          productKey: GATEWAY.productKey,
          authType: 2,
          deviceSecret: opts.wrongSecret ? "00000000000000000000000000000000" : GATEWAY.secret,
        },
        mqtt: { host: emu.host, port: emu.port, tls, reconnectMinSeconds: 1, reconnectMaxSeconds: 2, requestTimeoutSeconds: 5 },
        lierda: { connectsPerSecond: 50, products },
      };
    },

    async deliverDocument(doc: Buffer, timeoutMs: number) {
      const r = await emu.pushConfig(GW_KEY, doc, { timeoutMs });
      const s = (r.payload as { Settings?: { GatewayConfigState?: string; GatewayConfigErrors?: string[] } }).Settings ?? {};
      return { ok: s.GatewayConfigState === "applied", code: s.GatewayConfigState, message: (s.GatewayConfigErrors ?? []).join("; ") };
    },

    accepted() {
      return emu.records.values.map((v) => ({ device: v.device, identifier: v.identifier, value: v.value, time: v.time }));
    },

    async setProperty(device: string, values: Record<string, unknown>, timeoutMs: number) {
      const r = await emu.setProperty(device, values, { timeoutMs });
      const code = (r.payload as { Code?: unknown }).Code;
      return { ok: code === "200", code };
    },

    allOnline(): boolean {
      return emu.online(GW_KEY) && devices.every((d) => emu.online(d));
    },

    online(device: string): boolean {
      return emu.online(device);
    },

    refusedConnects(): number[] {
      return emu.records.connects.filter((c) => !c.accepted).map((c) => c.time);
    },

    wentOffline(): string[] {
      return emu.records.presence.filter((p) => !p.online).map((p) => p.device);
    },

    outage: () => emu.outage(),
    restore: () => emu.restore(),
    close: () => emu.close(),
  };
  return world;
};
