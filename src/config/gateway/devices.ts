/**
 * Reads `deviceList` (alink.md 5.5) and joins each device with its channel, its product mapping and its
 * TSL. A device is disabled when it has an error of its own (reported as an error) or when something
 * it depends on is disabled (reported as a warning: the cause is reported where it is).
 */
import { deviceKey, type ChannelSpec, type DeviceSpec, type ModbusPointSpec } from "./model.js";
import type { ChannelEntry, ChannelProtocol } from "./channels.js";
import type { ModelProtocol, ProductModel } from "./model-list.js";
import { duplicateIndexes, isObject, type JsonObject } from "./normalize.js";
import { DEFAULT_POLLING_MS, readPollingTime } from "./polling.js";
import type { Path, ProblemLog } from "./problems.js";
import type { TslEntry } from "./tsl-list.js";

export interface DeviceContext {
  channels: Map<string, ChannelEntry>;
  models: Map<string, ProductModel>;
  tsls: Map<string, TslEntry>;
  /** Products whose TSL the daemon fetches from the cloud (no tslList entry; cloud-tsl.ts). */
  pendingTsl?: ReadonlySet<string>;
}

const PROTOCOL_NAME: Record<ChannelProtocol, string> = { "modbus-rtu": "Modbus RTU", "modbus-tcp": "Modbus TCP", opcua: "OPC UA" };
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function modelFits(model: ModelProtocol, channel: ChannelProtocol): boolean {
  if (model === "none") return true;
  return model === "opcua" ? channel === "opcua" : channel !== "opcua";
}

function flagDuplicateDevices(items: unknown[], log: ProblemLog): Set<string> {
  const dups = new Set<string>();
  const keyOf = (item: unknown) => {
    if (!isObject(item)) return undefined;
    const pk = str(item.productKey);
    const dn = str(item.deviceName);
    return pk !== undefined && dn !== undefined ? deviceKey(pk, dn) : undefined;
  };
  for (const [key, indexes] of duplicateIndexes(items, keyOf)) {
    dups.add(key);
    for (const i of indexes) {
      const others = indexes.filter((j) => j !== i).map((j) => `deviceList[${j}]`).join(", ");
      log.error(["deviceList", i, "deviceName"], `device "${key}" is listed more than once (also ${others}); all its entries are disabled`);
    }
  }
  return dups;
}

function checkProduct(pk: string, path: Path, ctx: DeviceContext, log: ProblemLog): { model?: ProductModel; usable: boolean } {
  const model = ctx.models.get(pk);
  const tsl = ctx.tsls.get(pk);
  const at: Path = [...path, "productKey"];
  if (!model) log.error(at, `no modelList entry for product "${pk}"`);
  else if (!model.valid) log.warning(at, `product "${pk}" is disabled (see modelList[${model.index}]); device not started`);
  const pending = !tsl && !!ctx.pendingTsl?.has(pk);
  if (pending) log.warning(at, `no tslList entry for product "${pk}": its TSL is fetched from the cloud; device not polled until then`);
  else if (!tsl) log.error(at, `no tslList entry for product "${pk}"`);
  else if (!tsl.valid) log.warning(at, `the TSL of product "${pk}" is invalid (see tslList[${tsl.index}]); device not started`);
  return { ...(model ? { model } : {}), usable: !!model?.valid && (!!tsl?.valid || pending) };
}

const MIN_SLAVE_ID = 1;
const MAX_SLAVE_ID = 247;

function checkModbusConfig(cfg: JsonObject, path: Path, log: ProblemLog): void {
  const at: Path = [...path, "deviceConfig", "slaveId"];
  if (cfg.slaveId === undefined) log.error(at, "is required for a Modbus device");
  else if (Number.isInteger(cfg.slaveId)) {
    // alink.md 5.8: 1..247 on every channel. 0 is the broadcast address (no device answers it) and
    // 248..255 are reserved; a device configured with one of them would never post a value.
    const id = cfg.slaveId as number;
    if (id < MIN_SLAVE_ID || id > MAX_SLAVE_ID) log.error(at, `slave id ${id} is outside ${MIN_SLAVE_ID}..${MAX_SLAVE_ID}`);
  }
}

