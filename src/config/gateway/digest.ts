/**
 * Integrity check of a downloaded gateway config (alink.md 3.15, C3): hash the exact bytes with
 * `digestMethod` (case-insensitive, empty = sha256) and compare with `digest`, given as hex in any
 * letter case or as Base64. An empty digest or an unknown method is a failure, never a pass.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const ALGORITHMS: Record<string, { hash: string; bytes: number }> = {
  md5: { hash: "md5", bytes: 16 },
  sha1: { hash: "sha1", bytes: 20 },
  sha256: { hash: "sha256", bytes: 32 },
  sha384: { hash: "sha384", bytes: 48 },
  sha512: { hash: "sha512", bytes: 64 },
};

export type DigestResult = { ok: true; algorithm: string } | { ok: false; reason: string };

/** `SHA-256`, `sha_256`, `Sha256` → `sha256`; empty → `sha256`. Undefined for an unknown method. */
export function digestAlgorithm(digestMethod: string | undefined | null): string | undefined {
  const key = (digestMethod ?? "").trim().toLowerCase().replace(/[-_\s]/g, "");
  if (key === "") return "sha256";
  return key in ALGORITHMS ? key : undefined;
}

function decodeDigest(digest: string, bytes: number): Buffer | undefined {
  if (/^[0-9a-fA-F]+$/.test(digest) && digest.length === bytes * 2) return Buffer.from(digest, "hex");
  if (/^[A-Za-z0-9+/\-_]+={0,2}$/.test(digest)) {
    const std = digest.replace(/-/g, "+").replace(/_/g, "/");
    const buf = Buffer.from(std, "base64");
    if (buf.length === bytes) return buf;
  }
  return undefined;
}

export function verifyDigest(bytes: Uint8Array, digest: string | undefined | null, digestMethod?: string | null): DigestResult {
  const algorithm = digestAlgorithm(digestMethod);
  if (!algorithm) return { ok: false, reason: `unknown digestMethod ${JSON.stringify(String(digestMethod))}` };
  const wanted = (digest ?? "").trim();
  if (wanted === "") return { ok: false, reason: "the digest is empty" };
  const spec = ALGORITHMS[algorithm]!;
  const expected = decodeDigest(wanted, spec.bytes);
  if (!expected) return { ok: false, reason: `the digest is neither hex nor Base64 of a ${algorithm} value` };
  const actual = createHash(spec.hash).update(bytes).digest();
  if (!timingSafeEqual(actual, expected)) return { ok: false, reason: `${algorithm} digest mismatch` };
  return { ok: true, algorithm };
}
