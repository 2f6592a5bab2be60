/**
 * The platform's rules for the devices of a gateway config document (lierda.md §2, §6.1): ProductID 8 hex,
 * NodeEui 4–32 letters/digits, every (ProductID, NodeEui) pair unique and different from the gateway's own.
 * A document that breaks one is invalid as a whole; problems are `path: message` like every structural error.
 */
import type { ConfigProblem } from "../../config/bootstrap/load.js";

const HEX8 = /^[0-9A-Fa-f]{8}$/;
const NODE_EUI = /^[A-Za-z0-9]{4,32}$/;

export function checkDocumentDevices(deviceList: ReadonlyArray<{ productKey?: unknown; deviceName?: unknown }>, gateway: { productId: string; nodeEui: string }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  deviceList.forEach((d, i) => {
    const pid = d?.productKey;
    const eui = d?.deviceName;
    if (typeof pid !== "string" || !HEX8.test(pid)) problems.push({ path: `deviceList[${i}].productKey`, message: "must be an 8-hex ProductID on platform lierda" });
    if (typeof eui !== "string" || !NODE_EUI.test(eui)) problems.push({ path: `deviceList[${i}].deviceName`, message: "must be a NodeEui of 4-32 letters/digits on platform lierda" });
    if (typeof pid !== "string" || typeof eui !== "string") return;
    const pair = `${pid.toLowerCase()}/${eui}`;
    if (pid.toLowerCase() === gateway.productId.toLowerCase() && eui === gateway.nodeEui) {
      problems.push({ path: `deviceList[${i}]`, message: "is the gateway's own device" });
    }
    const first = seen.get(pair);
    if (first !== undefined) problems.push({ path: `deviceList[${i}]`, message: `same ProductID and NodeEui as deviceList[${first}]` });
    else seen.set(pair, i);
  });
  return problems;
}
