/**
 * The firmware notice of an OTA push or request answer (alink.md 3.19, P24-P25): parsed and checked
 * before anything is downloaded. Pure functions; no I/O.
 */
import { isObject } from "../../core/json.js";

/** Failure steps (P25: steps are strings): upgrade failed, download failed, verification failed, install failed. */
export type FailureStep = "-1" | "-2" | "-3" | "-4";

export type SignMethod = "Md5" | "Sha256";

export interface FirmwareNotice {
  version: string;
  url: string;
  /** Declared size in bytes, when the notice carries a usable one. */
  size?: number;
  signMethod: SignMethod;
  /** Lower-case hex digest the downloaded file must have. */
  digest: string;
}

export type NoticeCheck = { ok: true; notice: FirmwareNotice } | { ok: false; step: FailureStep; reason: string };

const HEX_LENGTH: Record<SignMethod, number> = { Md5: 32, Sha256: 64 };


/** `code` is `"1000"` in pushes and `500` (a number) in the "no upgrade" answer (P24). */
export function otaCode(msg: Record<string, unknown>): string | undefined {
  const code = msg["code"];
  return code === undefined || code === null ? undefined : String(code);
}

function signMethodOf(data: Record<string, unknown>): SignMethod | undefined {
  const raw = data["signMethod"];
  // §4's older notice has only `md5`.
  if (raw === undefined || raw === null || raw === "") return data["md5"] !== undefined ? "Md5" : undefined;
  if (typeof raw !== "string") return undefined;
  const m = raw.toLowerCase().replace(/[^a-z0-9]/g, "");
  return m === "md5" ? "Md5" : m === "sha256" ? "Sha256" : undefined;
}

/**
 * Reads `data` of a code-"1000" message. A notice without a target version or URL fails the upgrade
 * ("-1"); one without a usable checksum fails verification ("-3"): nothing unverifiable is ever installed.
 */
export function parseFirmwareNotice(data: unknown): NoticeCheck {
  if (!isObject(data)) return { ok: false, step: "-1", reason: "the upgrade notice carries no firmware information" };
  const version = data["version"];
  if (typeof version !== "string" || version.trim() === "") return { ok: false, step: "-1", reason: "the upgrade notice has no target version" };
  const url = data["url"];
  if (typeof url !== "string" || url === "") return { ok: false, step: "-1", reason: "the upgrade notice has no firmware URL" };
  const signMethod = signMethodOf(data);
  if (!signMethod) return { ok: false, step: "-3", reason: `unsupported signMethod ${JSON.stringify(data["signMethod"])} (Md5 or Sha256 expected)` };
  const rawSign = data["sign"] ?? (signMethod === "Md5" ? data["md5"] : undefined);
  const digest = typeof rawSign === "string" ? rawSign.trim().toLowerCase() : "";
  if (!new RegExp(`^[0-9a-f]{${HEX_LENGTH[signMethod]}}$`).test(digest)) {
    return { ok: false, step: "-3", reason: `the upgrade notice has no valid ${signMethod} checksum` };
  }
  const rawSize = typeof data["size"] === "string" ? Number(data["size"]) : data["size"];
  const size = typeof rawSize === "number" && Number.isSafeInteger(rawSize) && rawSize > 0 ? rawSize : undefined;
  return { ok: true, notice: { version, url, signMethod, digest, ...(size !== undefined ? { size } : {}) } };
}

/** Hex digests compared case-insensitively (alink.md 3.19). */
export function digestMatches(expected: string, actual: string): boolean {
  return expected.toLowerCase() === actual.toLowerCase();
}

/** Node's hash name for a sign method. */
export function hashName(m: SignMethod): "md5" | "sha256" {
  return m === "Md5" ? "md5" : "sha256";
}

/**
 * Download progress as a step: "1".."99" (100 is reported only once the firmware is installed, so the
 * cloud never sees 100 followed by a failure). Unknown total → "1".
 */
export function downloadStep(received: number, total: number | undefined): number {
  if (!total || total <= 0) return 1;
  return Math.min(99, Math.max(1, Math.floor((received * 100) / total)));
}
