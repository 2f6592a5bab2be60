/**
 * The platform's rules for the devices of a gateway config document (lierda.md §2, §6.1): ProductID 8 hex,
 * NodeEui 4–32 letters/digits, every (ProductID, NodeEui) pair unique and different from the gateway's own.
 * A document that breaks one is invalid as a whole (the core rejects a pushed document with any error); the
 * problems are `deviceList[i].productKey: message` like every structural error. Run by the core through
 * `bootstrap.checkDocument` (bootstrap.ts), in the daemon and in `fieldbridge check --gateway-config`.
 */
import type { DocumentProblem } from "../../config/gateway/parse.js";
import { duplicateIndexes, isObject } from "../../config/gateway/normalize.js";

const HEX8 = /^[0-9A-Fa-f]{8}$/;
const NODE_EUI = /^[A-Za-z0-9]{4,32}$/;

/** ProductIDs compare case-insensitively (they are hex), NodeEuis exactly. */
const pairOf = (d: unknown): string | undefined =>
  isObject(d) && typeof d.productKey === "string" && typeof d.deviceName === "string" ? `${d.productKey.toLowerCase()}/${d.deviceName}` : undefined;

export function checkDocumentDevices(deviceList: readonly unknown[], gateway: { productId: string; nodeEui: string }): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  const own = `${gateway.productId.toLowerCase()}/${gateway.nodeEui}`;
  deviceList.forEach((d, i) => {
    if (!isObject(d)) return; // the schema reports it
    if (typeof d.productKey !== "string" || !HEX8.test(d.productKey)) problems.push({ path: ["deviceList", i, "productKey"], message: "must be an 8-hex ProductID on platform lierda" });
    if (typeof d.deviceName !== "string" || !NODE_EUI.test(d.deviceName)) problems.push({ path: ["deviceList", i, "deviceName"], message: "must be a NodeEui of 4-32 letters/digits on platform lierda" });
    if (pairOf(d) === own) problems.push({ path: ["deviceList", i], message: "is the gateway's own device" });
  });
  for (const [, [first, ...later]] of duplicateIndexes(deviceList, pairOf)) {
    for (const i of later) problems.push({ path: ["deviceList", i], message: `same ProductID and NodeEui as deviceList[${first}]` });
  }
  return problems;
}