export function readDeviceList(items: unknown[], ctx: DeviceContext, log: ProblemLog): DeviceSpec[] {
  const dups = flagDuplicateDevices(items, log);
  const devices: DeviceSpec[] = [];
  const slaves = new Map<string, number>();
  const sharedPoints = new Map<readonly unknown[], Map<number, readonly ModbusPointSpec[]>>();
  items.forEach((item, i) => {
    if (!isObject(item)) return;
    const path: Path = ["deviceList", i];
    const pk = str(item.productKey);
    const dn = str(item.deviceName);
    const cfg = isObject(item.deviceConfig) ? item.deviceConfig : undefined;
    const serverId = cfg ? str(cfg.serverId) : undefined;

    let channel: ChannelEntry | undefined;
    let channelUsable = false;
    if (serverId !== undefined) {
      channel = ctx.channels.get(serverId);
      if (!channel) log.error([...path, "deviceConfig", "serverId"], `no serverList entry "${serverId}"`);
      else if (!channel.spec) {
        log.warning([...path, "deviceConfig", "serverId"], `channel "${serverId}" is disabled (see serverList[${channel.index}]); device not started`);
      } else channelUsable = true;
    }
    const product = pk !== undefined ? checkProduct(pk, path, ctx, log) : { usable: false };
    const protocol = channel?.protocol;
    if (protocol && product.model && !modelFits(product.model.protocol, protocol)) {
      log.error(
        [...path, "productKey"],
        `product "${pk}" is mapped for ${product.model.protocol === "opcua" ? "OPC UA" : "Modbus"} (modelList[${product.model.index}]) but channel "${serverId}" is ${PROTOCOL_NAME[protocol]}`,
      );
    }
    let pollingMs: number | null | undefined;
    if (cfg && protocol) {
      if (protocol === "opcua") {
        if (cfg.displayNamePath === undefined) log.error([...path, "deviceConfig", "displayNamePath"], "is required for an OPC UA device");
      } else {
        checkModbusConfig(cfg, path, log);
        pollingMs = readPollingTime(cfg.pollingTime, [...path, "deviceConfig", "pollingTime"], log, true);
        if (Number.isInteger(cfg.slaveId) && serverId !== undefined) {
          const slot = `${serverId}\u0000${cfg.slaveId as number}`;
          const first = slaves.get(slot);
          if (first !== undefined) log.warning([...path, "deviceConfig", "slaveId"], `slave id ${cfg.slaveId as number} on channel "${serverId}" is also used by deviceList[${first}]`);
          else slaves.set(slot, i);
        }
      }
    }

    const key = pk !== undefined && dn !== undefined ? deviceKey(pk, dn) : undefined;
    if (log.hasErrorUnder(path) || !key || dups.has(key) || !channelUsable || !product.usable || !product.model || !cfg) return;
    const spec = channel!.spec as ChannelSpec;
    const model = product.model;
    const device: DeviceSpec = { key, productKey: pk!, deviceName: dn!, serverId: spec.serverId };
    if (spec.protocol === "opcua") {
      // fresh objects per device: nothing in one device's spec is shared with another's
      device.opcua = {
        displayNamePath: cfg.displayNamePath as string,
        properties: model.opcua.properties.map((p) => ({ ...p })),
        services: model.opcua.services.map((s) => ({ ...s, inputs: s.inputs.map((a) => ({ ...a })), outputs: s.outputs.map((a) => ({ ...a })) })),
        events: model.opcua.events.map((e) => ({ ...e, outputs: e.outputs.map((a) => ({ ...a })) })),
      };
    } else {
      const fallback = pollingMs ?? DEFAULT_POLLING_MS;
      // Devices of one model with the same polling time share one frozen point list: at thousands of devices
      // this is most of the document's memory, and nothing changes a point after parsing.
      let byPolling = sharedPoints.get(model.modbusPoints);
      if (!byPolling) sharedPoints.set(model.modbusPoints, (byPolling = new Map()));
      let points = byPolling.get(fallback);
      if (!points) {
        points = Object.freeze(model.modbusPoints.map((p) => Object.freeze({ ...p, pollingMs: p.pollingMs ?? fallback })));
        byPolling.set(fallback, points);
      }
      device.modbus = { slaveId: cfg.slaveId as number, points };
    }
    devices.push(device);
  });
  return devices;
}
