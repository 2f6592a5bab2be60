/** Security settings of an OPC UA channel as names, checked before anything is loaded or dialled. */
import type { OpcuaChannelSpec, OpcuaSecurityMode } from "../../config/gateway/model.js";

/** The vendor list (None, Basic128Rsa15, Basic256) plus the current OPC UA policies. */
export const SECURITY_POLICIES = [
  "None",
  "Basic128Rsa15",
  "Basic256",
  "Basic256Sha256",
  "Aes128_Sha256_RsaOaep",
  "Aes256_Sha256_RsaPss",
] as const;

export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number];

export const SECURITY_MODES: readonly OpcuaSecurityMode[] = ["None", "Sign", "SignAndEncrypt"];

const POLICY_URI_PREFIX = "http://opcfoundation.org/UA/SecurityPolicy#";

export function securityPolicyUri(name: SecurityPolicyName): string {
  return POLICY_URI_PREFIX + name;
}

/** OPC UA MessageSecurityMode values (Part 4): the numbers node-opcua uses as well. */
export function messageSecurityModeValue(mode: OpcuaSecurityMode): 1 | 2 | 3 {
  return mode === "None" ? 1 : mode === "Sign" ? 2 : 3;
}

export function isSecurityPolicyName(name: string): name is SecurityPolicyName {
  return (SECURITY_POLICIES as readonly string[]).includes(name);
}

export interface SecuritySettings {
  policy: SecurityPolicyName;
  mode: OpcuaSecurityMode;
  /** True when the server certificate protects something (channel security or an encrypted password). */
  usesServerCertificate: boolean;
  userName?: string;
}

/**
 * Validates the combination. A missing policy means None; messages with security need a real policy and a
 * policy other than None needs a signing mode, because a half-configured channel is almost always a mistake.
 */
export function resolveSecurity(spec: Pick<OpcuaChannelSpec, "securityPolicy" | "securityMode" | "userName">): SecuritySettings {
  const policy = spec.securityPolicy?.trim() ? spec.securityPolicy.trim() : "None";
  if (!isSecurityPolicyName(policy)) {
    throw new Error(`unknown security policy "${policy}" (expected one of ${SECURITY_POLICIES.join(", ")})`);
  }
  const mode = spec.securityMode;
  if (!SECURITY_MODES.includes(mode)) {
    throw new Error(`unknown security mode "${String(mode)}" (expected None, Sign or SignAndEncrypt)`);
  }
  if (mode === "None" && policy !== "None") throw new Error(`security mode None requires policy None, got ${policy}`);
  if (mode !== "None" && policy === "None") throw new Error(`security mode ${mode} requires a security policy other than None`);
  const userName = spec.userName?.trim() ? spec.userName : undefined;
  return { policy, mode, userName, usesServerCertificate: mode !== "None" || userName !== undefined };
}

/**
 * Basic128Rsa15 uses RSA PKCS#1 v1.5 decryption, which Node 20.11+ refuses unless started with
 * `--security-revert=CVE-2023-46809`. Returns a hint for the failure reason when that is missing.
 */
export function rsa15Hint(policy: SecurityPolicyName): string | undefined {
  if (policy !== "Basic128Rsa15") return undefined;
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  if (flags.includes("CVE-2023-46809")) return undefined;
  return "Basic128Rsa15 needs the node option --security-revert=CVE-2023-46809 on this Node version";
}
