/**
 * OTA for the connected device's own firmware (alink.md section 3.19): upgrade pushes, and the inform /
 * progress / request uplinks. A `request` is answered on the same topic: code "1000" with the pending
 * offer, or 500 "none upgrade operation of the device.". Reporting the offered version on `inform`
 * completes the upgrade and withdraws the offer.
 */
import { createHash } from "node:crypto";
import { wire } from "./wire.js";
import { type Core, type Uplink } from "./context.js";
import { splitKey } from "./registry.js";
import { isPlainObject } from "../tsl-check.js";

export interface FirmwareInput {
  version: string;
  body: Buffer | string;
  /** Default "Md5" (the seed's example). */
  signMethod?: "Md5" | "Sha256";
  /** Overrides the computed sign (to test verification failures). */
  sign?: string;
  /** File name on the file server; default `firmware-{version}.bin`. */
  name?: string;
}

export interface FirmwareOffer {
  size: number;
  version: string;
  url: string;
  md5: string;
  sign: string;
  signMethod: "Md5" | "Sha256";
}

export function makeOffer(fw: FirmwareInput, host: (name: string, body: Buffer) => string): FirmwareOffer {
  const body = Buffer.isBuffer(fw.body) ? fw.body : Buffer.from(fw.body, "utf8");
  const md5 = createHash("md5").update(body).digest("hex");
  const signMethod = fw.signMethod ?? "Md5";
  const computed = signMethod === "Md5" ? md5 : createHash("sha256").update(body).digest("hex");
  const url = host(fw.name ?? `firmware-${fw.version}.bin`, body);
  return { size: body.length, version: fw.version, url, md5, sign: fw.sign ?? computed, signMethod };
}

export class OtaDesk {
  /** Pending offers by device key. */
  readonly offers = new Map<string, FirmwareOffer>();

  handle(core: Core, up: Uplink): void {
    const kind = up.scope.rest as "inform" | "progress" | "request";
    const deviceKey = `${up.scope.productKey}/${up.scope.deviceName}`;
    const params = up.msg?.["params"];
    if (!up.msg || up.id === undefined || !isPlainObject(params)) {
      core.reject({ deviceKey, topic: up.topic, code: 460, reason: "OTA messages carry {id, params}" });
      return;
    }
    core.records.add("ota", { deviceKey, kind, params, msgId: String(up.id), time: core.now() });
    if (kind === "inform" && this.offers.get(deviceKey)?.version === params["version"]) this.offers.delete(deviceKey);
    if (kind === "request") {
      const offer = this.offers.get(deviceKey);
      const body = offer
        ? { code: "1000", data: offer, id: up.id, message: "success" }
        : { code: 500, message: "none upgrade operation of the device." };
      core.send(wire.otaRequest(splitKey(deviceKey)), body);
    }
  }
}
