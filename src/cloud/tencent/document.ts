/**
 * The platform's rules for the devices of a gateway config document (tencent.md 5.1, decision 30): every
 * `deviceList[i].productKey` is a ProductId of exactly 10 characters `[A-Z0-9]`, and the gateway's own pair is not
 * a device of its document (its product may still be in `tslList` for self-telemetry, section 7.4). A document that
 * breaks one is invalid as a whole. Run by the core through `bootstrap.checkDocument`, in the daemon and in
 * `fieldbridge check --gateway-config`.
 */
import type { DocumentProblem } from "../../config/gateway/parse.js";
import { isObject } from "../../config/gateway/normalize.js";

const PRODUCT_ID = /^[A-Z0-9]{10}$/;

export function checkDocumentDevices(deviceList: readonly unknown[], gateway: { productId: string; deviceName: string }): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  deviceList.forEach((d, i) => {
    if (!isObject(d)) return; // the schema reports it
    if (typeof d.productKey === "string" && !PRODUCT_ID.test(d.productKey)) {
      problems.push({ path: ["deviceList", i, "productKey"], message: "must be a ProductId of 10 characters A-Z 0-9 on platform tencent" });
    }
    if (d.productKey === gateway.productId && d.deviceName === gateway.deviceName) {
      problems.push({ path: ["deviceList", i], message: "is the gateway itself (its own product belongs in tslList only)" });
    }
  });
  return problems;
}
