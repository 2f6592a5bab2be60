/**
 * OPC UA password encryption of the gateway config (alink.md section 5.6): AES-CBC keyed with all bytes
 * of the gateway's DeviceSecret (16/24/32 bytes select AES-128/192/256; never truncated), IV = the first
 * 16 characters of the secret, PKCS#7 padding, Base64. Error messages never contain the secret, the
 * ciphertext or the plaintext.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialError";
  }
}

interface KeyMaterial {
  algorithm: string;
  key: Buffer;
  iv: Buffer;
}

function keyMaterial(secret: string): KeyMaterial {
  const key = Buffer.from(secret, "utf8");
  const algorithm = { 16: "aes-128-cbc", 24: "aes-192-cbc", 32: "aes-256-cbc" }[key.length];
  if (!algorithm) {
    throw new CredentialError(`the gateway DeviceSecret must be 16, 24 or 32 bytes for AES, got ${key.length}`);
  }
  const iv = Buffer.from(secret.substring(0, 16), "utf8");
  if (iv.length !== 16) {
    throw new CredentialError("the first 16 characters of the gateway DeviceSecret must be 16 bytes (ASCII) to form the AES IV");
  }
  return { algorithm, key, iv };
}

// Java's BASE64Encoder wraps lines, so whitespace is allowed; anything else non-Base64 is refused
// (Node's decoder would silently skip it and decrypt garbage).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function encryptOpcuaPassword(plain: string, gatewayDeviceSecret: string): string {
  const { algorithm, key, iv } = keyMaterial(gatewayDeviceSecret);
  const cipher = createCipheriv(algorithm, key, iv);
  return Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]).toString("base64");
}

export function decryptOpcuaPassword(b64: string, gatewayDeviceSecret: string): string {
  const { algorithm, key, iv } = keyMaterial(gatewayDeviceSecret);
  const compact = b64.replace(/\s+/g, "");
  if (compact === "" || !BASE64.test(compact)) throw new CredentialError("the encrypted password is not valid Base64");
  const data = Buffer.from(compact, "base64");
  if (data.length % 16 !== 0) {
    throw new CredentialError(`the encrypted password is ${data.length} bytes, not a whole number of 16-byte AES blocks`);
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv(algorithm, key, iv);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new CredentialError("the password does not decrypt with the gateway DeviceSecret (bad padding: wrong secret or corrupted value)");
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    throw new CredentialError("the decrypted password is not valid UTF-8 (wrong gateway DeviceSecret?)");
  }
}
