/** The cloud world on Alibaba Cloud IoT Platform: the Alink emulator, one gateway, sub-devices registered dynamically. */
import { CloudEmulator } from "./emulator.js";
import { encryptOpcuaPassword } from "../../../config/gateway/crypto.js";
import type { TslDocument } from "../../../things/tsl-types.js";
import type { CloudWorld, WorldFactory, WorldNaming } from "../../world.js";

const GATEWAY = { productKey: "a1DemoGateway", deviceName: "demo-gw-01", deviceSecret: "d3m0Gat3waySecr3tForTheDem0Only!" };
/** Names of the products a world is asked for, in order (the demo's meters and boiler). */
const KINDS = ["meter", "boiler"];
const GATEWAY_KEY = `${GATEWAY.productKey}/${GATEWAY.deviceName}`;

export const createWorld: WorldFactory = async ({ tls }) => {
  const emu = await CloudEmulator.start({ tls });
  emu.addDevice({ ...GATEWAY, gateway: true });
  const devices: string[] = [];
  const started = Date.now();
  const world: CloudWorld = {
    platform: "aliyun",
    caPem: emu.caPem,
    naming(count: number, product = 0): WorldNaming {
      const kind = KINDS[product] ?? `kind${product}`;
      return { product: `a1Demo${kind[0]!.toUpperCase()}${kind.slice(1)}`, devices: Array.from({ length: count }, (_, i) => `${kind}-${String(i + 1).padStart(2, "0")}`) };
    },
    async provision(naming: WorldNaming, tsl: TslDocument) {
      emu.addProduct(naming.product, { tsl, dynamicRegistration: true });
      for (const d of naming.devices) emu.addDevice({ productKey: naming.product, deviceName: d });
      devices.push(...naming.devices.map((d) => `${naming.product}/${d}`));
    },
    bootstrap(opts = {}) {
      return {
        gateway: { ...GATEWAY, deviceSecret: opts.wrongSecret ? "WrongSecretWrongSecretWrongSecret" : GATEWAY.deviceSecret },
        mqtt: { host: "127.0.0.1", port: emu.port, tls, keepaliveSeconds: 30, reconnectMinSeconds: 0.2, reconnectMaxSeconds: 1, requestTimeoutSeconds: 3 },
      };
    },
    encryptPassword: (plain: string) => encryptOpcuaPassword(plain, GATEWAY.deviceSecret),
    async deliverDocument(doc: Buffer, timeoutMs: number) {
      const r = await emu.pushConfig(GATEWAY, doc, { timeoutMs });
      return { ok: r.reply.code === 200, code: r.reply.code, ...(r.reply.message ? { message: String(r.reply.message) } : {}) };
    },
    accepted() {
      return emu.accepted.properties.map((p) => ({ device: p.deviceKey, identifier: p.identifier, value: p.value, time: p.time }));
    },
    async setProperty(device: string, values: Record<string, unknown>, timeoutMs: number) {
      const r = await emu.setProperty(device, values, { timeoutMs });
      return { ok: r.code === 200, code: r.code };
    },
    allOnline() {
      const online = new Set(emu.onlineSessions(GATEWAY).map((s) => s.deviceKey));
      return emu.device(GATEWAY.productKey, GATEWAY.deviceName).online && devices.every((d) => online.has(d));
    },
    online(device: string) {
      return emu.onlineSessions(GATEWAY).some((s) => s.deviceKey === device);
    },
    refusedConnects() {
      return emu.connects.filter((c) => !c.accepted && c.deviceKey === GATEWAY_KEY).map((c) => c.time);
    },
    wentOffline() {
      return emu.logouts.filter((l) => l.time >= started && l.code === 200).map((l) => l.deviceKey);
    },
    outage: () => emu.outage(),
    restore: () => emu.restore(),
    close: () => emu.close(),
  };
  return world;
};
