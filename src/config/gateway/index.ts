/**
 * The gateway config pipeline (alink.md section 5): download → verify digest → parse and validate →
 * decrypt → diff against the running config → persist the document as the last good config.
 */
import { parseGatewayConfig, type ParseContext, type ParseResult, emptyGatewayConfig } from "./parse.js";

export { parseGatewayConfig, emptyGatewayConfig, hasErrors, type ParseContext, type ParseResult } from "./parse.js";
export { formatProblem, type Problem, type Severity } from "./problems.js";
export { decryptOpcuaPassword, encryptOpcuaPassword, CredentialError } from "./crypto.js";
export { verifyDigest, digestAlgorithm, type DigestResult } from "./digest.js";
export {
  diffGatewayConfig,
  summarizeDiff,
  type GatewayConfigDiff,
  type ChannelChange,
  type DeviceChange,
  type ChangeKind,
  type DeviceChangeReason,
} from "./diff.js";
export { describeGatewayConfig } from "./describe.js";
export { downloadDocument, redactUrl, DownloadError, type DownloadOptions, type DownloadFailure } from "./download.js";
export { writeGatewayConfigAtomic, readPersisted, gatewayConfigPath, GATEWAY_CONFIG_FILE } from "./persist.js";
export { canonicalJson } from "./canonical.js";
export * from "./model.js";

/** Bytes of a downloaded (or persisted) document → config and problems. Bad UTF-8 or JSON is fatal. */
export function loadGatewayDocument(bytes: Uint8Array, ctx: ParseContext): ParseResult {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return fatal("invalid UTF-8");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fatal(`invalid JSON: ${jsonErrorText((err as Error).message, text)}`);
  }
  return parseGatewayConfig(doc, ctx);
}

/** V8's message without its quote of the document (which may hold encrypted passwords), plus line and column. */
function jsonErrorText(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message);
  let reason = message
    .replace(/,\s*".*" is not valid JSON$/s, "")
    .replace(/\s*(?:in JSON )?at position \d+.*$/s, "")
    .replace(/\s*\(line \d+ column \d+\)$/, "");
  if (reason.startsWith("Unexpected token") && /".*" is not valid JSON/s.test(message)) reason = reason.replace(/,.*$/s, "");
  if (!position) return reason;
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${reason} at line ${line} column ${column}`;
}

function fatal(message: string): ParseResult {
  return { config: emptyGatewayConfig(), problems: [{ path: "$", message, severity: "error" }], fatal: true };
}
