/**
 * Messages of the gateway's own device and of the auth exchange (lierda.md §3.3, §8.1, §8.3, §8.4).
 * The config report never holds a URL or a secret (§8.1).
 */
import type { DeviceIdentity } from "./credentials.js";
import { isHex32, type AuthType } from "./credentials.js";
import { envelopeJson, isObject } from "./envelope.js";

export function authRequest(messageId: number, id: DeviceIdentity, type: AuthType): string {
  const payload = JSON.stringify({ OpenID: id.openId, ProductID: id.productId, NodeEui: id.nodeEui, Type: type });
  return envelopeJson(messageId, 1, payload);
}

export type AuthOutcome =
  | { ok: true; deviceSecret: string }
  /** `code`: the auth reply's Code; `atMax`: retried at the backoff cap; `disabled`: device state `disabled`. */
  | { ok: false; code: number | undefined; reason: string; atMax: boolean; disabled: boolean };

const AUTH_CODES: Record<number, { reason: string; atMax: boolean; disabled?: boolean }> = {
  1: { reason: "platform busy", atMax: false },
  2: { reason: "product not registered (check OpenID/ProductID)", atMax: true },
  4: { reason: "device disabled or NodeEui illegal", atMax: true, disabled: true },
  5: { reason: "auth Type does not match the product's type (lierda.products)", atMax: true },
  6: { reason: "device version does not match the protocol Version", atMax: true },
};

/** The auth reply's Payload → outcome (§3.3). `Code` number or numeric string. */
export function authOutcome(payload: Record<string, unknown>): AuthOutcome {
  const raw = payload["Code"];
  const code = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : undefined;
  if (code === 0) {
    const secret = payload["DeviceSecret"];
    if (isHex32(secret)) return { ok: true, deviceSecret: secret };
    return { ok: false, code, reason: "auth returned a DeviceSecret that is not 32 hex", atMax: true, disabled: false };
  }
  const known = code === undefined ? undefined : AUTH_CODES[code];
  if (known) return { ok: false, code, reason: `auth Code ${code}: ${known.reason}`, atMax: known.atMax, disabled: known.disabled ?? false };
  return { ok: false, code, reason: code === undefined ? "auth reply without a Code" : `auth Code ${code}`, atMax: false, disabled: false };
}

export interface ConfigReportState {
  state: "applied" | "rejected" | "download-failed" | "none";
  /** Digest of the document running now (lowercase hex, "" when none). */
  runningSha256: string;
  errors: string[];
  firmwareVersion: string;
  devices: number;
  devicesOnline: number;
}

/** Payload of `config_report` (HeaderCtrl 14). */
export function configReportPayload(s: ConfigReportState): string {
  const errors = s.errors.slice(0, 20).map((e) => (e.length > 200 ? `${e.slice(0, 197)}...` : e));
  return JSON.stringify({
    Settings: {
      GatewayConfigState: s.state,
      GatewayConfigSha256: s.runningSha256.toLowerCase(),
      GatewayConfigErrors: errors,
      FirmwareVersion: s.firmwareVersion,
      Devices: s.devices,
      DevicesOnline: s.devicesOnline,
    },
  });
}

export type ConfigSettings = { ok: true; url: string; sha256: string } | { ok: false; reason: string };

/** `Settings` of a down_config (§8.1): `GatewayConfigUrl` (https, or http when allowed) and a 64-hex `GatewayConfigSha256`. */
export function checkConfigSettings(raw: unknown, allowHttp: boolean): ConfigSettings {
  let settings = raw;
  if (typeof settings === "string") {
    try {
      settings = JSON.parse(settings);
    } catch {
      return { ok: false, reason: "Settings: a string that is not JSON" };
    }
  }
  if (!isObject(settings)) return { ok: false, reason: "Settings: not an object" };
  const url = settings["GatewayConfigUrl"];
  const sha = settings["GatewayConfigSha256"];
  if (typeof url !== "string" || url === "") return { ok: false, reason: "Settings.GatewayConfigUrl: missing" };
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    return { ok: false, reason: "Settings.GatewayConfigUrl: not a URL" };
  }
  if (scheme !== "https:" && !(scheme === "http:" && allowHttp)) {
    return { ok: false, reason: `Settings.GatewayConfigUrl: ${scheme.replace(":", "")} is not allowed${scheme === "http:" ? " (download.allowHttp)" : ""}` };
  }
  if (typeof sha !== "string" || !/^[0-9A-Fa-f]{64}$/.test(sha)) return { ok: false, reason: "Settings.GatewayConfigSha256: must be 64 hex characters" };
  return { ok: true, url, sha256: sha.toLowerCase() };
}

/** `firmware_report` Payload (§8.4). */
export function firmwareReportPayload(hardVer: string, softVer: string): string {
  return JSON.stringify({ HardVer: hardVer, SoftVer: softVer, Type: 2 });
}

/** `update_time` (§8.3): Payload is an empty string. */
export function updateTimeJson(messageId: number): string {
  return envelopeJson(messageId, 29, '""');
}

/** Clock offset of a time reply: platform time − midpoint of send and receive (§8.3). */
export function clockOffset(platformMs: number, sentMs: number, receivedMs: number): number {
  return Math.round(platformMs - (sentMs + receivedMs) / 2);
}

export interface OtaOffer {
  version: string;
  url: string;
  size?: number;
  md5?: string;
  module?: string;
}

/** An ota_notify Payload → a firmware offer, or the reason it cannot be one (§8.4). */
export function otaOffer(p: Record<string, unknown>): { ok: true; offer: OtaOffer } | { ok: false; reason: string } {
  const url = p["Url"];
  const ver = p["SoftVer"];
  if (typeof url !== "string" || url === "") return { ok: false, reason: "Url missing" };
  if (typeof ver !== "string" || ver === "") return { ok: false, reason: "SoftVer missing" };
  const size = p["SoftSize"];
  const md5 = p["MD5"];
  const mod = p["Module"];
  return {
    ok: true,
    offer: {
      version: ver,
      url,
      ...(typeof size === "number" && Number.isInteger(size) && size > 0 ? { size } : {}),
      ...(typeof md5 === "string" ? { md5 } : md5 !== undefined ? { md5: String(md5) } : {}),
      ...(typeof mod === "string" ? { module: mod } : {}),
    },
  };
}


